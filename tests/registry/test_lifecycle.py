"""Approvals that bind: each scenario of issue #12, now refused or handled as described.

Each test drives the public API (or the pages) the way the scenario did, on SQLite and again on
PostgreSQL (`-m db`), and checks both the answer and that a refusal wrote nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select

from assessments.models import Condition
from registry.audit.models import AuditEvent
from registry.catalog.models import Pilot
from registry.extensions import db

FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()
JUSTIFICATION = "Accepted for the pilot phase with weekly CAIO check-ins."


@pytest.fixture
def people(factory):
    from policies import store

    store.active_version()
    return {
        "owner": factory.user("team"),
        "member": factory.user("team"),
        "caio": factory.user("caio"),
        "caio2": factory.user("caio"),
        "board": factory.user("board"),
        "admin": factory.user("admin"),
        "outsider": factory.user("team"),
    }


@pytest.fixture
def tokens(factory, people):
    return {role: factory.headers(user) for role, user in people.items()}


@pytest.fixture
def pilot(factory, people):
    return factory.pilot(
        people["owner"],
        team_member_emails=[people["member"].email],
        purpose="Screens applicants for the energy assistance programme.",
    )


def events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def get(client, pilot_id, headers):
    return client.get(f"/api/v1/pilots/{pilot_id}", headers=headers)


def patch(client, pilot_id, headers, body):
    etag = get(client, pilot_id, headers).headers["ETag"]
    return client.patch(
        f"/api/v1/pilots/{pilot_id}", json=body, headers={**headers, "If-Match": etag}
    )


def submit(client, pilot_id, headers, **body):
    return client.post(f"/api/v1/pilots/{pilot_id}/submission", json=body, headers=headers)


def unmet(client, pilot_id, headers):
    items = client.get(f"/api/v1/pilots/{pilot_id}/compliance", headers=headers).get_json()
    return [item["id"] for item in items["items"] if item["status"] == "unmet"]


def waivers(client, pilot_id, headers, skip=()):
    return [
        {"item_id": item, "justification": JUSTIFICATION}
        for item in unmet(client, pilot_id, headers)
        if item not in skip
    ]


def approve(client, pilot_id, tokens, **extra):
    body = {
        "decision": "approve",
        "rationale": "Benefits outweigh the residual risk.",
        "waivers": waivers(client, pilot_id, tokens["caio"]),
        **extra,
    }
    response = client.post(
        f"/api/v1/pilots/{pilot_id}/decisions", json=body, headers=tokens["caio"]
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def inbox_kinds(client, headers):
    return [m["kind"] for m in client.get("/api/v1/inbox", headers=headers).get_json()]


def public_rows(client):
    return client.get("/api/v1/inventory.json").get_json()


def public_row(client, use_case_id):
    return next((row for row in public_rows(client) if row["id"] == use_case_id), None)


# ---- stage gates and what the public sees -----------------------------------------------------


def test_a_pilot_registered_as_deployed_is_flagged_and_not_public_until_submitted(
    client, people, tokens
):
    body = {
        "name": "Benefit screener",
        "purpose": "Screens applications.",
        "agency": "MCG",
        "owner_email": people["owner"].email,
        "stage": "deployed",
        "is_high_impact": "High-impact",
    }
    created = client.post("/api/v1/pilots", json=body, headers=tokens["owner"]).get_json()
    assert created["stage"] == "deployed" and created["review_status"] == "draft"
    assert created["in_use_without_approval"] is True
    assert created["approved_stage"] is None and created["approved_revision"] is None
    assert public_row(client, created["use_case_id"]) is None
    assert submit(client, created["id"], tokens["owner"]).status_code == 201
    assert public_row(client, created["id"] and created["use_case_id"]) is not None
    queue = client.get("/api/v1/review-queue", headers=tokens["caio"]).get_json()
    assert [row["in_use_without_approval"] for row in queue] == [True]


def test_approval_for_a_pilot_phase_does_not_allow_deploying(client, pilot, tokens):
    submit(client, pilot.id, tokens["owner"])
    decided = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Pilot only.",
            "waivers": waivers(client, pilot.id, tokens["caio"]),
            "conditions": [
                {"text": "Re-run the bias check before moving to Deployed.", "due_date": FUTURE}
            ],
        },
        headers=tokens["caio"],
    ).get_json()
    assert decided["stage"] == "pilot" and decided["revision"] == 1
    assert patch(client, pilot.id, tokens["owner"], {"stage": "pilot"}).status_code == 200
    before = events()
    refused = patch(client, pilot.id, tokens["owner"], {"stage": "deployed"})
    assert refused.status_code == 409
    assert refused.get_json()["errors"]["approved_stage"] == ["pilot"]
    assert "pilot" in refused.get_json()["errors"]["stage"][0]
    assert events() == before
    assert get(client, pilot.id, tokens["owner"]).get_json()["stage"] == "pilot"


def test_an_approval_for_deployment_lets_the_pilot_deploy(client, pilot, tokens):
    submit(client, pilot.id, tokens["owner"], requested_stage="deployed")
    decided = approve(client, pilot.id, tokens)
    assert decided["stage"] == "deployed"
    assert patch(client, pilot.id, tokens["owner"], {"stage": "deployed"}).status_code == 200
    body = get(client, pilot.id, tokens["owner"]).get_json()
    assert body["approved_stage"] == "deployed" and body["in_use_without_approval"] is False


def test_unapproved_pilots_cannot_move_into_service(client, pilot, tokens):
    before = events()
    refused = patch(client, pilot.id, tokens["owner"], {"stage": "pilot"})
    assert refused.status_code == 409 and "stage" in refused.get_json()["errors"]
    assert events() == before


# ---- material changes after an approval --------------------------------------------------------


def test_a_material_change_opens_an_unreviewed_revision_the_public_does_not_see(
    client, pilot, tokens
):
    submit(client, pilot.id, tokens["owner"])
    approve(client, pilot.id, tokens)
    use_case_id = get(client, pilot.id, tokens["owner"]).get_json()["use_case_id"]
    assert public_row(client, use_case_id)["problem_solved"].startswith("Screens applicants")

    changed = patch(
        client,
        pilot.id,
        tokens["owner"],
        {"purpose": "Automatically denies applicants scored below 0.2."},
    )
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["review_status"] == "approved" and body["approved_revision"] == 1
    assert body["unreviewed_changes"] == ["purpose"]
    assert "material_change" in inbox_kinds(client, tokens["caio"])
    # The public still reads what was approved.
    assert public_row(client, use_case_id)["problem_solved"].startswith("Screens applicants")
    # The team submits the change; a CAIO decides on revision 2.
    assert submit(client, pilot.id, tokens["owner"]).status_code == 201
    revisions = client.get(
        f"/api/v1/pilots/{pilot.id}/revisions", headers=tokens["caio"]
    ).get_json()
    assert [r["revision"] for r in revisions] == [2, 1]
    assert revisions[0]["fields"]["purpose"].startswith("Automatically denies")
    approve(client, pilot.id, tokens)
    body = get(client, pilot.id, tokens["owner"]).get_json()
    assert body["approved_revision"] == 2 and body["unreviewed_changes"] == []
    assert public_row(client, use_case_id)["problem_solved"].startswith("Automatically denies")


def test_api_changes_to_high_impact_status_and_data_sources_are_unreviewed(
    client, factory, people, tokens
):
    source = factory.data_source(people["owner"])
    pilot = factory.pilot(
        people["owner"], is_high_impact="High-impact", data_source_ids=[source.id]
    )
    submit(client, pilot.id, tokens["owner"], requested_stage="deployed")
    approve(client, pilot.id, tokens)
    patch(client, pilot.id, tokens["owner"], {"stage": "deployed"})
    changed = patch(
        client,
        pilot.id,
        tokens["owner"],
        {"is_high_impact": "Not High-impact", "data_source_ids": []},
    ).get_json()
    assert changed["review_status"] == "approved"
    assert set(changed["unreviewed_changes"]) == {"is_high_impact", "data_source_ids"}


def test_a_non_material_edit_keeps_the_approval_quietly(client, pilot, tokens):
    submit(client, pilot.id, tokens["owner"])
    approve(client, pilot.id, tokens)
    before = inbox_kinds(client, tokens["caio"])
    edited = patch(client, pilot.id, tokens["owner"], {"benefits": "Fewer late payments."})
    assert edited.get_json()["unreviewed_changes"] == []
    assert inbox_kinds(client, tokens["caio"]) == before
    assert (
        db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.entity_id == str(pilot.id), AuditEvent.action == "update")
            .order_by(AuditEvent.seq.desc())
        ).changes["benefits"]["after"]
        == "Fewer late payments."
    )


# ---- separation of duties ------------------------------------------------------------------------


def test_a_caio_cannot_approve_their_own_pilot_after_handing_it_over(client, factory, people):
    caio = factory.user("caio")
    headers = factory.headers(caio)
    pilot = factory.pilot(caio)
    assert submit(client, pilot.id, headers).status_code == 201
    before = events()
    handover = patch(
        client,
        pilot.id,
        headers,
        {"owner_email": people["owner"].email, "team_member_emails": [people["owner"].email]},
    )
    assert handover.status_code == 409
    assert set(handover.get_json()["errors"]) == {"owner_email", "team_member_emails"}
    assert events() == before
    refused = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={"decision": "approve", "rationale": "Fine."},
        headers=headers,
    )
    assert refused.status_code == 403
    assert "registered this pilot" in refused.get_json()["message"]
    assert events() == before


def test_anyone_on_the_team_since_the_last_decision_may_not_decide(
    client, factory, pilot, people, tokens
):
    caio = factory.user("caio")
    # The CAIO joins the team, then leaves it before the owner submits.
    patch(
        client,
        pilot.id,
        tokens["owner"],
        {"team_member_emails": [people["member"].email, caio.email]},
    )
    patch(client, pilot.id, tokens["owner"], {"team_member_emails": [people["member"].email]})
    submit(client, pilot.id, tokens["owner"])
    refused = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={"decision": "reject", "rationale": "The data does not represent the people served."},
        headers=factory.headers(caio),
    )
    assert refused.status_code == 403
    assert "since the last decision" in refused.get_json()["message"]
    # An independent CAIO decides; after that decision the former member is no longer barred.
    client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={"decision": "request_changes", "rationale": "Add the monitoring plan, please."},
        headers=tokens["caio"],
    )
    submit(client, pilot.id, tokens["owner"])
    allowed = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={"decision": "reject", "rationale": "The data does not represent the people served."},
        headers=factory.headers(caio),
    )
    assert allowed.status_code == 201, allowed.get_json()


def test_the_submitter_of_the_round_may_not_decide(client, factory, pilot, people, tokens):
    caio = factory.user("caio")
    db_pilot = db.session.get(Pilot, pilot.id)
    assert db_pilot.decision_bar(caio) is None
    patch(
        client,
        pilot.id,
        tokens["owner"],
        {"team_member_emails": [people["member"].email, caio.email]},
    )
    assert submit(client, pilot.id, factory.headers(caio)).status_code == 201
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).decision_bar(caio) is not None


def test_only_the_owner_or_an_administrator_transfers_ownership(client, pilot, people, tokens):
    before = events()
    grab = patch(client, pilot.id, tokens["member"], {"owner_email": people["member"].email})
    assert grab.status_code == 403 and events() == before
    moved = patch(client, pilot.id, tokens["owner"], {"owner_email": people["member"].email})
    assert moved.status_code == 200 and moved.get_json()["owner_email"] == people["member"].email
    assert "ownership" in inbox_kinds(client, tokens["member"])
    back = patch(client, pilot.id, tokens["admin"], {"owner_email": people["owner"].email})
    assert back.status_code == 200


# ---- conditions ----------------------------------------------------------------------------------


def test_conditions_can_cover_unmet_items_and_a_plain_approval_cannot(client, pilot, tokens):
    submit(client, pilot.id, tokens["owner"])
    open_items = unmet(client, pilot.id, tokens["caio"])
    covered = open_items[0]
    rest = waivers(client, pilot.id, tokens["caio"], skip=(covered,))
    before = events()
    plain = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={"decision": "approve", "rationale": "Fine.", "waivers": rest},
        headers=tokens["caio"],
    )
    assert plain.status_code == 409 and covered in plain.get_json()["errors"]
    assert events() == before
    conditional = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed while the team completes it.",
            "waivers": rest,
            "conditions": [
                {"text": "Complete it by the due date.", "due_date": FUTURE, "item_id": covered}
            ],
        },
        headers=tokens["caio"],
    )
    assert conditional.status_code == 201, conditional.get_json()
    assert conditional.get_json()["conditions"][0]["item_id"] == covered


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"text": "Upload the plan.", "due_date": "2020-03-01"}, "conditions[0].due_date"),
        (
            {"text": "Upload the plan.", "due_date": FUTURE, "item_id": "no_such_item"},
            "conditions[0].item_id",
        ),
    ],
    ids=["past date", "unknown item"],
)
def test_bad_conditions_are_refused_and_write_nothing(client, pilot, tokens, condition, field):
    submit(client, pilot.id, tokens["owner"])
    before = events()
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed.",
            "waivers": waivers(client, pilot.id, tokens["caio"]),
            "conditions": [condition],
        },
        headers=tokens["caio"],
    )
    assert response.status_code == 422 and field in response.get_json()["errors"]
    assert events() == before


def test_a_condition_linked_to_an_item_is_met_when_the_item_is(
    client, factory, pilot, people, tokens
):
    from assessments import service
    from tests.factories import complete_answers

    _, questionnaire = service.questionnaire()
    service.assess(
        db.session.get(Pilot, pilot.id),
        complete_answers(questionnaire, pick="highest"),
        people["owner"],
    )
    submit(client, pilot.id, tokens["owner"])
    covered = "privacy_impact_assessment"
    assert covered in unmet(client, pilot.id, tokens["caio"])
    decided = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed while the PIA is finished.",
            "waivers": waivers(client, pilot.id, tokens["caio"], skip=(covered,)),
            "conditions": [
                {
                    "text": "Upload the privacy impact assessment.",
                    "due_date": FUTURE,
                    "item_id": covered,
                }
            ],
        },
        headers=tokens["caio"],
    ).get_json()
    condition_id = decided["conditions"][0]["id"]
    factory.evidence(db.session.get(Pilot, pilot.id), people["owner"], kind="pia")
    conditions = client.get(
        f"/api/v1/pilots/{pilot.id}/conditions", headers=tokens["owner"]
    ).get_json()
    met = next(c for c in conditions if c["id"] == condition_id)
    assert met["status"] == "met" and met["met_how"] == "item"
    assert "condition_met" in inbox_kinds(client, tokens["owner"])


def test_a_team_report_needs_a_caio_to_verify_it(client, pilot, tokens):
    submit(client, pilot.id, tokens["owner"])
    decided = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed.",
            "waivers": waivers(client, pilot.id, tokens["caio"]),
            "conditions": [{"text": "Re-run the bias check and pass it.", "due_date": FUTURE}],
        },
        headers=tokens["caio"],
    ).get_json()
    cid = decided["conditions"][0]["id"]
    reported = client.post(
        f"/api/v1/conditions/{cid}/met", json={"note": "We re-ran it."}, headers=tokens["owner"]
    )
    assert reported.get_json()["status"] == "reported"
    assert "condition_reported" in inbox_kinds(client, tokens["caio"])
    assert (
        client.post(
            f"/api/v1/conditions/{cid}/verification",
            json={"accepted": True},
            headers=tokens["owner"],
        ).status_code
        == 403
    )
    before = events()
    vague = client.post(
        f"/api/v1/conditions/{cid}/verification",
        json={"accepted": False, "note": "no"},
        headers=tokens["caio"],
    )
    assert vague.status_code == 422 and events() == before
    returned = client.post(
        f"/api/v1/conditions/{cid}/verification",
        json={"accepted": False, "note": "The check you uploaded still fails for women over 60."},
        headers=tokens["caio"],
    )
    assert returned.get_json()["status"] == "open"
    assert "condition_verified" in inbox_kinds(client, tokens["owner"])
    again = client.post(
        f"/api/v1/conditions/{cid}/verification", json={"accepted": True}, headers=tokens["caio"]
    )
    assert again.status_code == 409


def test_an_overdue_condition_marks_the_pilot_review_due_and_tells_everyone(
    client, runner, pilot, tokens
):
    submit(client, pilot.id, tokens["owner"])
    decided = client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed.",
            "waivers": waivers(client, pilot.id, tokens["caio"]),
            "conditions": [{"text": "Upload the monitoring plan.", "due_date": FUTURE}],
        },
        headers=tokens["caio"],
    ).get_json()
    condition = db.session.get(Condition, decided["conditions"][0]["id"])
    condition.due_date = dt.date.today() - dt.timedelta(days=1)
    db.session.commit()
    assert runner.invoke(args=["reviews", "sweep"]).exit_code == 0
    body = get(client, pilot.id, tokens["owner"]).get_json()
    assert body["review_due_since"] == dt.date.today().isoformat()
    assert "monitoring plan" in body["review_due_reason"]
    for who in ("owner", "caio"):
        assert inbox_kinds(client, tokens[who]).count("condition_overdue") == 1
    runner.invoke(args=["reviews", "sweep"])
    assert inbox_kinds(client, tokens["owner"]).count("condition_overdue") == 1
    listed = client.get(f"/api/v1/pilots/{pilot.id}/conditions", headers=tokens["owner"])
    assert listed.get_json()[0]["status"] == "overdue"


# ---- what the reviewer sees --------------------------------------------------------------------


def test_submission_needs_a_high_impact_determination(client, factory, people, tokens):
    pilot = factory.pilot(people["owner"], is_high_impact=None)
    before = events()
    refused = submit(client, pilot.id, tokens["owner"])
    assert refused.status_code == 409 and "is_high_impact" in refused.get_json()["errors"]
    patch(
        client,
        pilot.id,
        tokens["owner"],
        {"is_high_impact": "Presumed High-Impact, but Not High-impact"},
    )
    before = events()
    refused = submit(client, pilot.id, tokens["owner"])
    assert refused.status_code == 409 and "HI_justification" in refused.get_json()["errors"]
    assert events() == before
    patch(
        client,
        pilot.id,
        tokens["owner"],
        {"HI_justification": "It only routes mail; people decide every case."},
    )
    assert submit(client, pilot.id, tokens["owner"]).status_code == 201


def test_the_caio_sees_the_note_the_answers_and_the_diff(
    client, login, factory, pilot, people, tokens
):
    from assessments import service
    from tests.factories import complete_answers

    _, questionnaire = service.questionnaire()
    service.assess(
        db.session.get(Pilot, pilot.id), complete_answers(questionnaire), people["owner"]
    )
    submit(client, pilot.id, tokens["owner"], note="Please look at the Spanish-language results.")
    queue = client.get("/api/v1/review-queue", headers=tokens["caio"]).get_json()
    assert queue[0]["note"] == "Please look at the Spanish-language results."
    revision = client.get(
        f"/api/v1/pilots/{pilot.id}/revisions/1", headers=tokens["caio"]
    ).get_json()
    assert revision["fields"]["submission_note"].startswith("Please look")
    assert revision["fields"]["questionnaire"]["answers"]
    login("caio", people["caio"])
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Please look at the Spanish-language results." in page


def test_revisions_are_frozen_and_diffed_field_by_field(client, pilot, tokens):
    from registry.catalog import lifecycle

    submit(client, pilot.id, tokens["owner"])
    approve(client, pilot.id, tokens)
    patch(client, pilot.id, tokens["owner"], {"vendor_name": "Acme Analytics"})
    submit(client, pilot.id, tokens["owner"])
    first, second = (
        client.get(f"/api/v1/pilots/{pilot.id}/revisions/{n}", headers=tokens["caio"]).get_json()
        for n in (1, 2)
    )
    rows = lifecycle.revision_diff(first["fields"], second["fields"])
    vendor = next(row for row in rows if row["field"] == "vendor_name")
    assert vendor == {
        "field": "vendor_name",
        "label": "Vendor",
        "before": None,
        "after": "Acme Analytics",
        "material": True,
    }
    assert (
        client.get(f"/api/v1/pilots/{pilot.id}/revisions/9", headers=tokens["caio"]).status_code
        == 404
    )


# ---- notifications that happen -----------------------------------------------------------------


def _csv(rows_per_group: int, fair: bool) -> bytes:
    """Errors spread alike over both groups (fair), or group b never selected (unfair)."""
    lines = ["group,y,p"]
    for group in ("a", "b"):
        for i in range(rows_per_group):
            p = (i // 2) % 2 if fair or group == "a" else 0
            lines.append(f"{group},{i % 2},{p}")
    return ("\n".join(lines) + "\n").encode()


def test_a_bias_check_flipping_to_fail_tells_the_owner_and_the_caios(client, pilot, tokens):
    def upload(content):
        return client.post(
            f"/api/v1/pilots/{pilot.id}/bias-checks",
            headers=tokens["owner"],
            data={
                "y_true": "y",
                "y_pred": "p",
                "sensitive_features": "group",
                "file": (io.BytesIO(content), "outputs.csv"),
            },
        ).get_json()

    assert upload(_csv(3000, fair=True))["verdict"] == "pass"
    assert upload(_csv(3000, fair=False))["verdict"] == "fail"
    for who in ("owner", "caio", "caio2"):
        assert "bias_check_failed" in inbox_kinds(client, tokens[who])
    assert "bias_check_failed" not in inbox_kinds(client, tokens["board"])


# ---- public ids ------------------------------------------------------------------------------------


def test_public_ids_reveal_no_sequence_and_are_assigned_once(client, factory, people, tokens):
    first = factory.pilot(people["owner"], agency="MCG")
    second = factory.pilot(people["owner"], agency="MCG")
    ids = [first.use_case_id, second.use_case_id]
    for use_case_id in ids:
        # Six random characters (32**6 ids), never the database id in sequence.
        assert re.fullmatch(r"MCG-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{6}", use_case_id)
    assert len(set(ids)) == 2
    refused = patch(client, first.id, tokens["owner"], {"use_case_id": "MCG-0001"})
    assert refused.status_code == 422 and "use_case_id" in refused.get_json()["errors"]
    imported = factory.pilot(people["owner"], use_case_id="DOJ-0357")
    assert imported.use_case_id == "DOJ-0357"
