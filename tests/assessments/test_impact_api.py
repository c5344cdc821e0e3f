"""The impact questionnaire, risk tiers and the compliance checklist over the API."""

import pytest
from sqlalchemy import func, select

from assessments.models import ImpactAssessment
from registry.audit.models import AuditEvent
from registry.extensions import db
from tests.factories import complete_answers


@pytest.fixture
def team(factory):
    return factory.user("team")


@pytest.fixture
def headers(factory, team):
    return factory.headers(team)


@pytest.fixture
def pilot(factory, team):
    return factory.pilot(team)


@pytest.fixture
def questionnaire(client, headers):
    return client.get("/api/v1/questionnaire", headers=headers).get_json()


def test_questionnaire_shape(questionnaire):
    assert len(questionnaire["questions"]) >= 30
    kinds = {q["kind"] for q in questionnaire["questions"]}
    assert {"impact", "mitigation"} <= kinds
    question = questionnaire["questions"][0]
    assert set(question) >= {"id", "text", "kind", "choices", "multiple"}
    assert set(question["choices"][0]) == {"value", "label", "weight"}
    assert any(q.get("show_if") for q in questionnaire["questions"])
    assert any(q["multiple"] for q in questionnaire["questions"])


def test_assessment_sets_the_tier_and_is_audited(client, headers, pilot, questionnaire):
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments",
        json={"answers": complete_answers(questionnaire, "highest")},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) >= {
        "id",
        "raw_score",
        "mitigation_score",
        "current_score",
        "max_raw_score",
        "impact_level",
    }
    assert body["impact_level"] in {"III", "IV"}
    got = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).get_json()
    assert got["risk_tier"] == body["impact_level"] and got["risk_tier_source"] == "questionnaire"
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "set_risk_tier" in actions and "create" in actions

    low = client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments",
        json={"answers": complete_answers(questionnaire, "lowest")},
        headers=headers,
    ).get_json()
    assert low["impact_level"] == "I"
    history = client.get(
        f"/api/v1/pilots/{pilot.id}/impact-assessments", headers=headers
    ).get_json()
    assert [a["id"] for a in history] == [low["id"], body["id"]]


def test_invalid_answers_are_named_and_change_nothing(client, headers, pilot, questionnaire):
    answers = complete_answers(questionnaire)
    first, second = questionnaire["questions"][0]["id"], questionnaire["questions"][1]["id"]
    answers[first] = "not-a-choice"
    del answers[second]
    answers["no_such_question"] = "yes"
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments", json={"answers": answers}, headers=headers
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {first, second, "no_such_question"} <= set(errors)
    assert db.session.scalar(select(func.count()).select_from(ImpactAssessment)) == 0
    assert client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).get_json()["risk_tier"] is None


def test_answers_to_hidden_questions_are_ignored(client, headers, pilot, questionnaire):
    conditional = next(q for q in questionnaire["questions"] if q.get("show_if"))
    controller = conditional["show_if"]["question"]
    answers = complete_answers(questionnaire)
    # Pick a controlling answer that hides the follow-up, then answer the follow-up anyway.
    hiding = next(
        c["value"]
        for c in next(q for q in questionnaire["questions"] if q["id"] == controller)["choices"]
        if c["value"] not in conditional["show_if"]["in"]
    )
    answers[controller] = hiding
    baseline = client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments", json={"answers": answers}, headers=headers
    ).get_json()
    answers[conditional["id"]] = max(conditional["choices"], key=lambda c: c["weight"])["value"]
    with_hidden = client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments", json={"answers": answers}, headers=headers
    ).get_json()
    assert with_hidden["raw_score"] == baseline["raw_score"]
    assert conditional["id"] not in with_hidden["answers"]


def test_caio_override_is_justified_audited_and_survives_reassessment(
    client, factory, headers, pilot, questionnaire
):
    caio = factory.user("caio")
    caio_headers = factory.headers(caio)
    url = f"/api/v1/pilots/{pilot.id}/risk-tier-override"
    assert (
        client.post(
            url, json={"risk_tier": "IV", "justification": "short"}, headers=caio_headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            url,
            json={"risk_tier": "IV", "justification": "The model decides benefits for children."},
            headers=headers,
        ).status_code
        == 403
    )
    ok = client.post(
        url,
        json={"risk_tier": "IV", "justification": "The model decides benefits for children."},
        headers=caio_headers,
    )
    assert ok.status_code == 200
    assert ok.get_json()["risk_tier"] == "IV" and ok.get_json()["risk_tier_source"] == "override"
    client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments",
        json={"answers": complete_answers(questionnaire)},
        headers=headers,
    )
    after = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).get_json()
    assert after["risk_tier"] == "IV" and after["risk_tier_justification"].startswith("The model")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "override_risk_tier"))
    assert event.actor == caio.email and event.changes["risk_tier"]["after"] == "IV"
    cleared = client.post(
        url,
        json={"risk_tier": None, "justification": "Back to the questionnaire's level."},
        headers=caio_headers,
    )
    assert (
        cleared.get_json()["risk_tier"] == "I"
        and cleared.get_json()["risk_tier_source"] == "questionnaire"
    )


def test_compliance_lists_m_25_21_items_only_for_high_impact(client, factory, team, headers):
    high = factory.pilot(team, is_high_impact="High-impact")
    low = factory.pilot(team, is_high_impact="Not High-impact")
    high_items = client.get(f"/api/v1/pilots/{high.id}/compliance", headers=headers).get_json()
    low_items = client.get(f"/api/v1/pilots/{low.id}/compliance", headers=headers).get_json()
    assert high_items["policy_version"] == low_items["policy_version"]
    hi = [i for i in high_items["items"] if i["id"].startswith("hi_")]
    assert len(hi) == 9 and all(i["status"] == "unmet" for i in hi)
    assert all(
        i["status"] == "not_applicable" for i in low_items["items"] if i["id"].startswith("hi_")
    )
    item = high_items["items"][0]
    assert set(item) >= {"id", "title", "status", "reason", "evidence"}


def test_compliance_follows_the_tier(client, headers, pilot, questionnaire):
    before = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    assert [i["id"] for i in before["items"] if i["status"] != "not_applicable"] == [
        "impact_assessment"
    ]
    client.post(
        f"/api/v1/pilots/{pilot.id}/impact-assessments",
        json={"answers": complete_answers(questionnaire, "highest")},
        headers=headers,
    )
    after = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    statuses = {i["id"]: i["status"] for i in after["items"]}
    assert statuses["impact_assessment"] == "met"
    assert statuses["bias_check"] == "unmet"
    assert after["tier"] in {"III", "IV"}
