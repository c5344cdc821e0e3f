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
