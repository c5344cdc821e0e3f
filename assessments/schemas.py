"""Marshmallow schemas for the assessments API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from assessments.bias_input_kinds import MAX_OUTCOMES
from policies.fairness import BINARY, TASKS
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


class BiasCheckFormSchema(ma.Schema):
    """The column mapping that comes with an uploaded file."""

    y_true = fields.String(
        validate=validate.Length(max=200),
        allow_none=True,
        metadata={"description": "Required for classification; optional for regression."},
    )
    y_pred = fields.String(
        validate=validate.Length(max=200),
        allow_none=True,
        metadata={"description": "Required but for outcome_rates and aggregated regression."},
    )
    sensitive_features = fields.List(
        fields.String(validate=validate.Length(min=1, max=600)),
        required=True,
        validate=validate.Length(max=3, error="Use at most three sensitive features."),
        metadata={"description": "Repeat the field, or separate names with commas (1 to 3)."},
    )
    positive_label = fields.String(load_default="1", validate=validate.Length(max=100))
    y_score = fields.String(validate=validate.Length(max=200), allow_none=True)
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    task = fields.String(
        load_default=BINARY,
        validate=validate.OneOf(TASKS),
        metadata={"description": "The kind of model: " + ", ".join(TASKS) + "."},
    )
    outcomes = fields.List(
        fields.String(validate=validate.Length(min=1, max=600)),
        validate=validate.Length(
            max=MAX_OUTCOMES, error=f"Name at most {MAX_OUTCOMES} outcome columns."
        ),
        metadata={
            "description": "outcome_rates: the yes/no outcome columns (repeat the field, or "
            "separate names with commas)."
        },
    )
    frequency = fields.String(
        validate=validate.Length(max=200),
        allow_none=True,
        metadata={
            "description": "Aggregated input: the column of non-negative whole row counts (a "
            "row with count k stands for k identical rows)."
        },
    )
    total_rows = fields.String(
        validate=validate.Length(max=40),
        allow_none=True,
        metadata={"description": "With frequency: the total the counts must add up to."},
    )
    y_score_low = fields.String(
        validate=validate.Length(max=200),
        allow_none=True,
        metadata={"description": "Binned scores: the column of each row's bin lower edge."},
    )
    y_score_high = fields.String(
        validate=validate.Length(max=200),
        allow_none=True,
        metadata={"description": "Binned scores: the column of each row's bin upper edge."},
    )
    intervention = fields.String(
        validate=validate.OneOf(["punitive", "assistive"]),
        allow_none=True,
        metadata={"description": "Guided choice of metrics: punitive or assistive decision."},
    )
    concern = fields.String(
        validate=validate.OneOf(["wrongly_flagged", "missed", "representation"]),
        allow_none=True,
        metadata={"description": "Guided choice: the errors that worry you most."},
    )
    ground_truth = fields.String(
        validate=validate.OneOf(["yes", "no"]),
        allow_none=True,
        metadata={"description": "Guided choice: can the true outcomes be trusted?"},
    )
    client_version = fields.String(validate=validate.Length(max=100), allow_none=True)
    engine = fields.String(validate=validate.Length(max=100), allow_none=True)
    query = fields.String(
        validate=validate.Length(max=100_000),
        allow_none=True,
        metadata={"description": "The query or description that produced the file."},
    )
    source_sha256 = fields.String(validate=validate.Length(max=64), allow_none=True)


class BiasCheckFileSchema(ma.Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class FindingSchema(ma.Schema):
    metric = fields.String(allow_none=True)
    verdict = fields.String()
    text = fields.String()
    threshold = fields.Raw(allow_none=True)
    value = fields.Raw(allow_none=True)
    ci = fields.Raw(allow_none=True)
    parts = fields.Raw(
        metadata={"description": "Per class or outcome column, when the threshold applies to each."}
    )
    chart_metric = fields.String(metadata={"description": "The part that decided the verdict."})
    power = fields.Raw(
        metadata={"description": "Rows per group needed to detect the threshold with 80% power."}
    )


class BiasCheckSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    name = fields.String(allow_none=True)
    status = fields.String()
    error = fields.String(allow_none=True)
    failure_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why a failed check failed: error (its own error) or interrupted "
            "(its worker stopped, or it ran out of time); null unless failed."
        },
    )
    filename = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    file_format = fields.String()
    columns = fields.Function(
        lambda c: {
            "y_true": c.y_true,
            "y_pred": c.y_pred,
            "y_score": c.y_score,
            "y_score_low": c.y_score_low,
            "y_score_high": c.y_score_high,
            "frequency": c.frequency,
            "positive_label": c.positive_label,
        }
    )
    task = fields.String(
        metadata={
            "description": "binary_classification, multiclass_classification, regression or "
            "outcome_rates"
        }
    )
    outcomes = fields.Function(lambda c: list(c.outcomes or []))
    classes = fields.Function(lambda c: (c.results or {}).get("classes"))
    n_rows = fields.Integer(allow_none=True)
    n_rows_dropped = fields.Integer(allow_none=True)
    aggregated = fields.Boolean(
        metadata={"description": "Computed from aggregates (a frequency column)."}
    )
    input_sha256 = fields.Function(
        lambda c: c.sha256, metadata={"description": "sha256 of the submitted file."}
    )
    frequency = fields.String(allow_none=True)
    total_rows = fields.Integer(allow_none=True)
    auc_binned = fields.Function(lambda c: bool((c.results or {}).get("auc_binned")))
    guidance = fields.Function(
        lambda c: c.guidance,
        metadata={
            "description": "The guided choice of metrics: answers, recommended metrics and the "
            "reasoning (null when the questions were not answered)."
        },
    )
    provenance = fields.Function(
        lambda c: dict(c.provenance or {}),
        metadata={"description": "client_version, engine, query and source_sha256, as sent."},
    )
    sensitive_features = fields.List(fields.String())
    overall = fields.Function(lambda c: (c.results or {}).get("overall"))
    by_group = fields.Function(lambda c: (c.results or {}).get("by_group"))
    disparities = fields.Function(lambda c: (c.results or {}).get("disparities"))
    summary = fields.Function(lambda c: (c.results or {}).get("summary"))
    calibration = fields.Function(lambda c: (c.results or {}).get("calibration"))
    bootstrap = fields.Function(lambda c: (c.results or {}).get("bootstrap"))
    verdict = fields.String(allow_none=True)
    findings = fields.List(fields.Nested(FindingSchema), allow_none=True)
    policy_version = fields.String(attribute="policy_version_label", allow_none=True)
    queued_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()


class BiasCheckLimitsSchema(ma.Schema):
    max_groups = fields.Integer(
        metadata={"description": "Most intersectional groups a check may have."}
    )
    max_classes = fields.Integer(metadata={"description": "Most classes of a multiclass check."})
    max_upload_bytes = fields.Integer(metadata={"description": "Largest file accepted."})
