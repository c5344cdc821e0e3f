"""Policy versions over the API: drafts, path-named errors, diffs, publishing, immutability."""

import pytest
import yaml
from sqlalchemy import func, select

from policies import library_yaml
from policies.models import PolicyVersion
from registry.extensions import db


@pytest.fixture
def admin_headers(factory):
    return factory.headers(factory.user("admin"))


def draft_body(version="1.1.0", **changes):
    document = yaml.safe_load(library_yaml())
    document["version"] = version
    document.update(changes)
    return yaml.safe_dump(document, sort_keys=False)


def test_a_fresh_registry_has_the_shipped_policy_active(client, admin_headers):
    active = client.get("/api/v1/policies/active", headers=admin_headers).get_json()
    assert active["status"] == "active" and active["version"] == "1.0.0"
    assert "questionnaire" in active["body"]


def test_upload_diff_publish_and_immutability(client, admin_headers):
    client.get("/api/v1/policies/active", headers=admin_headers)
    body = draft_body().replace("max_age_days: 180", "max_age_days: 120", 1)
    created = client.post(
        "/api/v1/policies",
        json={"body": body, "notes": "Tighter bias checks"},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()
    assert draft["status"] == "draft"
    diff = client.get(f"/api/v1/policies/{draft['id']}/diff", headers=admin_headers).get_json()
    assert "-version: 1.0.0" in diff["diff"] and "+version: 1.1.0" in diff["diff"]
    assert diff["against"].endswith("v1.0.0")

    published = client.post(f"/api/v1/policies/{draft['id']}/publish", headers=admin_headers)
    assert published.status_code == 200 and published.get_json()["status"] == "active"
    statuses = [
        v["status"] for v in client.get("/api/v1/policies", headers=admin_headers).get_json()
    ]
    assert statuses.count("active") == 1

    edit = client.put(
        f"/api/v1/policies/{draft['id']}", json={"body": draft_body("1.1.1")}, headers=admin_headers
    )
    assert edit.status_code == 409
    assert (
        client.delete(f"/api/v1/policies/{draft['id']}", headers=admin_headers).status_code == 409
    )
    again = client.post(f"/api/v1/policies/{draft['id']}/publish", headers=admin_headers)
    assert again.status_code == 409
    stored = db.session.get(PolicyVersion, draft["id"])
    assert stored.body == body


def test_invalid_policy_yaml_names_the_path(client, admin_headers):
    document = yaml.safe_load(library_yaml())
    document["version"] = "2.0.0"
    document["requirements"]["III"][1]["max_age_days"] = -5
    response = client.post(
        "/api/v1/policies", json={"body": yaml.safe_dump(document)}, headers=admin_headers
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "requirements.III[1].max_age_days" in errors
    broken = client.post(
        "/api/v1/policies", json={"body": "name: [unclosed"}, headers=admin_headers
    )
    assert broken.status_code == 422 and broken.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(PolicyVersion)) <= 1


def test_duplicate_version_is_rejected(client, admin_headers):
    client.get("/api/v1/policies/active", headers=admin_headers)
    response = client.post("/api/v1/policies", json={"body": library_yaml()}, headers=admin_headers)
    assert response.status_code == 422 and "version" in response.get_json()["errors"]


def test_compliance_records_the_policy_version_it_used(client, factory, admin_headers):
    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    first = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    assert first == client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    draft = client.post(
        "/api/v1/policies", json={"body": draft_body("1.2.0")}, headers=admin_headers
    ).get_json()
    client.post(f"/api/v1/policies/{draft['id']}/publish", headers=admin_headers)
    second = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    assert first["policy_version"].endswith("v1.0.0") and second["policy_version"].endswith(
        "v1.2.0"
    )
