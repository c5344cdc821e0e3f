"""The pilot and data-source API: CRUD, filters, pagination, ETags and validation."""

import json

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.catalog.models import Pilot
from registry.extensions import db


@pytest.fixture
def team(factory):
    return factory.user("team")


@pytest.fixture
def headers(factory, team):
    return factory.headers(team)


def valid_pilot(owner, **extra):
    body = {
        "name": "Permit status chatbot",
        "purpose": "Answers questions about permit status.",
        "agency": "MCG",
        "owner_email": owner.email,
        "stage": "pre_deployment",
    }
    body.update(extra)
    return body


def count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_returns_the_pilot_and_makes_the_creator_a_team_member(
    client, factory, team, headers
):
    owner = factory.user("team")
    source = factory.data_source(team)
    body = valid_pilot(
        owner,
        topic_area="Service Delivery",
        classification="Generative AI",
        contracting_usage="Vendor Purchased",
        is_withheld="No",
        is_high_impact="High-impact",
        HI_justification="Affects access to permits.",
        demographic_features=["c) Age"],
        has_pii="Yes",
        data_source_ids=[source.id],
    )
    response = client.post("/api/v1/pilots", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    pilot = response.get_json()
    assert pilot["review_status"] == "draft"
    assert pilot["risk_tier"] is None and pilot["risk_tier_source"] is None
    assert pilot["owner_email"] == owner.email
    assert team.email in pilot["team_member_emails"]
    assert pilot["HI_justification"] == "Affects access to permits."
    assert pilot["data_sources"][0]["id"] == source.id
    assert pilot["data_sources"][0]["sensitivity_flags"] == ["contains_pii"]
    for key in ("id", "name", "stage", "next_review_at", "created_at", "updated_at"):
        assert key in pilot


def test_read_update_with_etag_and_delete(client, team, headers):
    pilot_id = client.post("/api/v1/pilots", json=valid_pilot(team), headers=headers).get_json()[
        "id"
    ]
    first = client.get(f"/api/v1/pilots/{pilot_id}", headers=headers)
    etag = first.headers["ETag"]

    missing = client.patch(f"/api/v1/pilots/{pilot_id}", json={"name": "New"}, headers=headers)
    assert missing.status_code == 428

    updated = client.patch(
        f"/api/v1/pilots/{pilot_id}", json={"name": "New"}, headers={**headers, "If-Match": etag}
    )
    assert updated.status_code == 200 and updated.get_json()["name"] == "New"
    assert updated.headers["ETag"] != etag

    stale = client.patch(
        f"/api/v1/pilots/{pilot_id}", json={"name": "Lost"}, headers={**headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert client.get(f"/api/v1/pilots/{pilot_id}", headers=headers).get_json()["name"] == "New"

    assert client.delete(f"/api/v1/pilots/{pilot_id}", headers=headers).status_code == 204
    gone = client.get(f"/api/v1/pilots/{pilot_id}", headers=headers)
    assert gone.status_code == 404 and gone.is_json


def test_only_drafts_can_be_deleted(client, factory, team, headers):
    pilot = factory.pilot(team)
    factory.set_state(pilot, review_status="submitted")
    response = client.delete(f"/api/v1/pilots/{pilot.id}", headers=headers)
    assert response.status_code == 409
    assert "review_status" in response.get_json()["errors"]
    assert count(Pilot) == 1


def test_moving_an_unapproved_pilot_into_service_is_a_conflict(client, factory, team, headers):
    pilot = factory.pilot(team)
    etag = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).headers["ETag"]
    response = client.patch(
        f"/api/v1/pilots/{pilot.id}",
        json={"stage": "deployed"},
        headers={**headers, "If-Match": etag},
    )
    assert response.status_code == 409
    assert "stage" in response.get_json()["errors"]


def test_retiring_needs_a_reason(client, factory, team, headers):
    pilot = factory.pilot(team)
    etag = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).headers["ETag"]
    response = client.patch(
        f"/api/v1/pilots/{pilot.id}",
        json={"stage": "retired"},
        headers={**headers, "If-Match": etag},
    )
    assert response.status_code == 422 and "retired_reason" in response.get_json()["errors"]
    ok = client.patch(
        f"/api/v1/pilots/{pilot.id}",
        json={"stage": "retired", "retired_reason": "Vendor contract ended."},
        headers={**headers, "If-Match": etag},
    )
    assert ok.status_code == 200 and ok.get_json()["stage"] == "retired"


def test_filters_search_and_pagination(client, factory, team, headers):
    other = factory.user("team")
    factory.pilot(
        team, name="Pothole triage", purpose="Routes road reports.", stage="pre_deployment"
    )
    factory.pilot(team, name="Benefits screener", purpose="Estimates eligibility.", agency="HSD")
    factory.pilot(other, name="Call routing", purpose="Routes calls by intent.")
    for n in range(4):
        factory.pilot(other, name=f"Filler {n}", purpose="Something else.")

    def names(query):
        response = client.get(f"/api/v1/pilots?{query}", headers=headers)
        assert response.status_code == 200
        return sorted(p["name"] for p in response.get_json())

    assert names("q=routes") == ["Call routing", "Pothole triage"]
    assert names("q=ROUTES&agency=mcg") == ["Call routing", "Pothole triage"]
    assert names("agency=HSD") == ["Benefits screener"]
    assert names(f"owner_email={other.email}&q=call") == ["Call routing"]
    assert names("review_status=submitted") == []
    assert names("stage=pre_deployment&risk_tier=I") == []

    page = client.get("/api/v1/pilots?page=2&page_size=3", headers=headers)
    meta = json.loads(page.headers["X-Pagination"])
    assert meta["total"] == 7 and meta["total_pages"] == 3 and meta["page"] == 2
    assert len(page.get_json()) == 3

    bad = client.get("/api/v1/pilots?stage=launched", headers=headers)
    assert bad.status_code == 422 and "stage" in bad.get_json()["errors"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stage": "launched"}, "stage"),
        ({"is_high_impact": "Very"}, "is_high_impact"),
        ({"is_withheld": "Maybe"}, "is_withheld"),
        ({"topic_area": "Astrology"}, "topic_area"),
        ({"demographic_features": ["z) Shoe size"]}, "demographic_features"),
        ({"owner_email": "not-an-email"}, "owner_email"),
        ({"owner_email": "nobody@agency.gov"}, "owner_email"),
        ({"name": 42}, "name"),
        ({"data_source_ids": "1"}, "data_source_ids"),
        ({"data_source_ids": [999]}, "data_source_ids"),
        ({"name": "x" * 301}, "name"),
        ({"purpose": ""}, "purpose"),
        ({"unexpected": True}, "unexpected"),
    ],
)
def test_invalid_payloads_get_422_naming_the_field_and_write_nothing(
    client, team, headers, change, field
):
    before_events = count(AuditEvent)
    response = client.post("/api/v1/pilots", json=valid_pilot(team, **change), headers=headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert field in body["errors"], body
    assert count(Pilot) == 0
    assert count(AuditEvent) == before_events


@pytest.mark.parametrize("missing", ["name", "purpose", "agency", "owner_email", "stage"])
def test_missing_required_fields_are_named(client, team, headers, missing):
    body = valid_pilot(team)
    del body[missing]
    response = client.post("/api/v1/pilots", json=body, headers=headers)
    assert response.status_code == 422 and missing in response.get_json()["errors"]


def test_malformed_json_is_400_json(client, headers):
    response = client.post(
        "/api/v1/pilots", data="{not json", content_type="application/json", headers=headers
    )
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["code"] == 400


def test_api_errors_are_never_html(client, headers):
    for path in ("/api/v1/nope", "/api/v1/pilots/999999"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and response.is_json
    wrong_method = client.put("/api/v1/pilots", headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.is_json


@pytest.mark.db
def test_a_repeated_data_source_name_with_surrounding_spaces_is_a_422(client, headers):
    """Found by the API fuzzer on PostgreSQL: ", " twice gave a 500 from the unique constraint."""
    for name in (", ", " Case files\t"):
        assert (
            client.post("/api/v1/data-sources", json={"name": name}, headers=headers).status_code
            == 201
        )
        again = client.post("/api/v1/data-sources", json={"name": name}, headers=headers)
        assert again.status_code == 422 and "name" in again.get_json()["errors"]


def test_data_source_crud_with_etag(client, headers):
    created = client.post(
        "/api/v1/data-sources",
        json={
            "name": "311 requests",
            "contains_pii": True,
            "provenance_url": "https://data.example.gov/311",
        },
        headers=headers,
    )
    assert created.status_code == 201
    source = created.get_json()
    assert source["sensitivity_flags"] == ["contains_pii"]
    duplicate = client.post("/api/v1/data-sources", json={"name": "311 REQUESTS"}, headers=headers)
    assert duplicate.status_code == 422 and "name" in duplicate.get_json()["errors"]
    bad_url = client.post(
        "/api/v1/data-sources", json={"name": "x", "provenance_url": "nope"}, headers=headers
    )
    assert bad_url.status_code == 422 and "provenance_url" in bad_url.get_json()["errors"]

    got = client.get(f"/api/v1/data-sources/{source['id']}", headers=headers)
    assert (
        client.patch(
            f"/api/v1/data-sources/{source['id']}", json={"contains_phi": True}, headers=headers
        ).status_code
        == 428
    )
    patched = client.patch(
        f"/api/v1/data-sources/{source['id']}",
        json={"contains_phi": True},
        headers={**headers, "If-Match": got.headers["ETag"]},
    )
    assert patched.status_code == 200
    assert patched.get_json()["sensitivity_flags"] == ["contains_pii", "contains_phi"]
    listing = client.get("/api/v1/data-sources?sensitive=true", headers=headers)
    assert [s["name"] for s in listing.get_json()] == ["311 requests"]
    assert "X-Pagination" in listing.headers


def test_every_change_writes_an_audit_event_with_a_diff(client, team, headers):
    pilot_id = client.post("/api/v1/pilots", json=valid_pilot(team), headers=headers).get_json()[
        "id"
    ]
    etag = client.get(f"/api/v1/pilots/{pilot_id}", headers=headers).headers["ETag"]
    client.patch(
        f"/api/v1/pilots/{pilot_id}",
        json={"name": "Renamed"},
        headers={**headers, "If-Match": etag},
    )
    client.delete(f"/api/v1/pilots/{pilot_id}", headers=headers)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "pilot").order_by(AuditEvent.seq)
    ).all()
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert events[1].changes == {"name": {"before": "Permit status chatbot", "after": "Renamed"}}
    assert events[1].actor == team.email


def test_openapi_and_health(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    assert "/api/v1/pilots" in paths and "/api/v1/pilots/{pilot_id}" in paths
    assert client.get("/api/v1/docs").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}
