"""API tokens: issued once through the API, listed without the secret, revoked, expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.auth.models import ApiToken
from registry.extensions import db


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_issue_list_and_use_a_token(client, factory):
    user = factory.user("team")
    headers = factory.headers(user)
    response = client.post(
        "/api/v1/tokens", json={"name": "laptop", "expires_in_days": 30}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    issued = response.get_json()
    clear = issued["token"]
    assert clear.startswith("air_") and clear.startswith(issued["prefix"])
    assert issued["state"] == "active" and issued["user_email"] == user.email
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert client.get("/api/v1/pilots", headers=_bearer(clear)).status_code == 200

    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    assert [t["name"] for t in listed] == ["laptop", "test"]
    assert all("token" not in t for t in listed)
    assert clear not in client.get("/api/v1/tokens", headers=headers).get_data(as_text=True)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "api_token").order_by(AuditEvent.seq)
    ).all()[-1]
    assert event.action == "create" and clear not in str(event.changes)


def test_tokens_issued_through_the_api_expire_by_default(client, factory):
    user = factory.user("board")
    issued = client.post(
        "/api/v1/tokens", json={"name": "default"}, headers=factory.headers(user)
    ).get_json()
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)


def test_invalid_token_requests_are_422(client, factory):
    headers = factory.headers(factory.user("team"))
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "expires_in_days": 0},
        {"name": "ok", "expires_in_days": 367},
        {"name": "ok", "expires_in_days": "30"},
    ):
        response = client.post("/api/v1/tokens", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.get_json()["errors"]


def test_revoking_your_own_token_stops_it_at_once(client, factory):
    user = factory.user("team")
    headers = factory.headers(user)
    issued = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers).get_json()
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=headers).status_code == 204
    response = client.get("/api/v1/pilots", headers=_bearer(issued["token"]))
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]
    listed = {t["id"]: t for t in client.get("/api/v1/tokens", headers=headers).get_json()}
    assert listed[issued["id"]]["state"] == "revoked"
    # Revoking again changes nothing.
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=headers).status_code == 204
    revocations = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "api_token", AuditEvent.action == "revoke"
        )
    ).all()
    assert len(revocations) == 1 and revocations[0].actor == user.email


def test_a_token_can_revoke_itself(client, factory):
    user = factory.user("team")
    token = factory.token(user)
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id))
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(token)).status_code == 204
    assert client.get("/api/v1/tokens", headers=_bearer(token)).status_code == 401


def test_only_an_admin_may_revoke_someone_elses_token(client, factory):
    owner, other, admin = factory.user("team"), factory.user("caio"), factory.user("admin")
    victim = factory.token(owner)
    victim_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id))
    response = client.delete(f"/api/v1/tokens/{victim_id}", headers=factory.headers(other))
    assert response.status_code == 403
    assert client.get("/api/v1/pilots", headers=_bearer(victim)).status_code == 200
    admin_headers = factory.headers(admin)
    assert client.delete(f"/api/v1/tokens/{victim_id}", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/pilots", headers=_bearer(victim)).status_code == 401
    assert client.delete("/api/v1/tokens/999999", headers=admin_headers).status_code == 404


def test_expired_tokens_are_refused_and_listed_as_expired(client, factory):
    user = factory.user("team")
    headers = factory.headers(user)
    issued = client.post(
        "/api/v1/tokens", json={"name": "short", "expires_in_days": 1}, headers=headers
    ).get_json()
    row = db.session.get(ApiToken, issued["id"])
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/pilots", headers=_bearer(issued["token"]))
    assert response.status_code == 401 and "expired" in response.get_json()["message"]
    listed = {t["id"]: t for t in client.get("/api/v1/tokens", headers=headers).get_json()}
    assert listed[issued["id"]]["state"] == "expired"


def test_tokens_revoke_and_list_commands(client, factory, runner):
    user = factory.user("team")
    token = factory.token(user)
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id))
    result = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert result.exit_code == 0, result.output
    assert f"revoked token {token_id}" in result.output and user.email in result.output
    assert client.get("/api/v1/pilots", headers=_bearer(token)).status_code == 401
    listed = runner.invoke(args=["tokens", "list", user.email])
    assert listed.exit_code == 0 and f"{token_id}\trevoked\ttest" in listed.output
    missing = runner.invoke(args=["tokens", "revoke", "999999"])
    assert missing.exit_code == 2 and "no API token 999999" in missing.output
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.actor) == ("revoke", "system")


# ---- issue #13 item 17: scopes, revocation on password change or deactivation, expiry ------


def test_a_read_only_token_reads_and_gets_403_on_every_write(app, client, factory):
    from registry.auth.api_auth import is_public_api_path

    owner = factory.user("admin")
    pilot = factory.pilot(owner)
    issued = client.post(
        "/api/v1/tokens",
        json={"name": "dashboard", "scopes": ["read"]},
        headers=factory.headers(owner),
    ).get_json()
    assert issued["scopes"] == ["read"]
    read_only = _bearer(issued["token"])
    assert client.get(f"/api/v1/pilots/{pilot.id}", headers=read_only).status_code == 200
    assert client.head("/api/v1/pilots", headers=read_only).status_code == 200
    before = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    writes = 0
    # Every write route of the API, with a body that would otherwise be accepted or not.
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or is_public_api_path(rule.rule):
            continue
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            url = rule.rule
            for argument in rule.arguments:
                url = url.replace(f"<int:{argument}>", str(pilot.id))
                url = url.replace(f"<{argument}>", "x")
                url = url.replace(f"<path:{argument}>", "x")
            response = client.open(url, method=method, json={"name": "x"}, headers=read_only)
            assert response.status_code == 403, (method, url, response.status_code)
            assert "read-only" in response.get_json()["message"]
            writes += 1
    assert writes > 20
    after = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert after == before
    # The same user's full token writes.
    response = client.post(
        "/api/v1/data-sources", json={"name": "Written"}, headers=factory.headers(owner)
    )
    assert response.status_code == 201


def test_scopes_default_to_read_write_and_bad_scopes_are_422(client, factory):
    headers = factory.headers(factory.user("team"))
    issued = client.post("/api/v1/tokens", json={"name": "full"}, headers=headers).get_json()
    assert issued["scopes"] == ["read", "write"]
    both = client.post(
        "/api/v1/tokens", json={"name": "both", "scopes": ["write", "read"]}, headers=headers
    ).get_json()
    assert both["scopes"] == ["read", "write"]
    for scopes in (["write"], [], ["admin"], "read", ["read", "read", "write"]):
        response = client.post(
            "/api/v1/tokens", json={"name": "bad", "scopes": scopes}, headers=headers
        )
        assert response.status_code == 422, scopes
        assert "scopes" in response.get_json()["errors"], scopes


def test_a_password_change_or_deactivation_revokes_every_token(client, factory):
    from registry.auth import service

    admin = factory.user("admin")
    user = factory.user("team")
    tokens = [factory.token(user), factory.token(user)]
    for token in tokens:
        assert client.get("/api/v1/pilots", headers=_bearer(token)).status_code == 200
    service.update_user(user, {"password": "a-new-long-passphrase-2026"}, admin)
    for token in tokens:
        response = client.get("/api/v1/pilots", headers=_bearer(token))
        assert response.status_code == 401 and "revoked" in response.get_json()["message"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "user").order_by(AuditEvent.seq)
    ).all()[-1]
    assert len(event.changes["api_tokens_revoked"]) == 2

    other = factory.user("team")
    token = factory.token(other)
    service.update_user(other, {"active": False}, admin)
    service.update_user(other, {"active": True}, admin)  # reactivation does not revive it
    response = client.get("/api/v1/pilots", headers=_bearer(token))
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]
    # A change of name alone revokes nothing.
    kept = factory.token(admin)
    service.update_user(admin, {"name": "Renamed Admin"}, admin)
    assert client.get("/api/v1/pilots", headers=_bearer(kept)).status_code == 200


def test_a_password_change_through_the_users_page_revokes_tokens(client, factory, login):
    login("admin")
    user = factory.user("team")
    token = factory.token(user)
    response = client.post(
        f"/users/{user.id}/edit",
        data={
            "name": user.name,
            "role": user.role,
            "active": "on",
            "password": "another-long-passphrase-26",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert client.get("/api/v1/pilots", headers=_bearer(token)).status_code == 401


def test_cli_tokens_expire_by_default_and_the_option_overrides(app, factory, runner):
    user = factory.user("team")
    result = runner.invoke(args=["tokens", "create", user.email])
    assert result.exit_code == 0, result.output
    clear = result.output.strip().splitlines()[-1]
    assert clear.startswith("air_") and " " not in clear
    row = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert row.scopes == "read write"

    result = runner.invoke(
        args=["tokens", "create", user.email, "--expires-in-days", "7", "--read-only"]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    row = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert row.scopes == "read"

    app.config["TOKEN_DEFAULT_EXPIRY_DAYS"] = 30
    runner.invoke(args=["tokens", "create", user.email])
    db.session.expire_all()
    row = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
