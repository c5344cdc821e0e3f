"""SCIM 2.0 provisioning at /scim/v2/Users with a token from `flask scim-token create`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.auth.models import ApiToken, User
from registry.extensions import db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim_headers(runner):
    result = runner.invoke(args=["scim-token", "create", "--name", "entra"])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def _new(client, headers, user_name="pat@agency.gov", **extra):
    body = {"schemas": [USER], "userName": user_name, "name": {"givenName": "Pat",
            "familyName": "Doe"}, "externalId": f"ext-{user_name}", "active": True, **extra}
    return client.post("/scim/v2/Users", json=body, headers=headers)


def test_create_get_and_filter_by_user_name(client, factory, scim_headers):
    created = _new(client, scim_headers)
    assert created.status_code == 201, created.get_json()
    assert created.mimetype == "application/scim+json"
    resource = created.get_json()
    assert resource["userName"] == "pat@agency.gov" and resource["active"] is True
    assert resource["name"]["formatted"] == "Pat Doe" and resource["externalId"] == "ext-pat@agency.gov"
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{resource['id']}")
    got = client.get(f"/scim/v2/Users/{resource['id']}", headers=scim_headers)
    assert got.status_code == 200 and got.get_json()["id"] == resource["id"]
    _new(client, scim_headers, "other@agency.gov")
    listed = client.get('/scim/v2/Users?filter=userName eq "Pat@agency.gov"', headers=scim_headers)
    body = listed.get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 1 and body["Resources"][0]["userName"] == "pat@agency.gov"
    user = db.session.get(User, int(resource["id"]))
    assert user.role == "team" and user.password_hash is None


def test_deactivating_by_scim_ends_sessions_and_revokes_api_tokens_at_once(
    client, app, factory, scim_headers
):
    user = factory.user("team")
    token = factory.token(user)
    browser = app.test_client()
    assert browser.post("/login", data={"email": user.email,
                                         "password": factory.PASSWORD}).status_code == 302
    assert browser.get("/pilots").status_code == 200
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/pilots", headers=api).status_code == 200
    pilot = factory.pilot(user)

    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                  "value": False}]}
    answer = client.patch(f"/scim/v2/Users/{user.id}", json=patch, headers=scim_headers)
    assert answer.status_code == 200 and answer.get_json()["active"] is False
    assert browser.get("/pilots").status_code == 302
    assert client.get("/api/v1/pilots", headers=api).status_code == 401
    db.session.expire_all()
    assert all(t.revoked_at is not None for t in db.session.scalars(select(ApiToken)))
    # History and authorship stay.
    from registry.catalog import service as catalog

    assert catalog.get_pilot(pilot.id).owner_id == user.id
    # Entra ID's shape: value object, string boolean.
    again = {"schemas": [PATCH], "Operations": [{"op": "Replace", "value": {"active": "True"}}]}
    assert client.patch(f"/scim/v2/Users/{user.id}", json=again,
                        headers=scim_headers).get_json()["active"] is True


def test_an_administrator_deactivating_a_user_revokes_their_tokens(client, factory, login):
    user = factory.user("team")
    token = factory.token(user)
    login("admin")
    answer = client.post(f"/users/{user.id}/edit", data={"name": user.name, "role": "team"})
    assert answer.status_code == 302
    response = client.get("/api/v1/pilots", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_delete_deprovisions_but_keeps_the_history(client, factory, scim_headers):
    from registry.audit.models import AuditEvent

    resource = _new(client, scim_headers).get_json()
    deleted = client.delete(f"/scim/v2/Users/{resource['id']}", headers=scim_headers)
    assert deleted.status_code == 204
    assert client.get(f"/scim/v2/Users/{resource['id']}", headers=scim_headers).status_code == 404
    user = db.session.get(User, int(resource["id"]))
    assert user is not None and not user.active and user.deleted_at is not None
    actions = [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "user",
                                 AuditEvent.entity_id == resource["id"]).order_by(AuditEvent.seq))]
    assert actions == ["create", "provision", "deactivate", "deprovision"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "scim_type"),
    [
        ("POST", "/scim/v2/Users", {"userName": "x@agency.gov"}, 400, "invalidSyntax"),
        ("POST", "/scim/v2/Users", {"schemas": [USER]}, 400, "invalidValue"),
        ("POST", "/scim/v2/Users", {"schemas": [USER], "userName": "not an email"}, 400,
         "invalidValue"),
        ("POST", "/scim/v2/Users", {"schemas": [USER], "userName": "a@agency.gov",
                                    "active": "maybe"}, 400, "invalidValue"),
        ("GET", '/scim/v2/Users?filter=name co "x"', None, 400, "invalidFilter"),
        ("PATCH", "/scim/v2/Users/{id}", {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "userName", "value": "y@agency.gov"}]}, 400, "mutability"),
        ("PATCH", "/scim/v2/Users/{id}", {"Operations": []}, 400, "invalidSyntax"),
        ("GET", "/scim/v2/Users/999999", None, 404, None),
    ],
)
def test_bad_requests_get_the_scim_error_schema_and_change_nothing(
    client, factory, scim_headers, method, path, body, status, scim_type
):
    existing = _new(client, scim_headers, "keep@agency.gov").get_json()
    count = db.session.scalar(select(db.func.count()).select_from(User))
    answer = client.open(path.format(id=existing["id"]), method=method, json=body,
                         headers=scim_headers)
    assert answer.status_code == status
    error = answer.get_json()
    assert error["schemas"] == [ERROR] and error["status"] == str(status) and error["detail"]
    assert error.get("scimType") == scim_type
    assert db.session.scalar(select(db.func.count()).select_from(User)) == count
    assert client.get(f"/scim/v2/Users/{existing['id']}",
                      headers=scim_headers).get_json()["userName"] == "keep@agency.gov"


def test_duplicates_get_409_uniqueness(client, scim_headers):
    assert _new(client, scim_headers).status_code == 201
    again = _new(client, scim_headers)
    assert again.status_code == 409 and again.get_json()["scimType"] == "uniqueness"


def test_scim_needs_its_own_token(client, factory, runner):
    user = factory.user("admin")
    api_token = factory.token(user)
    for headers in ({}, {"Authorization": f"Bearer {api_token}"},
                    {"Authorization": "Bearer scim_nope"}):
        answer = client.get("/scim/v2/Users", headers=headers)
        assert answer.status_code == 401 and answer.get_json()["schemas"] == [ERROR]
    result = runner.invoke(args=["scim-token", "create"])
    clear = result.output.strip().splitlines()[-1]
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {clear}"}).status_code == 200
    assert runner.invoke(args=["scim-token", "revoke", "1"]).exit_code == 0
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {clear}"}).status_code == 401
