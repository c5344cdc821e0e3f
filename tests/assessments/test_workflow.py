"""The review workflow: transitions, the approval gate, waivers, duties, snapshots, sweep, notifications."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from assessments import workflow
from registry.audit.models import AuditEvent
from registry.audit.service import verify_stored_chain
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.extensions import db
from registry.notifications.models import Notification
from tests.factories import complete_answers

FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()


def fair_csv(rows_per_group=3000):
    lines = ["group,y,p"]
    for group in ("a", "b"):
        for i in range(rows_per_group):
            lines.append(f"{group},{i % 2},{(i // 2) % 2}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def people(factory):
    from policies import store

    store.active_version()
    return {
        "owner": factory.user("team"),
        "caio": factory.user("caio"),
        "caio2": factory.user("caio"),
        "board": factory.user("board"),
        "admin": factory.user("admin"),
        "outsider": factory.user("team"),
    }


@pytest.fixture
def tokens(factory, people):
    return {
        role: {"Authorization": f"Bearer {factory.token(user)}"} for role, user in people.items()
    }


@pytest.fixture
def pilot(factory, people):
    return factory.pilot(people["owner"])


def events():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def status(pilot_id):
    db.session.expire_all()
    return db.session.get(Pilot, pilot_id).review_status


def submit(client, pilot, tokens):
    return client.post(f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"])


def decide(client, pilot, tokens, body, who="caio"):
    return client.post(f"/api/v1/pilots/{pilot.id}/decisions", json=body, headers=tokens[who])


def waive_all(client, pilot, tokens):
    items = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=tokens["caio"]).get_json()[
        "items"
    ]
    return [
        {
            "item_id": i["id"],
            "justification": "Accepted for the pilot phase with weekly CAIO check-ins.",
        }
        for i in items
        if i["status"] == "unmet"
    ]


# ---- transitions ---------------------------------------------------------------------------

ALL_STATUSES = (
    "draft",
    "submitted",
    "changes_requested",
    "approved",
    "approved_with_conditions",
    "rejected",
)
LEGAL = {(a, s) for a, s, _ in workflow.transition_table()}


TARGET = {action: target for action, _, target in workflow.transition_table()}


@pytest.mark.parametrize("action", list(lifecycle.ALLOWED_FROM))
@pytest.mark.parametrize("start", ALL_STATUSES)
def test_transition_table(client, factory, pilot, tokens, action, start):
    if start == "submitted":
        submit(client, pilot, tokens)
    else:
        factory.set_state(pilot, review_status=start)
    before = events()
    if action == "submit":
        # An approved pilot goes back to review only with something to review: here, a
        # further stage.
        response = client.post(
            f"/api/v1/pilots/{pilot.id}/submission",
            json={"requested_stage": "deployed"} if start.startswith("approved") else {},
            headers=tokens["owner"],
        )
    elif action == "require_resubmission":
        response = client.post(
            f"/api/v1/pilots/{pilot.id}/resubmission-request",
            json={"reason": "The annual review date has passed."},
            headers=tokens["caio"],
        )
    else:
        body = {"decision": action, "rationale": "The evidence is not yet sufficient for this use."}
        if action.startswith("approve"):
            body["waivers"] = waive_all(client, pilot, tokens) if start == "submitted" else []
        if action == "approve_with_conditions":
            body["conditions"] = [{"text": "Publish a plain-language notice.", "due_date": FUTURE}]
        response = decide(client, pilot, tokens, body)
    if (action, start) in LEGAL:
        assert response.status_code in (200, 201), response.get_json()
        assert status(pilot.id) == TARGET[action]
        assert events() > before
    else:
        assert response.status_code == 409, response.get_json()
        errors = response.get_json()["errors"]
        label = lifecycle.ReviewStatus(start).label.lower()
        assert f"The pilot is {label}" in errors["review_status"][0]
        assert "allowed_actions" in errors
        assert status(pilot.id) == start and events() == before


# ---- the gate ------------------------------------------------------------------------------


def test_approval_is_blocked_until_items_are_met_or_waived(client, pilot, tokens):
    submit(client, pilot, tokens)
    before = events()
    blocked = decide(client, pilot, tokens, {"decision": "approve"})
    assert blocked.status_code == 409 and "impact_assessment" in blocked.get_json()["errors"]
    assert events() == before and status(pilot.id) == "submitted"
    approved = decide(
        client,
        pilot,
        tokens,
        {
            "decision": "approve",
            "rationale": "Low risk.",
            "waivers": waive_all(client, pilot, tokens),
        },
    )
    assert approved.status_code == 201, approved.get_json()
    body = approved.get_json()
    assert body["waivers"][0]["status"] == "CAIO waived"
    compliance = client.get(
        f"/api/v1/pilots/{pilot.id}/compliance", headers=tokens["owner"]
    ).get_json()
    assert {i["id"]: i["status"] for i in compliance["items"]}["impact_assessment"] == "waived"
    assert client.get(f"/api/v1/pilots/{pilot.id}", headers=tokens["owner"]).get_json()[
        "next_review_at"
    ]


def test_approval_without_waivers_once_everything_is_met(client, factory, pilot, people, tokens):
    from assessments import service

    _, questionnaire = service.questionnaire()
    service.assess(pilot, complete_answers(questionnaire), people["owner"])
    check = factory.bias_check(pilot, people["owner"], content=fair_csv()) if False else None
    from io import BytesIO

    response = client.post(
        f"/api/v1/pilots/{pilot.id}/bias-checks",
        headers=tokens["owner"],
        data={
            "y_true": "y",
            "y_pred": "p",
            "sensitive_features": "group",
            "file": (BytesIO(fair_csv()), "fair.csv"),
        },
    )
    assert response.get_json()["verdict"] == "pass", response.get_json()["findings"]
    assert check is None
    submit(client, pilot, tokens)
    approved = decide(
        client, pilot, tokens, {"decision": "approve", "rationale": "All requirements met."}
    )
    assert approved.status_code == 201, approved.get_json()
    snapshot = approved.get_json()["snapshot"]
    assert snapshot["bias"]["verdict"] == "pass" and snapshot["risk_tier"] == "I"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "decision": "approve",
                "waivers": [
                    {
                        "item_id": "no_such_item",
                        "justification": "Because we decided so, in writing.",
                    }
                ],
            },
            "waivers[0].item_id",
        ),
        (
            {
                "decision": "approve",
                "waivers": [
                    {
                        "item_id": "hi_appeal_process",
                        "justification": "Because we decided so, in writing.",
                    }
                ],
            },
            "waivers[0].item_id",
        ),
        (
            {
                "decision": "approve",
                "waivers": [{"item_id": "impact_assessment", "justification": ""}],
            },
            "waivers[0].justification",
        ),
        ({"decision": "reject", "rationale": ""}, "rationale"),
        ({"decision": "request_changes"}, "rationale"),
        (
            {
                "decision": "approve_with_conditions",
                "conditions": [{"text": "Do it.", "due_date": "2020-01-01"}],
            },
            "conditions[0].due_date",
        ),
        ({"decision": "approve_with_conditions"}, "conditions"),
        ({"decision": "maybe"}, "decision"),
    ],
    ids=[
        "unknown item",
        "not-applicable item",
        "empty justification",
        "reject without rationale",
        "changes without rationale",
        "past due date",
        "no conditions",
        "unknown decision",
    ],
)
def test_bad_decisions_get_422_and_change_nothing(client, pilot, tokens, body, field):
    submit(client, pilot, tokens)
    before = events()
    response = decide(client, pilot, tokens, body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert events() == before and status(pilot.id) == "submitted"


# ---- separation of duties ------------------------------------------------------------------


def test_only_an_independent_caio_decides(client, factory, pilot, people, tokens):
    submit(client, pilot, tokens)
    body = {"decision": "reject", "rationale": "The model is not explainable enough for this use."}
    for who in ("owner", "board", "admin", "outsider"):
        assert decide(client, pilot, tokens, body, who).status_code == 403
    caio_member = factory.user("caio")
    conflicted = factory.pilot(caio_member)
    factory.set_state(conflicted, review_status="submitted")
    response = client.post(
        f"/api/v1/pilots/{conflicted.id}/decisions",
        json=body,
        headers={"Authorization": f"Bearer {factory.token(caio_member)}"},
    )
    assert response.status_code == 403
    assert decide(client, pilot, tokens, body).status_code == 201


# ---- snapshots -----------------------------------------------------------------------------


def test_decision_snapshot_stays_frozen(client, pilot, tokens, people):
    submit(client, pilot, tokens)
    decided = decide(
        client,
        pilot,
        tokens,
        {
            "decision": "approve",
            "rationale": "Fine for now.",
            "waivers": waive_all(client, pilot, tokens),
        },
    ).get_json()
    etag = client.get(f"/api/v1/pilots/{pilot.id}", headers=tokens["owner"]).headers["ETag"]
    client.patch(
        f"/api/v1/pilots/{pilot.id}",
        json={"name": "Renamed later", "is_high_impact": "High-impact"},
        headers={**tokens["owner"], "If-Match": etag},
    )
    later = client.get(f"/api/v1/pilots/{pilot.id}/decisions", headers=tokens["owner"]).get_json()[
        0
    ]
    assert later["snapshot"] == decided["snapshot"]
    assert later["snapshot"]["pilot"]["name"] != "Renamed later"
    assert not any(
        i["id"].startswith("hi_") and i["status"] != "not_applicable"
        for i in later["snapshot"]["checklist"]["items"]
    )


# ---- re-review -----------------------------------------------------------------------------


def test_sweep_marks_due_reviews_once_and_notifies_the_owner(
    app, client, factory, runner, pilot, tokens, people
):
    submit(client, pilot, tokens)
    decide(
        client,
        pilot,
        tokens,
        {
            "decision": "approve",
            "rationale": "ok for now",
            "waivers": waive_all(client, pilot, tokens),
        },
    )
    factory.set_state(
        db.session.get(Pilot, pilot.id), next_review_at=dt.date.today() - dt.timedelta(days=1)
    )
    first = runner.invoke(args=["reviews", "sweep"])
    assert "marked 1 pilots" in first.output
    second = runner.invoke(args=["reviews", "sweep"])
    assert "marked 0 pilots" in second.output
    inbox = client.get("/api/v1/inbox", headers=tokens["owner"]).get_json()
    assert [m["kind"] for m in inbox].count("review_due") == 1
    resubmit = client.post(
        f"/api/v1/pilots/{pilot.id}/resubmission-request",
        json={"reason": "The review date has passed; please resubmit."},
        headers=tokens["caio"],
    )
    assert resubmit.status_code == 200 and status(pilot.id) == "changes_requested"


# ---- notifications, conditions, comments ---------------------------------------------------


def test_notifications_follow_the_workflow(client, pilot, tokens):
    submit(client, pilot, tokens)
    caio_inbox = client.get("/api/v1/inbox", headers=tokens["caio"]).get_json()
    assert caio_inbox[0]["kind"] == "submission" and str(pilot.id) in caio_inbox[0]["url"]
    decide(
        client,
        pilot,
        tokens,
        {"decision": "request_changes", "rationale": "Add the monitoring plan please."},
    )
    owner_inbox = client.get("/api/v1/inbox", headers=tokens["owner"]).get_json()
    assert owner_inbox[0]["kind"] == "decision"
    assert client.post("/api/v1/inbox/read", headers=tokens["owner"]).status_code == 204
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.read_at.is_(None), Notification.user_id == pilot.owner_id)
        )
        == 0
    )


def test_email_failure_never_breaks_a_decision(app, client, pilot, tokens):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = 1
    assert submit(client, pilot, tokens).status_code == 201


def test_conditions_are_tracked_and_meeting_them_is_audited(client, pilot, tokens, people):
    submit(client, pilot, tokens)
    decided = decide(
        client,
        pilot,
        tokens,
        {
            "decision": "approve_with_conditions",
            "rationale": "Proceed carefully.",
            "waivers": waive_all(client, pilot, tokens),
            "conditions": [{"text": "Publish a plain-language notice.", "due_date": FUTURE}],
        },
    ).get_json()
    condition = decided["conditions"][0]
    assert condition["status"] == "open"
    assert (
        client.post(
            f"/api/v1/conditions/{condition['id']}/met", json={"note": ""}, headers=tokens["owner"]
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/conditions/{condition['id']}/met",
            json={"note": "Done"},
            headers=tokens["board"],
        ).status_code
        == 403
    )
    met = client.post(
        f"/api/v1/conditions/{condition['id']}/met",
        json={"note": "Notice published on the website."},
        headers=tokens["owner"],
    )
    assert met.status_code == 200 and met.get_json()["status"] == "reported"
    assert (
        db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report_condition")).actor
        == people["owner"].email
    )
    verified = client.post(
        f"/api/v1/conditions/{condition['id']}/verification",
        json={"accepted": True},
        headers=tokens["caio"],
    )
    assert verified.status_code == 200 and verified.get_json()["status"] == "met"
    from assessments.models import Condition

    row = db.session.get(Condition, condition["id"])
    row.status, row.due_date = "open", dt.date.today() - dt.timedelta(days=3)
    db.session.commit()
    assert [c.id for c in workflow.overdue_conditions()] == [condition["id"]]


def test_comments_are_visible_to_team_caios_and_board_only(client, pilot, tokens):
    assert (
        client.post(
            f"/api/v1/pilots/{pilot.id}/comments",
            json={"body": "Please add the vendor's model card."},
            headers=tokens["board"],
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/pilots/{pilot.id}/comments", json={"body": "  "}, headers=tokens["owner"]
        ).status_code
        == 422
    )
    for who in ("owner", "caio", "board", "admin"):
        thread = client.get(f"/api/v1/pilots/{pilot.id}/comments", headers=tokens[who])
        assert thread.status_code == 200 and thread.get_json()[0]["body"].startswith("Please add")
    assert (
        client.get(f"/api/v1/pilots/{pilot.id}/comments", headers=tokens["outsider"]).status_code
        == 403
    )


def test_review_queue_lists_submitted_pilots_oldest_first(client, factory, people, tokens):
    first = factory.pilot(people["owner"], name="First")
    second = factory.pilot(people["owner"], name="Second")
    submit(client, first, tokens)
    submit(client, second, tokens)
    queue = client.get("/api/v1/review-queue", headers=tokens["caio"]).get_json()
    assert [row["name"] for row in queue] == ["First", "Second"]
    assert set(queue[0]) >= {"risk_tier", "compliance", "bias_verdict", "days_waiting"}
    assert client.get("/api/v1/review-queue", headers=tokens["owner"]).status_code == 403
    assert client.get("/api/v1/review-queue", headers=tokens["board"]).status_code == 200


# ---- concurrency ---------------------------------------------------------------------------


def test_two_caios_deciding_at_once_exactly_one_wins(app, client, pilot, tokens):
    submit(client, pilot, tokens)
    waivers = waive_all(client, pilot, tokens)
    pilot_id = pilot.id
    db.session.remove()

    def attempt(who):
        body = (
            {"decision": "approve", "rationale": "Approved.", "waivers": waivers}
            if who == "caio"
            else {
                "decision": "reject",
                "rationale": "Rejected because the data is not representative.",
            }
        )
        return (
            app.test_client()
            .post(f"/api/v1/pilots/{pilot_id}/decisions", json=body, headers=tokens[who])
            .status_code
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(attempt, ["caio", "caio2"] * 3))
    assert results.count(201) == 1, results
    assert all(code in (409, 412) for code in results if code != 201)
    with app.app_context():
        from assessments.models import Decision

        assert db.session.scalar(select(func.count()).select_from(Decision)) == 1
        assert verify_stored_chain().ok


def test_audit_chain_verifies_after_the_flows(client, pilot, tokens, runner):
    submit(client, pilot, tokens)
    decide(
        client,
        pilot,
        tokens,
        {"decision": "reject", "rationale": "The model needs an appeal process first."},
    )
    submit(client, pilot, tokens)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    rounds = [s.round for s in workflow.submissions_for(db.session.get(Pilot, pilot.id))]
    assert rounds == [2, 1]
