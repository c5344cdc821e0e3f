"""OpenID Connect sign-in against a real provider (oidc-provider on loopback), over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from registry.auth.models import User
from registry.extensions import db
from tests.oidc.conftest import APP_BASE, CLIENT_ID, sign_in_over_http


def _users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def _refusals() -> list:
    from registry.audit.models import AuditEvent

    return list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "refuse_sign_in"))
    )


@pytest.fixture
def client(oidc_app):
    return oidc_app.test_client()


@pytest.fixture
def ctx(oidc_app):
    with oidc_app.app_context():
        yield


def test_sign_in_provisions_the_user_just_in_time_with_mapped_roles(client, ctx, provider):
    provider.set_accounts(
        {"alice": {"email": "Alice@Agency.gov", "name": "Alice Analyst",
                   "groups": ["registry-caios", "unrelated"]}}
    )
    start = client.get("/login/oidc")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(provider.issuer)
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{APP_BASE}/login/oidc/callback"]

    answer, _ = sign_in_over_http(client, "alice")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    user = db.session.scalar(select(User).where(User.email == "alice@agency.gov"))
    assert user.name == "Alice Analyst" and user.role == "caio" and user.password_hash is None
    assert user.oidc_subject == f"{provider.issuer}|alice"
    assert [a.role for a in user.assignments] == ["caio"]
    home = client.get("/")
    assert home.status_code == 200 and "Alice Analyst" in home.get_data(as_text=True)
    # A second sign-in finds the same account.
    client.post("/logout")
    assert sign_in_over_http(client, "alice")[0].status_code == 302
    assert _users() == 1


def test_a_user_in_no_mapped_group_is_refused_and_nothing_is_created(client, ctx, provider):
    provider.set_accounts(
        {"mallory": {"email": "mallory@agency.gov", "name": "Mallory", "groups": ["other"]}}
    )
    before = _users()
    answer, _ = sign_in_over_http(client, "mallory")
    assert answer.status_code == 403
    assert "not in any group that has a role here" in answer.get_data(as_text=True)
    assert _users() == before
    assert [(e.entity_id, e.changes["reason"]) for e in _refusals()] == [
        ("mallory@agency.gov", "claims:no_role")
    ]
    assert client.get("/pilots").status_code == 302  # not signed in


def test_a_role_change_at_the_provider_takes_effect_at_the_next_sign_in(client, ctx, provider):
    provider.set_accounts(
        {"bob": {"email": "bob@agency.gov", "name": "Bob", "groups": ["registry-teams"]}}
    )
    assert sign_in_over_http(client, "bob")[0].status_code == 302
    assert client.get("/dashboard").status_code == 403
    provider.set_accounts(
        {"bob": {"email": "bob@agency.gov", "name": "Bob", "groups": ["registry-board"]}}
    )
    # Still a team member until the next sign-in.
    assert client.get("/dashboard").status_code == 403
    client.post("/logout")
    assert sign_in_over_http(client, "bob")[0].status_code == 302
    assert client.get("/dashboard").status_code == 200
    user = db.session.scalar(select(User).where(User.email == "bob@agency.gov"))
    db.session.refresh(user)
    assert user.role == "board" and [a.role for a in user.assignments] == ["board"]


def test_a_replayed_state_is_refused(client, ctx, provider):
    provider.set_accounts(
        {"carol": {"email": "carol@agency.gov", "name": "Carol", "groups": ["registry-teams"]}}
    )
    answer, callback = sign_in_over_http(client, "carol")
    assert answer.status_code == 302
    client.post("/logout")
    parts = urlsplit(callback)
    replay = client.get(f"{parts.path}?{parts.query}")
    assert replay.status_code == 400
    assert "already used" in replay.get_data(as_text=True)
    assert client.get("/pilots").status_code == 302
    assert _refusals()[-1].changes["reason"].startswith("oauth:")


def test_a_foreign_state_is_refused(client, ctx, provider):
    """A callback started in another browser (another session) is refused."""
    provider.set_accounts(
        {"dave": {"email": "dave@agency.gov", "name": "Dave", "groups": ["registry-teams"]}}
    )
    other = client.application.test_client()
    start = other.get("/login/oidc")
    from tests.oidc.conftest import follow_provider

    back = follow_provider(start.headers["Location"], "dave", requests.Session())
    parts = urlsplit(back)
    answer = client.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 400
    assert _users() == 0


def test_sign_out_ends_the_provider_session_too(client, ctx, provider):
    provider.set_accounts(
        {"erin": {"email": "erin@agency.gov", "name": "Erin", "groups": ["registry-teams"]}}
    )
    assert sign_in_over_http(client, "erin")[0].status_code == 302
    out = client.post("/logout")
    assert out.status_code == 302
    location = out.headers["Location"]
    assert location.startswith(f"{provider.issuer}/session/end")
    query = parse_qs(urlsplit(location).query)
    assert query["post_logout_redirect_uri"] == [f"{APP_BASE}/login"]
    assert query["id_token_hint"][0].count(".") == 2
    # The provider accepts the logout request (it shows its confirmation page).
    assert requests.get(location, timeout=10).status_code == 200
    from registry.audit.models import AuditEvent

    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sign_out"))


def test_local_login_off_refuses_passwords_except_the_break_glass_admin(
    database_uri, tmp_path, provider
):
    from tests.oidc.conftest import dispose, make_app, oidc_config

    app = make_app(
        database_uri,
        tmp_path,
        oidc_config(provider.issuer, LOCAL_LOGIN=False, LOCAL_LOGIN_BREAK_GLASS="root@agency.gov"),
    )
    try:
        with app.app_context():
            from tests.factories import Factory

            factory = Factory(app)
            factory.user("admin", email="root@agency.gov")
            factory.user("caio", email="caio@agency.gov")
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            assert 'id="sign-in-oidc"' in page and "Emergency administrator sign-in" in page
            refused = client.post(
                "/login", data={"email": "caio@agency.gov", "password": factory.PASSWORD}
            )
            assert refused.status_code == 403 and "turned off" in refused.get_data(as_text=True)
            assert client.get("/pilots").status_code == 302
            assert _refusals()[-1].changes == {"method": "password", "reason": "local_login_off"}
            allowed = client.post(
                "/login", data={"email": "root@agency.gov", "password": factory.PASSWORD}
            )
            assert allowed.status_code == 302 and client.get("/pilots").status_code == 200
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("wrong_audience", "id_token:invalid_claim"),
        ("bad_signature", "id_token:bad_signature"),
        ("expired", "id_token:expired_token"),
    ],
)
def test_bad_id_tokens_are_refused_and_audited(forged_app, forging_provider, fault, code):
    forging_provider.set_accounts(
        {"alice": {"email": "alice@agency.gov", "name": "Alice", "groups": ["registry-admins"]}}
    )
    client = forged_app.test_client()
    with forged_app.app_context():
        # The same provider with no fault signs in: the refusals below are the faults'.
        forging_provider.set_fault("none")
        answer, _ = sign_in_over_http(client, None)
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        client.post("/logout")
        db.session.execute(User.__table__.delete().where(User.email == "alice@agency.gov"))
        db.session.commit()

        forging_provider.set_fault(fault)
        answer, _ = sign_in_over_http(client, None)
        assert answer.status_code == 401, answer.get_data(as_text=True)[:300]
        assert "could not be verified" in answer.get_data(as_text=True)
        assert _users() == 0
        assert client.get("/pilots").status_code == 302
        assert _refusals()[-1].changes == {"method": "oidc", "reason": code}
