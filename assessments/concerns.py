"""Concerns from the public: reporting one about a published use case, following it by its
reference, and the CAIO office's triage (respond, dismiss, merge a duplicate, open an
incident) against a first-response clock counted in working days.

The description is kept exactly as sent; pages escape it wherever they show it. The optional
contact address is used only to email the submitter when the status changes; it is never in
the audit trail (which cannot be erased) nor shown to the public. Each public function owns
its transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from assessments import incidents
from assessments.trust_models import Concern, Incident
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.catalog.models import Pilot, PublishedVersion
from registry.catalog.vocabulary import ConcernStatus, IncidentStatus
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

MAX_DESCRIPTION = 5_000
MAX_RESPONSE = 5_000
MIN_REASON = 20
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def add_working_days(day: dt.date, days: int) -> dt.date:
    """The date ``days`` working days (Monday to Friday) after ``day``."""
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _reference() -> str:
    for _ in range(20):
        candidate = "C-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))
        if db.session.scalar(select(Concern.id).where(Concern.reference == candidate)) is None:
            return candidate
    raise RuntimeError("could not find a free concern reference")  # 32**10: never in practice


def published_use_case(use_case_id: str) -> PublishedVersion | None:
    """The current public version of a listed use case, by its ID."""
    return db.session.scalar(
        select(PublishedVersion).where(
            PublishedVersion.use_case_id == use_case_id,
            PublishedVersion.is_current.is_(True),
            PublishedVersion.listed.is_(True),
        )
    )


def check_report(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a report, by field, in plain words (nothing is stored)."""
    errors: dict[str, list[str]] = {}
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        errors["description"] = ["Describe your concern."]
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = [
            f"Use at most {MAX_DESCRIPTION:,} characters; this is {len(description):,}."
        ]
    email = data.get("contact_email")
    if email not in (None, "") and (not isinstance(email, str) or not _EMAIL.match(email.strip())):
        errors["contact_email"] = [
            "Enter an email address like name@example.org, or leave it empty."
        ]
    use_case_id = data.get("use_case_id")
    if not isinstance(use_case_id, str) or not use_case_id.strip():
        errors["use_case_id"] = ["Say which use case the concern is about."]
    elif len(use_case_id) > 64 or published_use_case(use_case_id.strip()) is None:
        errors["use_case_id"] = [f"There is no published use case with the ID {use_case_id[:64]}."]
    return errors


def submit(data: Mapping[str, Any]) -> Concern:
    """Record a concern from the public about a published use case (422 naming each problem)."""
    errors = check_report(data)
    if errors:
        raise ValidationFailed("The concern could not be sent.", errors)
    version = published_use_case(data["use_case_id"].strip())
    now = dt.datetime.now(dt.UTC)
    days = int(current_app.config.get("CONCERN_FIRST_RESPONSE_WORKING_DAYS") or 10)
    concern = Concern(
        reference=_reference(),
        pilot_id=version.pilot_id,
        use_case_id=version.use_case_id,
        description=data["description"],
        contact_email=(data.get("contact_email") or "").strip().lower() or None,
        status=ConcernStatus.NEW.value,
        received_at=now,
        first_response_due=add_working_days(now.date(), days),
    )
    db.session.add(concern)
    db.session.flush()
    audit.record(
        None,
        "concern_received",
        "concern",
        concern.id,
        {
            "reference": concern.reference,
            "pilot_id": concern.pilot_id,
            "use_case_id": concern.use_case_id,
            "description_sha256": _digest(concern.description),
            "contact_given": concern.contact_email is not None,
        },
    )
    pilot = db.session.get(Pilot, concern.pilot_id)
    signals.concern_received.send(pilot, concern=concern)
    db.session.commit()
    return concern


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- what the public sees -------------------------------------------------------------------


def by_reference(reference: str) -> Concern:
    concern = None
    if isinstance(reference, str) and len(reference) <= 20:
        concern = db.session.scalar(
            select(Concern).where(Concern.reference == reference.strip().upper())
        )
    if concern is None:
        raise NotFound(
            f"There is no concern with the reference {str(reference)[:20]}. Check the reference "
            "you were given when you sent it."
        )
    return concern


def public_status(concern: Concern) -> dict[str, Any]:
    """The concern's status and the agency's public response, without personal data."""
    incident = db.session.get(Incident, concern.incident_id) if concern.incident_id else None
    merged = db.session.get(Concern, concern.merged_into_id) if concern.merged_into_id else None
    version = published_use_case(concern.use_case_id)
    return {
        "reference": concern.reference,
        "status": concern.status,
        "status_label": concern.status_label,
        "use_case_id": concern.use_case_id,
        "use_case_name": version.name if version else None,
        "received_at": concern.received_at,
        "first_response_due": concern.first_response_due,
        "response": concern.public_response,
        "responded_at": concern.responded_at,
        "merged_into": merged.reference if merged else None,
        "incident_status": incident.status if incident else None,
        "incident_status_label": incident.status_label if incident else None,
    }


def public_counts(pilot_id: int) -> dict[str, list[dict[str, Any]]]:
    """How many concerns and incidents a use case has had, by status (no personal data)."""
    concerns = Counter(
        dict(
            db.session.execute(
                select(Concern.status, func.count())
                .where(Concern.pilot_id == pilot_id)
                .group_by(Concern.status)
            ).all()
        )
    )
    found = Counter(
        dict(
            db.session.execute(
                select(Incident.status, func.count())
                .where(Incident.pilot_id == pilot_id)
                .group_by(Incident.status)
            ).all()
        )
    )
    return {
        "concerns": [
            {"status": s.value, "label": s.label, "count": concerns[s.value]}
            for s in ConcernStatus
            if concerns[s.value]
        ],
        "concerns_total": sum(concerns.values()),
        "incidents": [
            {"status": s.value, "label": s.label, "count": found[s.value]}
            for s in IncidentStatus
            if found[s.value]
        ],
        "incidents_total": sum(found.values()),
    }


# ---- triage ---------------------------------------------------------------------------------------


def get_concern(concern_id: int) -> Concern:
    concern = db.session.get(Concern, concern_id)
    if concern is None:
        raise NotFound(f"There is no concern {concern_id}.")
    return concern


def queue(
    actor: Any, filters: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[Concern], int]:
    """Concerns for the CAIO office: new ones first, by their first-response due date."""
    authorize(actor, "concern.read")
    conditions = []
    if filters.get("status"):
        conditions.append(Concern.status == filters["status"])
    if filters.get("pilot_id") is not None:
        conditions.append(Concern.pilot_id == filters["pilot_id"])
    if filters.get("overdue"):
        conditions.extend(_overdue(dt.datetime.now(dt.UTC).date()))
    total = db.session.scalar(select(func.count()).select_from(Concern).where(*conditions))
    rows = db.session.scalars(
        select(Concern)
        .where(*conditions)
        .order_by(
            (Concern.status != ConcernStatus.NEW.value),
            Concern.first_response_due,
            Concern.id,
        )
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(rows), int(total or 0)


def _overdue(on: dt.date) -> list[Any]:
    """New concerns whose first-response date has passed."""
    return [Concern.status == ConcernStatus.NEW.value, Concern.first_response_due < on]


def overdue_count(on: dt.date | None = None) -> int:
    on = on or dt.datetime.now(dt.UTC).date()
    return int(
        db.session.scalar(select(func.count()).select_from(Concern).where(*_overdue(on))) or 0
    )


def overdue_by_pilot(on: dt.date | None = None) -> dict[int, int]:
    """How many concerns are past their first-response date, per pilot (the dashboard)."""
    on = on or dt.datetime.now(dt.UTC).date()
    rows = db.session.execute(
        select(Concern.pilot_id, func.count()).where(*_overdue(on)).group_by(Concern.pilot_id)
    ).all()
    return {pilot_id: int(n) for pilot_id, n in rows}


def _text(value: Any, key: str, what: str, minimum: int = 1) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if len(text) < minimum:
        raise ValidationFailed(f"{what}.", {key: [f"{what}."]})
    if len(text) > MAX_RESPONSE:
        raise ValidationFailed(
            "The text is too long.", {key: [f"Use at most {MAX_RESPONSE:,} characters."]}
        )
    return text


def triage(concern: Concern, data: Mapping[str, Any], actor: Any) -> Concern:
    """The CAIO office acts on a concern: ``respond`` publicly, ``dismiss`` with a public
    reason, ``merge`` it into an earlier report (``into``: its reference), or ``open_incident``
    (``incident``: the incident's fields)."""
    authorize(actor, "concern.triage")
    action = data.get("action")
    before = concern.status
    now = dt.datetime.now(dt.UTC)
    if concern.status in (ConcernStatus.DISMISSED, ConcernStatus.MERGED) and action != "respond":
        message = f"The concern is {concern.status_label.lower()}; only a response can be added."
        raise Conflict(message, {"status": [message]})
    if action == "respond":
        concern.public_response = _text(
            data.get("response"), "response", "Write the response the public will read"
        )
        if concern.status == ConcernStatus.NEW:
            concern.status = ConcernStatus.RESPONDED.value
    elif action == "dismiss":
        concern.public_response = _text(
            data.get("reason") or data.get("response"),
            "reason",
            "Give the public reason for closing the concern, in at least a sentence",
            MIN_REASON,
        )
        concern.status = ConcernStatus.DISMISSED.value
    elif action == "merge":
        target = by_reference(str(data.get("into") or ""))
        if target.id == concern.id or target.merged_into_id == concern.id:
            raise ValidationFailed(
                "Choose another report.", {"into": ["A concern cannot be merged into itself."]}
            )
        while target.merged_into_id is not None:
            target = db.session.get(Concern, target.merged_into_id)
        concern.merged_into_id = target.id
        concern.status = ConcernStatus.MERGED.value
        concern.public_response = (
            data.get("response") or ""
        ).strip() or f"This is the same problem as report {target.reference}, which is followed up."
    elif action == "open_incident":
        if concern.incident_id is not None:
            raise Conflict(
                "An incident is already open for this concern.",
                {"incident": [f"Incident {concern.incident_id} was opened from it."]},
            )
        fields = dict(data.get("incident") or {})
        if not fields.get("severity"):
            raise ValidationFailed(
                "Choose the incident's severity.", {"incident.severity": ["Choose a severity."]}
            )
        fields["pilot_id"] = concern.pilot_id
        fields.setdefault("description", f"Reported by the public (concern {concern.reference}).")
        incident = incidents.open_incident(fields, actor, commit=False)
        concern.incident_id = incident.id
        concern.status = ConcernStatus.INCIDENT.value
        if data.get("response"):
            concern.public_response = _text(data.get("response"), "response", "Write a response")
    else:
        raise ValidationFailed(
            "Choose what to do with the concern.",
            {"action": ["Choose respond, dismiss, merge or open_incident."]},
        )
    if concern.public_response:
        concern.responded_at = now
        concern.responded_by_id = actor.id
    if concern.first_response_at is None:
        concern.first_response_at = now
    db.session.flush()
    audit.record(
        actor,
        "triage_concern",
        "concern",
        concern.id,
        {
            "action": action,
            "status": {"before": before, "after": concern.status},
            "response": concern.public_response,
            "merged_into": concern.merged_into_id,
            "incident_id": concern.incident_id,
        },
    )
    pilot = db.session.get(Pilot, concern.pilot_id)
    signals.concern_updated.send(pilot, concern=concern, actor=actor)
    db.session.commit()
    return concern


def for_pilot(pilot: Pilot) -> list[Concern]:
    return list(
        db.session.scalars(
            select(Concern).where(Concern.pilot_id == pilot.id).order_by(Concern.id.desc())
        )
    )
