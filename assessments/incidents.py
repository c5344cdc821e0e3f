"""Incidents: what went wrong with a use case, its actions, and how it was closed.

A serious or critical incident that is neither resolved nor accepted marks the pilot "review
due" (through the lifecycle), tells the owner and the CAIOs (`incident_opened`), and blocks
any new approval (`blocking_for`, a fact that the review workflow passes to the lifecycle).
Each public function owns its transaction, unless it says it runs in the caller's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from assessments.models import BiasCheck, Evidence
from assessments.trust_models import Incident, IncidentAction
from registry import audit, signals
from registry.auth.models import User
from registry.auth.permissions import authorize
from registry.catalog import lifecycle
from registry.catalog.models import Pilot, PilotRevision
from registry.catalog.vocabulary import IncidentSeverity, IncidentStatus
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

MIN_JUSTIFICATION = 20


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def blocking_for(pilot: Pilot) -> list[dict[str, Any]]:
    """The pilot's serious or critical incidents that are neither resolved nor accepted."""
    rows = db.session.scalars(
        select(Incident)
        .where(
            Incident.pilot_id == pilot.id,
            Incident.severity.in_([s.value for s in IncidentSeverity if s.is_serious]),
            Incident.status.not_in([s.value for s in IncidentStatus if s.is_closed]),
        )
        .order_by(Incident.id)
    ).all()
    return [
        {"id": i.id, "title": i.title, "severity": i.severity, "status": i.status_label.lower()}
        for i in rows
    ]


def open_serious(limit: int | None = None) -> list[Incident]:
    """Every open serious or critical incident, most severe and oldest first (dashboard)."""
    stmt = (
        select(Incident)
        .where(
            Incident.severity.in_([s.value for s in IncidentSeverity if s.is_serious]),
            Incident.status.not_in([s.value for s in IncidentStatus if s.is_closed]),
        )
        .order_by(Incident.severity.asc(), Incident.detected_at, Incident.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def get_incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"There is no incident {incident_id}.")
    return incident


def page_of_incidents(
    filters: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[Incident], int]:
    """Incidents, newest first, filtered by pilot, status and severity."""
    conditions = []
    for key, column in (
        ("pilot_id", Incident.pilot_id),
        ("status", Incident.status),
        ("severity", Incident.severity),
    ):
        if filters.get(key) is not None:
            conditions.append(column == filters[key])
    if filters.get("visible_to") is not None:  # need-to-know: no incidents of withheld pilots
        from registry.catalog.service import readable_pilot_ids

        conditions.append(Incident.pilot_id.in_(readable_pilot_ids(filters["visible_to"])))
    total = db.session.scalar(select(func.count()).select_from(Incident).where(*conditions))
    items = db.session.scalars(
        select(Incident)
        .where(*conditions)
        .order_by(Incident.detected_at.desc(), Incident.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(items), int(total or 0)


def for_pilot(pilot: Pilot) -> list[Incident]:
    return list(
        db.session.scalars(
            select(Incident).where(Incident.pilot_id == pilot.id).order_by(Incident.id.desc())
        )
    )


# ---- validation ---------------------------------------------------------------------------------


def _owner(email: str | None, key: str, errors: dict[str, list[str]]) -> User | None:
    if not email:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        errors.setdefault(key, []).append(f"No active user has the email {email}.")
        return None
    return user


def _check_links(pilot: Pilot, data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    for key, model in (("bias_check_ids", BiasCheck), ("evidence_ids", Evidence)):
        ids = list(dict.fromkeys(data.get(key) or []))
        if not ids:
            continue
        found = set(
            db.session.scalars(
                select(model.id).where(model.id.in_(ids), model.pilot_id == pilot.id)
            )
        )
        for missing in [i for i in ids if i not in found]:
            errors.setdefault(key, []).append(f"{missing} is not one of this pilot's records.")
    numbers = list(dict.fromkeys(data.get("revision_numbers") or []))
    if numbers:
        found = set(
            db.session.scalars(
                select(PilotRevision.number).where(
                    PilotRevision.pilot_id == pilot.id, PilotRevision.number.in_(numbers)
                )
            )
        )
        for missing in [n for n in numbers if n not in found]:
            errors.setdefault("revision_numbers", []).append(
                f"The pilot has no revision {missing}."
            )


def _actions(
    data: Mapping[str, Any], start: dt.date, errors: dict[str, list[str]]
) -> list[IncidentAction] | None:
    """The immediate and corrective actions given, checked; None when none were given."""
    given = []
    if "immediate_action" in data:
        if data["immediate_action"]:
            given.append(("immediate", "immediate_action", data["immediate_action"]))
    for index, action in enumerate(data.get("corrective_actions") or []):
        given.append(("corrective", f"corrective_actions[{index}]", action))
    if "immediate_action" not in data and "corrective_actions" not in data:
        return None
    built = []
    for kind, key, action in given:
        description = (action.get("description") or "").strip()
        if not description:
            errors.setdefault(f"{key}.description", []).append("Describe the action.")
        due = action.get("due_date")
        if due is None:
            errors.setdefault(f"{key}.due_date", []).append("Enter the date it is due.")
        elif due < start:
            errors.setdefault(f"{key}.due_date", []).append(
                f"The date {due.isoformat()} is before the incident ({start.isoformat()}); "
                "enter a later date."
            )
        owner = _owner(action.get("owner_email"), f"{key}.owner_email", errors)
        if action.get("owner_email") is None:
            errors.setdefault(f"{key}.owner_email", []).append("Name who owns the action.")
        built.append(
            IncidentAction(
                kind=kind,
                description=description,
                owner_id=owner.id if owner else None,
                due_date=due,
                done=bool(action.get("done", False)),
            )
        )
    return built


def _check_dates(
    occurred: dt.datetime | None, detected: dt.datetime, errors: dict[str, list[str]]
) -> None:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    if occurred is not None and occurred > now:
        errors.setdefault("occurred_at", []).append("The incident cannot have occurred later.")
    if detected > now:
        errors.setdefault("detected_at", []).append("The detection date is in the future.")
    if occurred is not None and detected < occurred:
        errors.setdefault("detected_at", []).append(
            "It cannot have been detected before it occurred."
        )


def _check_status(
    incident: Incident, status: str, data: Mapping[str, Any], actor: Any, errors: dict
) -> None:
    if status == IncidentStatus.ACCEPTED:
        authorize(actor, "incident.accept", incident)
        justification = (
            data.get("acceptance_justification") or incident.acceptance_justification or ""
        ).strip()
        if len(justification) < MIN_JUSTIFICATION or " " not in justification:
            errors.setdefault("acceptance_justification", []).append(
                "Justify in at least a sentence why the remaining risk is accepted."
            )


# ---- writing ------------------------------------------------------------------------------------


def _values(incident: Incident) -> dict[str, Any]:
    return {
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "status": incident.status,
        "harm_categories": list(incident.harm_categories or []),
        "affected_groups": list(incident.affected_groups or []),
        "occurred_at": audit.service.jsonable(incident.occurred_at),
        "detected_at": audit.service.jsonable(incident.detected_at),
        "bias_check_ids": list(incident.bias_check_ids or []),
        "evidence_ids": list(incident.evidence_ids or []),
        "revision_numbers": list(incident.revision_numbers or []),
        "resolution": incident.resolution,
        "acceptance_justification": incident.acceptance_justification,
        "actions": [
            {
                "kind": a.kind,
                "description": a.description,
                "owner_id": a.owner_id,
                "due_date": audit.service.jsonable(a.due_date),
                "done": a.done,
            }
            for a in incident.actions
        ],
    }


def _mark_review_due(pilot: Pilot, incident: Incident, actor: Any) -> None:
    if incident.is_blocking:
        lifecycle.mark_review_due(
            pilot,
            f"a {incident.severity_label.lower()} incident is open: {incident.title}",
            actor,
            announce=False,
        )


def open_incident(data: Mapping[str, Any], actor: Any, *, commit: bool = True) -> Incident:
    """Record an incident on a pilot (the CAIO office, or the pilot's own team)."""
    pilot = db.session.get(Pilot, data["pilot_id"])
    if pilot is None:
        raise ValidationFailed(
            "The incident could not be recorded.",
            {"pilot_id": [f"There is no pilot {data['pilot_id']}."]},
        )
    authorize(actor, "incident.open", pilot)
    severity = IncidentSeverity(data["severity"])
    status = IncidentStatus(data.get("status") or IncidentStatus.OPEN)
    errors: dict[str, list[str]] = {}
    occurred = _utc(data.get("occurred_at"))
    detected = _utc(data.get("detected_at")) or dt.datetime.now(dt.UTC)
    _check_dates(occurred, detected, errors)
    _check_links(pilot, data, errors)
    start = (occurred or detected).date()
    actions = _actions(data, start, errors) or []
    incident = Incident(
        pilot_id=pilot.id,
        title=(data.get("title") or "").strip()
        or f"{severity.label} incident on {pilot.name}"[:300],
        description=data.get("description"),
        severity=severity.value,
        status=IncidentStatus.OPEN.value,
        harm_categories=list(dict.fromkeys(data.get("harm_categories") or [])),
        affected_groups=list(dict.fromkeys(data.get("affected_groups") or [])),
        occurred_at=occurred,
        detected_at=detected,
        bias_check_ids=list(dict.fromkeys(data.get("bias_check_ids") or [])),
        evidence_ids=list(dict.fromkeys(data.get("evidence_ids") or [])),
        revision_numbers=list(dict.fromkeys(data.get("revision_numbers") or [])),
        resolution=data.get("resolution"),
        acceptance_justification=data.get("acceptance_justification"),
        reported_by_id=actor.id,
        actions=actions,
    )
    if status != IncidentStatus.OPEN:
        _check_status(incident, status, data, actor, errors)
    if errors:
        raise ValidationFailed("The incident could not be recorded.", errors)
    _set_status(incident, status, actor)
    db.session.add(incident)
    db.session.flush()
    audit.record_change(
        actor,
        "open_incident",
        "incident",
        incident.id,
        None,
        {"pilot_id": pilot.id, **_values(incident)},
    )
    _mark_review_due(pilot, incident, actor)
    signals.incident_opened.send(pilot, incident=incident, actor=actor)
    if commit:
        db.session.commit()
    return incident


def _set_status(incident: Incident, status: IncidentStatus, actor: Any) -> None:
    if status.is_closed and not IncidentStatus(incident.status or "open").is_closed:
        incident.closed_at = dt.datetime.now(dt.UTC)
        incident.closed_by_id = actor.id
    elif not status.is_closed:
        incident.closed_at = None
        incident.closed_by_id = None
    incident.status = status.value


def update_incident(
    incident: Incident, data: Mapping[str, Any], actor: Any, *, expected_version: int | None = None
) -> Incident:
    """Change an incident: its status (accepting needs a CAIO and a justification), severity,
    what is known of it, and its actions (a list given replaces the list held)."""
    pilot = db.session.get(Pilot, incident.pilot_id)
    authorize(actor, "incident.update", pilot)
    lifecycle.check_version(incident.version, expected_version)
    before = _values(incident)
    was_blocking = incident.is_blocking
    errors: dict[str, list[str]] = {}
    occurred = _utc(data["occurred_at"]) if "occurred_at" in data else incident.occurred_at
    detected = _utc(data.get("detected_at")) or _utc(incident.detected_at)
    _check_dates(_utc(occurred), detected, errors)
    _check_links(pilot, data, errors)
    start = (_utc(occurred) or detected).date()
    actions = _actions(data, start, errors)
    status = IncidentStatus(data.get("status") or incident.status)
    if status != IncidentStatus(incident.status) or "acceptance_justification" in data:
        _check_status(incident, status, data, actor, errors)
    if errors:
        raise ValidationFailed("The incident could not be saved.", errors)
    for key in (
        "title",
        "description",
        "severity",
        "harm_categories",
        "affected_groups",
        "bias_check_ids",
        "evidence_ids",
        "revision_numbers",
        "resolution",
        "acceptance_justification",
    ):
        if key in data and not (key == "title" and not (data[key] or "").strip()):
            value = data[key]
            if isinstance(value, list):
                value = list(dict.fromkeys(value))
            setattr(incident, key, value)
    incident.occurred_at = _utc(occurred)
    incident.detected_at = detected
    if actions is not None:
        incident.actions = actions
    _set_status(incident, status, actor)
    db.session.flush()
    changes = audit.service.diff(before, _values(incident))
    if changes:
        audit.record(
            actor, "update_incident", "incident", incident.id, {"pilot_id": pilot.id, **changes}
        )
        if not was_blocking:
            _mark_review_due(pilot, incident, actor)
        signals.incident_updated.send(pilot, incident=incident, actor=actor, changes=changes)
    db.session.commit()
    return incident
