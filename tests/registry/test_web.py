"""The HTML pages: sign-in, the pilot list and forms, data sources and user admin."""

import re

import pytest

from registry.catalog.models import Pilot
from registry.extensions import db


def test_pages_need_sign_in(client):
    response = client.get("/pilots")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_rejects_bad_password_and_logout_ends_the_session(client, factory):
    user = factory.user("team")
    bad = client.post("/login", data={"email": user.email, "password": "wrong-password-123"})
    assert bad.status_code == 422 and "not right" in bad.get_data(as_text=True)
    assert (
        client.post("/login", data={"email": user.email, "password": factory.PASSWORD}).status_code
        == 302
    )
    assert client.get("/pilots").status_code == 200
    client.post("/logout")
    assert client.get("/pilots").status_code == 302


def test_logout_invalidates_a_copied_session_cookie(app, factory):
    user = factory.user("team")
    first = app.test_client()
    first.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    cookie = first.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/pilots").status_code == 200
    first.post("/logout")
    assert thief.get("/pilots").status_code == 302


def test_pilot_list_filters_search_and_keeps_filters_in_pagination(client, factory, login):
    user = login("team")
    for n in range(30):
        factory.pilot(user, name=f"Routing model {n}", agency="MCG")
    factory.pilot(user, name="Benefits screener", agency="HSD")
    page = client.get("/pilots?q=routing&agency=MCG")
    html = page.get_data(as_text=True)
    assert "Routing model" in html and "Benefits screener" not in html
    assert "Showing 1–25 of 30" in html
    next_link = re.search(r'href="([^"]+)" rel="next"', html).group(1)
    assert "q=routing" in next_link and "agency=MCG" in next_link and "page=2" in next_link
    empty = client.get("/pilots?q=zzzz").get_data(as_text=True)
    assert "No pilot matches these filters" in empty


def test_create_form_shows_errors_next_to_fields(client, login):
    login("team")
    response = client.post(
        "/pilots/new",
        data={
            "name": "",
            "purpose": "",
            "agency": "MCG",
            "owner_email": "ghost@agency.gov",
            "stage": "pilot",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and 'aria-describedby="name-error"' in html
    assert 'aria-invalid="true"' in html
    assert "owner_email-error" in html
    assert db.session.query(Pilot).count() == 0


def test_create_and_edit_a_pilot_through_the_forms(client, factory, login):
    user = login("team")
    source = factory.data_source(user, name="Call recordings")
    response = client.post(
        "/pilots/new",
        data={
            "name": "Call routing",
            "purpose": "Routes calls.",
            "agency": "MCG",
            "owner_email": user.email,
            "stage": "pre_deployment",
            "data_source_ids": [str(source.id)],
            "demographic_features": ["c) Age"],
            "is_high_impact": "Not High-impact",
        },
    )
    assert response.status_code == 302
    pilot = db.session.query(Pilot).one()
    assert pilot.data_source_ids == [source.id] and pilot.demographic_features == ["c) Age"]
    detail = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Call recordings" in detail and "Edit pilot" in detail

    form = client.get(f"/pilots/{pilot.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    saved = client.post(
        f"/pilots/{pilot.id}/edit",
        data={
            "version": version,
            "name": "Call routing v2",
            "purpose": "Routes calls.",
            "agency": "MCG",
            "owner_email": user.email,
            "stage": "pre_deployment",
        },
    )
    assert saved.status_code == 302
    stale = client.post(
        f"/pilots/{pilot.id}/edit",
        data={
            "version": version,
            "name": "Lost update",
            "purpose": "Routes calls.",
            "agency": "MCG",
            "owner_email": user.email,
            "stage": "pre_deployment",
        },
    )
    assert stale.status_code == 412
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).name == "Call routing v2"


def test_board_sees_no_edit_button_and_gets_403_on_the_edit_url(client, factory, login):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    login("board")
    detail = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Edit pilot" not in detail and "Register a pilot" not in client.get("/pilots").get_data(
        as_text=True
    )
    forbidden = client.get(f"/pilots/{pilot.id}/edit")
    assert forbidden.status_code == 403 and "<html" in forbidden.get_data(as_text=True)


def test_missing_pages_get_the_styled_404(client, login):
    login("team")
    response = client.get("/pilots/424242")
    assert response.status_code == 404 and "<h1>Page not found</h1>" in response.get_data(
        as_text=True
    )


def test_user_admin(client, factory, login):
    login("admin")
    created = client.post(
        "/users/new",
        data={
            "email": "new@agency.gov",
            "name": "New Person",
            "role": "board",
            "password": "a-long-enough-password",
        },
    )
    assert created.status_code == 302
    listing = client.get("/users").get_data(as_text=True)
    assert "new@agency.gov" in listing
    weak = client.post(
        "/users/new",
        data={"email": "weak@agency.gov", "name": "Weak", "role": "team", "password": "short"},
    )
    assert weak.status_code == 422 and "password-error" in weak.get_data(as_text=True)


def test_team_cannot_reach_user_admin(client, login):
    login("team")
    assert client.get("/users").status_code == 403


def test_data_source_forms(client, login):
    login("team")
    created = client.post(
        "/data-sources/new", data={"name": "Hotline reports", "contains_pii": "on"}
    )
    assert created.status_code == 302
    html = client.get("/data-sources").get_data(as_text=True)
    assert "Hotline reports" in html and "Personally identifiable information" in html
    bad = client.post("/data-sources/new", data={"name": "", "provenance_url": "not a url"})
    assert bad.status_code == 422 and "provenance_url-error" in bad.get_data(as_text=True)


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_forms_without_a_csrf_token_are_refused(csrf_app, factory):
    user = factory.user("team")
    client = csrf_app.test_client()
    refused = client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    assert refused.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    accepted = client.post(
        "/login", data={"email": user.email, "password": factory.PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302
    assert client.post("/pilots/new", data={"name": "x"}).status_code == 400


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
