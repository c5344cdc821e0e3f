"""Who is told what: the notifications the product promises, each a subscriber to a signal.

Each message goes to the in-app inbox in the sender's transaction, and by email after the
commit when SMTP is configured (see `service.notify`).
"""

from __future__ import annotations

from typing import Any

from registry import signals
from registry.catalog.vocabulary import (
    ConcernStatus,
    DecisionKind,
    IncidentSeverity,
    PublicationAction,
    field_label,
)
from registry.notifications.service import caios, email_address, notify


def _team(pilot: Any) -> list[Any]:
    return [pilot.owner, *pilot.team_members]


def _url(pilot: Any) -> str:
    return f"/pilots/{pilot.id}"


def on_submitted(pilot: Any, *, actor: Any, revision: int, note: str | None, **_: Any) -> None:
    body = f"{actor.name} submitted revision {revision} of “{pilot.name}” for review."
    if note:
        body += f"\n\nNote for the reviewers: {note}"
    notify(
        caios(pilot),
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
        caios(pilot),
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
        [pilot.owner, *caios(pilot)],
        kind="review_due",
        subject=f"“{pilot.name}” is due for review",
        body=reason,
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_bias_flip(pilot: Any, *, previous: Any, current: Any, **_: Any) -> None:
    notify(
        [pilot.owner, *caios(pilot)],
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
        caios(pilot),
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
        [pilot.owner, *caios(pilot)],
        kind="condition_overdue",
        subject=f"A condition on “{pilot.name}” is overdue; the pilot is due for review",
        body=f"Condition: {condition.text}\n\nIt was due on {condition.due_date.isoformat()}.",
        url=_url(pilot),
        pilot_id=pilot.id,
    )


def on_publication_changed(pilot: Any, *, actor: Any, version: Any, **_: Any) -> None:
    if version is None:
        subject = f"The public record of “{pilot.name}” is ready to publish"
        body = "An editor marked the record ready; a publisher can now publish it."
        recipients = [*_team(pilot), *caios(pilot)]
    else:
        action = PublicationAction(version.action)
        subject = (
            f"Public record of “{pilot.name}”: {action.label.lower()} (version {version.number})"
        )
        body = version.reason or ""
        recipients = _team(pilot)
    notify(
        recipients,
        kind="publication",
        subject=subject,
        body=body,
        url=f"/pilots/{pilot.id}/publication",
        pilot_id=pilot.id,
    )


def on_concern_received(pilot: Any, *, concern: Any, **_: Any) -> None:
    notify(
        caios(pilot),
        kind="concern",
        subject=f"A concern from the public about “{pilot.name}” ({concern.reference})",
        body=(
            f"A first response is due by {concern.first_response_due.isoformat()}. Read it and "
            "triage it in the concerns queue."
        ),
        url=f"/concerns/{concern.id}",
        pilot_id=pilot.id,
    )


def on_concern_updated(pilot: Any, *, concern: Any, **_: Any) -> None:
    """The public submitter is emailed the new status, if they left an address."""
    if not concern.contact_email:
        return
    status = ConcernStatus(concern.status)
    body = f"Your report {concern.reference} about “{pilot.name}”: {status.label}."
    if concern.public_response:
        body += f"\n\nThe agency's response:\n{concern.public_response}"
    email_address(
        concern.contact_email,
        subject=f"Your report {concern.reference}: {status.label.lower()}",
        body=body,
        url=f"/public/concerns/{concern.reference}",
    )


def on_incident_opened(pilot: Any, *, incident: Any, actor: Any, **_: Any) -> None:
    severity = IncidentSeverity(incident.severity)
    consequence = (
        " The pilot is due for review, and no approval can be given while it is open."
        if severity.is_serious
        else ""
    )
    notify(
        [pilot.owner, *caios(pilot)],
        kind="incident",
        subject=f"{severity.label} incident on “{pilot.name}”: {incident.title}",
        body=f"{actor.name} recorded it.{consequence}",
        url=f"/incidents/{incident.id}",
        pilot_id=pilot.id,
    )


def on_incident_updated(pilot: Any, *, incident: Any, actor: Any, changes: Any, **_: Any) -> None:
    if not {"status", "severity"} & set(changes):
        return
    notify(
        [pilot.owner, *caios(pilot)],
        kind="incident",
        subject=f"Incident on “{pilot.name}” is now {incident.status_label.lower()} "
        f"({incident.severity_label.lower()})",
        body=f"{actor.name} changed it: {incident.title}",
        url=f"/incidents/{incident.id}",
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
    signals.publication_changed: on_publication_changed,
    signals.concern_received: on_concern_received,
    signals.concern_updated: on_concern_updated,
    signals.incident_opened: on_incident_opened,
    signals.incident_updated: on_incident_updated,
}


def subscribe() -> None:
    for signal, receiver in SUBSCRIPTIONS.items():
        signal.connect(receiver)
