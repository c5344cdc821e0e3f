"""Which pilot each assessment record named in a URL belongs to, for the need-to-know rule."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from assessments.models import BiasCheck, Condition, Evidence, ImpactAssessment
from assessments.trust_models import Concern, Incident, Risk
from registry.auth.need_to_know import register_owner
from registry.extensions import db


def _pilot_of(model):
    def lookup(record_id: int) -> int | None:
        return db.session.scalar(select(model.pilot_id).where(model.id == record_id))

    return lookup


def init_app(app: Flask) -> None:
    for url_variable, model, label in (
        ("check_id", BiasCheck, "bias check"),
        ("evidence_id", Evidence, "evidence"),
        ("assessment_id", ImpactAssessment, "impact assessment"),
        ("condition_id", Condition, "condition"),
        ("incident_id", Incident, "incident"),
        ("risk_id", Risk, "risk"),
        ("concern_id", Concern, "concern"),
    ):
        register_owner(app, url_variable, _pilot_of(model), label)
