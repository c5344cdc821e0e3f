"""Issuing API tokens from the account pages: the password (and code) again first, the token
shown once, never cached, errors in words, and revocation of one's own tokens only."""

from __future__ import annotations

import re

from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.auth.models import ApiToken
from registry.extensions import db


def _expire_reauth(client) -> None:
    with client.session_transaction() as session:
        session["reauth_at"] -= 301  # REAUTH_MAX_AGE_SECONDS is 300


def _issued(page: str) -> str:
    match = re.search(r'<code class="issued-token">([^<]+)</code>', page)
    assert match, page
    return match.group(1)


def test_a_token_is_issued_once_after_a_fresh_password_and_works_on_the_api(client, factory, login):
    user = login("team")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "You have no API tokens." in page.get_data(as_text=True)

    issued = client.post(
        "/account/tokens", data={"name": "nightly export", "expires_in_days": "30", "scopes": "read"}
    )
    html = issued.get_data(as_text=True)
    assert issued.status_code == 201
    assert issued.headers["Cache-Control"] == "no-store"
    clear = _issued(html)
    # Read-only, as asked: reading works, writing is refused.
    headers = {"Authorization": f"Bearer {clear}"}
    assert client.get("/api/v1/pilots", headers=headers).status_code == 200
    assert client.post("/api/v1/pilots", json={}, headers=headers).status_code == 403
    # Listed by name and prefix, never in clear again.
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "nightly export" in listing and clear not in listing and "Read only" in listing
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.name == "nightly export" and token.scopes == "read"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "create", AuditEvent.entity_type == "api_token")
    )
    assert event is not None and event.actor_id == user.id


def test_an_old_sign_in_is_asked_for_the_password_before_a_token_is_issued(client, factory, login):
    user = login("team")
    _expire_reauth(client)
    asked = client.post("/account/tokens", data={"name": "ci", "scopes": "read write"})
    assert asked.status_code == 302 and "/account/confirm-password" in asked.location
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None
    wrong = client.post("/account/confirm-password", data={"password": "not-the-password"})
    assert wrong.status_code == 422
    again = client.post("/account/confirm-password?next=/account/tokens",
                        data={"password": factory.PASSWORD})
    assert again.status_code == 302 and again.location.endswith("/account/tokens")
    issued = client.post("/account/tokens", data={"name": "ci", "scopes": "read write"})
    assert issued.status_code == 201 and _issued(issued.get_data(as_text=True))


def test_an_enrolled_account_gives_its_code_again_too(client, factory, login):
    user = factory.user("team")
    factory.enrol_mfa(user)
    login(user=user)
    _expire_reauth(client)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "your password and a code again" in page
    refused = client.post(
        "/account/confirm-password", data={"password": factory.PASSWORD, "code": "000000"}
    )
    assert refused.status_code == 422
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 302


def test_bad_token_requests_are_named_in_words_and_nothing_is_created(client, factory, login):
    user = login("team")
    for form, field, words in (
        ({"name": "", "scopes": "read"}, "name", "Enter a name for the token"),
        ({"name": "x" * 101, "scopes": "read"}, "name", "up to 100 characters"),
        ({"name": "t", "expires_in_days": "ninety", "scopes": "read"}, "expires_in_days",
         "from 1 to 366"),
        ({"name": "t", "expires_in_days": "400", "scopes": "read"}, "expires_in_days",
         "from 1 to 366"),
        ({"name": "t", "scopes": "write"}, "scopes", "Choose what the token may do"),
    ):
        answer = client.post("/account/tokens", data=form)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422, form
        assert words in html and f'href="#{field}"' in html, form
        # What was typed is kept.
        if form["name"]:
            assert f'value="{form["name"]}"' in html
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None


def test_revoking_takes_a_token_away_at_once_and_only_ones_own(client, factory, login):
    from registry.auth import service

    other = factory.user("team")
    _theirs, _ = service.create_token(other, "theirs", actor=None)
    user = login("team")
    mine, clear = service.create_token(user, "mine", actor=None)
    headers = {"Authorization": f"Bearer {clear}"}
    assert client.get("/api/v1/pilots", headers=headers).status_code == 200
    assert client.post(f"/account/tokens/{_theirs.id}/revoke").status_code == 404
    assert client.get(f"/account/tokens/{_theirs.id}/revoke").status_code == 404
    # The link asks first (the page a browser without JavaScript shows; the dialog's markup).
    asked = client.get(f"/account/tokens/{mine.id}/revoke").get_data(as_text=True)
    assert "Revoke the token “mine”?" in asked and "Yes, revoke this token" in asked
    assert client.get("/api/v1/pilots", headers=headers).status_code == 200
    done = client.post(f"/account/tokens/{mine.id}/revoke")
    assert done.status_code == 303
    assert client.get("/api/v1/pilots", headers=headers).status_code == 401
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "Revoked" in page
    db.session.expire_all()
    assert db.session.get(ApiToken, _theirs.id).revoked_at is None


def test_signed_out_people_are_sent_to_sign_in(client):
    assert client.get("/account/tokens").status_code == 302
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 302


def test_a_single_sign_on_session_issues_tokens_only_soon_after_signing_in(client, login):
    """Single sign-on has no password here to ask for: a sign-in within the window stands in."""
    user = login("team")
    with client.session_transaction() as session:
        session["auth_method"] = "oidc"
    assert client.post("/account/tokens", data={"name": "sso", "scopes": "read"}).status_code == 201
    with client.session_transaction() as session:
        session["signed_in_at"] -= 301
    late = client.post("/account/tokens", data={"name": "late", "scopes": "read"})
    assert late.status_code == 403 and "sign out and sign in again" in late.get_data(as_text=True)
    names = {t.name for t in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))}
    assert names == {"sso"}
