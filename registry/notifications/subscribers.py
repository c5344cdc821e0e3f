"""Who is told what: the notifications the product promises, each a subscriber to a signal.

Each message goes to the in-app inbox in the sender's transaction, and by email after the
commit when SMTP is configured (see `service.notify`).
"""

from __future__ import annotations

from typing import Any

from registry import signals
from registry.catalog.vocabulary import DecisionKind, field_label
from registry.notifications.service import caios, notify


def _team(pilot: Any) -> list[Any]:
    return [pilot.owner, *pilot.team_members]


def _url(pilot: Any) -> str:
    return f"/pilots/{pilot.id}"


def on_submitted(pilot: Any, *, actor: Any, revision: int, note: str | None, **_: Any) -> None:
    body = f"{actor.name} submitted revision {revision} of “{pilot.name}” for review."
    if note:
        body += f"\n\nNote for the reviewers: {note}"
    notify(
        caios(),
        kind="submission",
        subject=f"“{pilot.name}” was submitted for review",
        body=body,
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_decision(pilot: Any, *, actor: Any, decision: Any, **_: Any) -> None:
    kind = DecisionKind(decision.decision)
    scope = f" for {decision.stage_label.lower()}" if decision.stage else ""
    notify(
        _team(pilot),
        kind="decision",
        subject=f"Decision on “{pilot.name}”: {kind.label.lower()}{scope}",
        body=decision.rationale or "",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_material_change(pilot: Any, *, actor: Any, fields: list[str], **_: Any) -> None:
    changed = ", ".join(field_label(name).lower() for name in fields)
    notify(
        caios(),
        kind="material_change",
        subject=f"Approved pilot “{pilot.name}” changed: {changed}",
        body=(
            f"{actor.name} changed {changed} after the approval. The approved revision stays "
            "in force until a CAIO decides on the changes."
        ),
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_ownership(pilot: Any, *, actor: Any, previous: Any, **_: Any) -> None:
    notify(
        [pilot.owner],
        kind="ownership",
        subject=f"You are now the accountable owner of “{pilot.name}”",
        body=f"{actor.name} transferred ownership to you from {previous.name}.",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_resubmission(pilot: Any, *, actor: Any, reason: str, **_: Any) -> None:
    notify(
        _team(pilot),
        kind="resubmission",
        subject=f"“{pilot.name}” must be resubmitted for review",
        body=reason,
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_review_due(pilot: Any, *, reason: str, **_: Any) -> None:
    notify(
        [pilot.owner, *caios()],
        kind="review_due",
        subject=f"“{pilot.name}” is due for review",
        body=reason,
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_bias_flip(pilot: Any, *, previous: Any, current: Any, **_: Any) -> None:
    notify(
        [pilot.owner, *caios()],
        kind="bias_check_failed",
        subject=(
            f"Bias check on “{pilot.name}” now fails (it passed on {previous.finished_at:%Y-%m-%d})"
        ),
        body=f"Check {current.id} failed where check {previous.id} passed.",
        url=f"/bias-checks/{current.id}",
        pilot_id=pilot.id,
    )


def on_condition_reported(pilot: Any, *, condition: Any, actor: Any, **_: Any) -> None:
    notify(
        caios(),
        kind="condition_reported",
        subject=f"A condition on “{pilot.name}” is reported met",
        body=f"{actor.name}: {condition.report_note}\n\nCondition: {condition.text}",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_condition_verified(
    pilot: Any, *, condition: Any, actor: Any, accepted: bool, **_: Any
) -> None:
    verdict = "accepted: it is met" if accepted else "sent back: something is missing"
    notify(
        _team(pilot),
        kind="condition_verified",
        subject=f"Your report on a condition of “{pilot.name}” was {verdict.split(':')[0]}",
        body=f"Condition: {condition.text}\n\n{actor.name} {verdict}."
        + (f"\n\n{condition.met_note}" if accepted and condition.met_note else ""),
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_condition_met(pilot: Any, *, condition: Any, **_: Any) -> None:
    notify(
        _team(pilot),
        kind="condition_met",
        subject=f"A condition on “{pilot.name}” is met",
        body=f"Condition: {condition.text}\n\n{condition.met_note}",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_condition_overdue(pilot: Any, *, condition: Any, **_: Any) -> None:
    notify(
        [pilot.owner, *caios()],
        kind="condition_overdue",
        subject=f"A condition on “{pilot.name}” is overdue; the pilot is due for review",
        body=f"Condition: {condition.text}\n\nIt was due on {condition.due_date.isoformat()}.",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


SUBSCRIPTIONS = {
    signals.pilot_submitted: on_submitted,
    signals.decision_recorded: on_decision,
    signals.material_change: on_material_change,
    signals.ownership_transferred: on_ownership,
    signals.resubmission_required: on_resubmission,
    signals.review_due: on_review_due,
    signals.bias_check_flipped: on_bias_flip,
    signals.condition_reported: on_condition_reported,
    signals.condition_verified: on_condition_verified,
    signals.condition_met: on_condition_met,
    signals.condition_overdue: on_condition_overdue,
}


def subscribe() -> None:
    for signal, receiver in SUBSCRIPTIONS.items():
        signal.connect(receiver)
