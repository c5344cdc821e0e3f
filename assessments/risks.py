"""A use case's risk register: each risk's inherent and residual likelihood x severity, its
mitigations (linked to evidence or conditions), owner and review date.

A change tells the compliance snapshot to look again (a policy may require a register). Each
public function owns its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from assessments.models import Condition, Evidence
from assessments.trust_models import Risk
from registry import audit, signals
from registry.auth.models import User
from registry.auth.permissions import authorize
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

LEVELS = range(1, 6)
DEFAULT_CATEGORY = "Other"


def for_pilot(pilot: Pilot) -> list[Risk]:
    """The pilot's risks, highest residual level first."""
    risks = db.session.scalars(select(Risk).where(Risk.pilot_id == pilot.id)).all()
    return sorted(risks, key=lambda r: (-r.residual_level, -r.inherent_level, r.id))


def top_residual(limit: int = 10) -> list[Risk]:
    """The portfolio's highest residual risks (the board packet leads with them)."""
    risks = db.session.scalars(select(Risk)).all()
    return sorted(risks, key=lambda r: (-r.residual_level, -r.inherent_level, r.id))[:limit]


def get_risk(risk_id: int) -> Risk:
    risk = db.session.get(Risk, risk_id)
    if risk is None:
        raise NotFound(f"There is no risk {risk_id}.")
    return risk


def _check(pilot: Pilot, data: Mapping[str, Any], current: Risk | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in ("likelihood", "severity", "residual_likelihood", "residual_severity"):
        value = data.get(key)
        if value is not None and value not in LEVELS:
            errors[key] = [f"Choose a number from 1 to 5 (got {value})."]
    if current is None:
        for key in ("likelihood", "severity"):
            if data.get(key) is None:
                errors.setdefault(key, []).append("Choose a number from 1 to 5.")
    residual = {
        key: data[key] if key in data else getattr(current, key, None)
        for key in ("residual_likelihood", "residual_severity")
    }
    if (residual["residual_likelihood"] is None) != (residual["residual_severity"] is None):
        missing = [k for k, v in residual.items() if v is None][0]
        errors.setdefault(missing, []).append(
            "Give both the residual likelihood and the residual severity, or neither."
        )
    for key, model in (
        ("mitigation_evidence_ids", Evidence),
        ("mitigation_condition_ids", Condition),
    ):
        ids = list(dict.fromkeys(data.get(key) or []))
        if ids:
            found = set(
                db.session.scalars(
                    select(model.id).where(model.id.in_(ids), model.pilot_id == pilot.id)
                )
            )
            for missing in [i for i in ids if i not in found]:
                errors.setdefault(key, []).append(f"{missing} is not one of this pilot's records.")
    if data.get("owner_email"):
        user = db.session.scalar(select(User).where(User.email == data["owner_email"].lower()))
        if user is None or not user.active:
            errors["owner_email"] = [f"No active user has the email {data['owner_email']}."]
    return errors


def _values(risk: Risk) -> dict[str, Any]:
    return {
        "category": risk.category,
        "description": risk.description,
        "likelihood": risk.likelihood,
        "severity": risk.severity,
        "mitigation": risk.mitigation,
        "mitigation_evidence_ids": list(risk.mitigation_evidence_ids or []),
        "mitigation_condition_ids": list(risk.mitigation_condition_ids or []),
        "residual_likelihood": risk.residual_likelihood,
        "residual_severity": risk.residual_severity,
        "owner_id": risk.owner_id,
        "review_date": audit.service.jsonable(risk.review_date),
    }


def _apply(risk: Risk, data: Mapping[str, Any]) -> None:
    for key in (
        "category",
        "description",
        "likelihood",
        "severity",
        "mitigation",
        "residual_likelihood",
        "residual_severity",
        "review_date",
    ):
        if key in data:
            setattr(risk, key, data[key])
    for key in ("mitigation_evidence_ids", "mitigation_condition_ids"):
        if key in data:
            setattr(risk, key, list(dict.fromkeys(data[key] or [])))
    if data.get("owner_email"):
        risk.owner_id = db.session.scalar(
            select(User.id).where(User.email == data["owner_email"].lower())
        )
    if not (risk.category or "").strip():
        risk.category = DEFAULT_CATEGORY
    risk.description = risk.description or ""


def add_risk(pilot: Pilot, data: Mapping[str, Any], actor: Any) -> Risk:
    """Register a risk on the pilot; its owner defaults to the pilot's owner."""
    authorize(actor, "risk.manage", pilot)
    errors = _check(pilot, data, None)
    if errors:
        raise ValidationFailed("The risk could not be saved.", errors)
    risk = Risk(pilot_id=pilot.id, owner_id=pilot.owner_id, created_by_id=actor.id)
    _apply(risk, data)
    db.session.add(risk)
    db.session.flush()
    audit.record_change(
        actor, "add_risk", "risk", risk.id, None, {"pilot_id": pilot.id, **_values(risk)}
    )
    signals.compliance_inputs_changed.send(pilot, what="risk register")
    db.session.commit()
    return risk


def update_risk(
    risk: Risk, data: Mapping[str, Any], actor: Any, *, expected_version: int | None = None
) -> Risk:
    pilot = db.session.get(Pilot, risk.pilot_id)
    authorize(actor, "risk.manage", pilot)
    lifecycle.check_version(risk.version, expected_version)
    errors = _check(pilot, data, risk)
    if errors:
        raise ValidationFailed("The risk could not be saved.", errors)
    before = _values(risk)
    _apply(risk, data)
    db.session.flush()
    changes = audit.service.diff(before, _values(risk))
    if changes:
        audit.record(actor, "update_risk", "risk", risk.id, {"pilot_id": pilot.id, **changes})
        signals.compliance_inputs_changed.send(pilot, what="risk register")
    db.session.commit()
    return risk
