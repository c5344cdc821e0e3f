"""Marshmallow schemas for the assessments API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from registry.catalog.vocabulary import RISK_TIERS


class ChoiceSchema(ma.Schema):
    value = fields.String()
    label = fields.String()
    weight = fields.Integer()


class ShowIfSchema(ma.Schema):
    question = fields.String()
    in_ = fields.List(fields.String(), data_key="in", attribute="in")


class QuestionSchema(ma.Schema):
    id = fields.String()
    area = fields.String()
    text = fields.String()
    help = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "impact, mitigation or unscored"})
    multiple = fields.Boolean()
    required = fields.Boolean()
    choices = fields.List(fields.Nested(ChoiceSchema))
    show_if = fields.Nested(ShowIfSchema, allow_none=True)


class AreaSchema(ma.Schema):
    id = fields.String()
    label = fields.String()


class QuestionnaireSchema(ma.Schema):
    version = fields.String()
    title = fields.String()
    policy_version = fields.String()
    areas = fields.List(fields.Nested(AreaSchema))
    questions = fields.List(fields.Nested(QuestionSchema))


class AnswersSchema(ma.Schema):
    answers = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "question id -> choice value, or a list of values"},
    )


class AreaBreakdownSchema(ma.Schema):
    area = fields.String()
    label = fields.String()
    raw = fields.Integer()
    max_raw = fields.Integer()
    mitigation = fields.Integer()
    max_mitigation = fields.Integer()


class ImpactAssessmentSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    raw_score = fields.Integer()
    mitigation_score = fields.Integer()
    current_score = fields.Float()
    max_raw_score = fields.Integer()
    max_mitigation_score = fields.Integer()
    mitigation_applied = fields.Boolean()
    impact_level = fields.String()
    questionnaire_version = fields.String()
    policy_version = fields.String(attribute="policy_version_label")
    breakdown = fields.List(fields.Nested(AreaBreakdownSchema))
    answers = fields.Dict(keys=fields.String(), values=fields.Raw())
    created_at = fields.DateTime()
    created_by = fields.Function(lambda a: a.created_by.email if a.created_by else None)


class ChecklistItemSchema(ma.Schema):
    id = fields.String()
    title = fields.String()
    status = fields.String(metadata={"description": "met, unmet, waived or not_applicable"})
    reason = fields.String()
    source = fields.String()
    nist = fields.List(fields.String())
    evidence = fields.List(fields.Integer(), attribute="evidence_ids")


class ComplianceSchema(ma.Schema):
    pilot_id = fields.Integer()
    policy_version = fields.String()
    policy_version_id = fields.Integer()
    tier = fields.String(allow_none=True)
    evaluated_on = fields.Date()
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.List(fields.Nested(ChecklistItemSchema))


class EvidenceUploadSchema(ma.Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=60))
    item_id = fields.String(validate=validate.Length(max=80), allow_none=True)
    title = fields.String(validate=validate.Length(max=300), allow_none=True)


class EvidenceFileSchema(ma.Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class EvidenceSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    kind = fields.String()
    item_id = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    filename = fields.String()
    sha256 = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    created_at = fields.DateTime()
    uploaded_by = fields.Function(lambda e: e.uploaded_by.email if e.uploaded_by else None)
    download_url = fields.Function(lambda e: f"/api/v1/evidence/{e.id}/download")


class TierOverrideSchema(ma.Schema):
    risk_tier = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(RISK_TIERS),
        metadata={"description": "I-IV, or null to return to the questionnaire's tier"},
    )
    justification = fields.String(required=True, validate=validate.Length(min=1, max=5000))
