"""Every notification the product promises reaches the in-app inbox and, with SMTP configured,
a real SMTP server (aiosmtpd on the loopback interface): one journey through each of them."""

from __future__ import annotations

import datetime as dt
import email.policy
import io
import socket
import threading
import time
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from assessments.models import Condition
from registry.extensions import db

FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()
JUSTIFICATION = "Accepted for the pilot phase with weekly CAIO check-ins."


class Mailbox:
    """An SMTP handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=email.policy.default)
        subject = " ".join(str(message["Subject"]).split())
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), subject))
        return "250 Message accepted for delivery"

    def wait_for(self, recipient: str, fragment: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for recipients, subject in self.messages:
                    if recipient in recipients and fragment in subject:
                        return subject
            time.sleep(0.02)
        raise AssertionError(f"no email to {recipient} about {fragment!r}: {self.messages}")


@pytest.fixture
def mailbox(app):
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SENDER="registry@agency.gov")
    yield box
    controller.stop()


@pytest.fixture
def people(factory):
    from policies import store

    store.active_version()
    return {
        "owner": factory.user("team"),
        "heir": factory.user("team"),
        "caio": factory.user("caio"),
    }


@pytest.fixture
def tokens(factory, people):
    return {role: factory.headers(user) for role, user in people.items()}


def inbox(client, headers) -> list[dict]:
    return client.get("/api/v1/inbox", headers=headers).get_json()


def patch(client, pilot_id, headers, body):
    etag = client.get(f"/api/v1/pilots/{pilot_id}", headers=headers).headers["ETag"]
    response = client.patch(
        f"/api/v1/pilots/{pilot_id}", json=body, headers={**headers, "If-Match": etag}
    )
    assert response.status_code == 200, response.get_json()
    return response


def waivers(client, pilot_id, headers):
    items = client.get(f"/api/v1/pilots/{pilot_id}/compliance", headers=headers).get_json()
    return [
        {"item_id": item["id"], "justification": JUSTIFICATION}
        for item in items["items"]
        if item["status"] == "unmet"
    ]


def expect(client, mailbox, tokens, people, who: str, kind: str, fragment: str) -> None:
    """The person has the notification in the inbox and by email."""
    kinds = [m["kind"] for m in inbox(client, tokens[who])]
    assert kind in kinds, (who, kind, kinds)
    mailbox.wait_for(people[who].email, fragment)


def upload(client, pilot_id, headers, fair: bool):
    lines = ["group,y,p"]
    for group in ("a", "b"):
        for i in range(3000):
            p = (i // 2) % 2 if fair or group == "a" else 0
            lines.append(f"{group},{i % 2},{p}")
    content = ("\n".join(lines) + "\n").encode()
    return client.post(
        f"/api/v1/pilots/{pilot_id}/bias-checks",
        headers=headers,
        data={
            "y_true": "y",
            "y_pred": "p",
            "sensitive_features": "group",
            "file": (io.BytesIO(content), "outputs.csv"),
        },
    ).get_json()


def test_every_promised_notification_reaches_the_inbox_and_email(
    client, runner, factory, mailbox, people, tokens
):
    pilot = factory.pilot(people["owner"])
    pid = pilot.id
    submission = client.post(
        f"/api/v1/pilots/{pid}/submission", json={"note": "Ready."}, headers=tokens["owner"]
    )
    assert submission.status_code == 201
    expect(client, mailbox, tokens, people, "caio", "submission", "submitted for review")

    decided = client.post(
        f"/api/v1/pilots/{pid}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed under the conditions below.",
            "waivers": waivers(client, pid, tokens["caio"]),
            "conditions": [
                {"text": "Publish a plain-language notice.", "due_date": FUTURE},
                {"text": "Upload the monitoring plan.", "due_date": FUTURE},
            ],
        },
        headers=tokens["caio"],
    ).get_json()
    expect(client, mailbox, tokens, people, "owner", "decision", "Decision on")

    first, second = (c["id"] for c in decided["conditions"])
    client.post(
        f"/api/v1/conditions/{first}/met", json={"note": "Published."}, headers=tokens["owner"]
    )
    expect(client, mailbox, tokens, people, "caio", "condition_reported", "reported met")
    client.post(
        f"/api/v1/conditions/{first}/verification", json={"accepted": True}, headers=tokens["caio"]
    )
    expect(client, mailbox, tokens, people, "owner", "condition_verified", "was accepted")

    patch(client, pid, tokens["owner"], {"purpose": "Now also ranks the applicants."})
    expect(client, mailbox, tokens, people, "caio", "material_change", "changed: purpose")

    patch(client, pid, tokens["owner"], {"owner_email": people["heir"].email})
    expect(client, mailbox, tokens, people, "heir", "ownership", "accountable owner")

    assert upload(client, pid, tokens["heir"], fair=True)["verdict"] == "pass"
    assert upload(client, pid, tokens["heir"], fair=False)["verdict"] == "fail"
    expect(client, mailbox, tokens, people, "heir", "bias_check_failed", "now fails")
    expect(client, mailbox, tokens, people, "caio", "bias_check_failed", "now fails")

    condition = db.session.get(Condition, second)
    condition.due_date = dt.date.today() - dt.timedelta(days=1)
    db.session.commit()
    assert runner.invoke(args=["reviews", "sweep"]).exit_code == 0
    expect(client, mailbox, tokens, people, "heir", "condition_overdue", "overdue")
    expect(client, mailbox, tokens, people, "caio", "condition_overdue", "overdue")

    resubmit = client.post(
        f"/api/v1/pilots/{pid}/resubmission-request",
        json={"reason": "The condition is overdue; please resubmit with the plan."},
        headers=tokens["caio"],
    )
    assert resubmit.status_code == 200
    expect(client, mailbox, tokens, people, "heir", "resubmission", "must be resubmitted")


def test_a_review_date_passing_tells_the_owner_and_the_caios(
    client, runner, factory, mailbox, people, tokens
):
    pilot = factory.pilot(people["owner"])
    client.post(f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"])
    client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve",
            "rationale": "Fine.",
            "waivers": waivers(client, pilot.id, tokens["caio"]),
        },
        headers=tokens["caio"],
    )
    from registry.catalog.models import Pilot

    factory.set_state(
        db.session.get(Pilot, pilot.id), next_review_at=dt.date.today() - dt.timedelta(days=1)
    )
    runner.invoke(args=["reviews", "sweep"])
    expect(client, mailbox, tokens, people, "owner", "review_due", "due for review")
    expect(client, mailbox, tokens, people, "caio", "review_due", "due for review")


def test_a_condition_met_by_its_item_tells_the_team(client, factory, mailbox, people, tokens):
    pilot = factory.pilot(people["owner"])
    from assessments import service
    from registry.catalog.models import Pilot
    from tests.factories import complete_answers

    _, questionnaire = service.questionnaire()
    service.assess(
        db.session.get(Pilot, pilot.id),
        complete_answers(questionnaire, pick="highest"),
        people["owner"],
    )
    client.post(f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"])
    covered = "privacy_impact_assessment"
    client.post(
        f"/api/v1/pilots/{pilot.id}/decisions",
        json={
            "decision": "approve_with_conditions",
            "rationale": "Proceed while the PIA is finished.",
            "waivers": [
                w for w in waivers(client, pilot.id, tokens["caio"]) if w["item_id"] != covered
            ],
            "conditions": [{"text": "Upload the PIA.", "due_date": FUTURE, "item_id": covered}],
        },
        headers=tokens["caio"],
    )
    from registry.catalog.models import Pilot

    factory.evidence(db.session.get(Pilot, pilot.id), people["owner"], kind="pia")
    expect(client, mailbox, tokens, people, "owner", "condition_met", "is met")


FORGED = "Benefits triage\r\n2026-11-30 12:00:00,000 INFO registry.auth: admin signed in"


def test_a_pilot_name_with_a_line_break_still_reaches_the_email(
    client, factory, mailbox, people, tokens
):
    """The Subject header is made safe; before, EmailMessage refused it and no email went."""
    pilot = factory.pilot(people["owner"], name=FORGED)
    assert "\n" in pilot.name
    submission = client.post(
        f"/api/v1/pilots/{pilot.id}/submission", json={"note": "Ready."}, headers=tokens["owner"]
    )
    assert submission.status_code == 201
    subject = mailbox.wait_for(people["caio"].email, "Benefits triage 2026-11-30 12:00:00,000")
    assert "\n" not in subject and "\r" not in subject


def test_a_pilot_name_with_a_line_break_cannot_forge_a_log_line(app, client, factory, people):
    """Every record is one line: CR and LF inside a message are escaped."""
    handler = app.logger.handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        pilot = factory.pilot(people["owner"], name=FORGED)
        headers = factory.headers(people["owner"])
        response = client.post(
            f"/api/v1/pilots/{pilot.id}/submission", json={"note": "Ready."}, headers=headers
        )
        assert response.status_code == 201
    finally:
        handler.setStream(previous)
    lines = buffer.getvalue().splitlines()
    mentions = [line for line in lines if "Benefits triage" in line]
    assert mentions, lines  # the notification is logged (no SMTP configured here)
    assert all("\\r\\n2026-11-30 12:00:00,000 INFO" in line for line in mentions)
    assert not any(line.startswith("2026-11-30 12:00:00,000") for line in lines)
