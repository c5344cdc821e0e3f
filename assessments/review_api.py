"""The review workflow API: submissions, decisions, the queue, conditions, comments and the inbox."""

from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView
from marshmallow import fields, validate

from assessments import workflow
from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize, oversight_scope
from registry.catalog import service as catalog
from registry.catalog.vocabulary import ApprovedStage, ConditionStatus, DecisionKind
from registry.errors import PreconditionFailed
from registry.notifications import service as notifications

blp = Blueprint(
    "review_api", __name__, url_prefix="/api/v1", description="Review and approval workflow"
)


def check_if_match(pilot) -> None:
    """If-Match is optional on workflow actions; when sent, it must be the pilot's current ETag."""
    if not request.if_match:
        return
    current = blp._generate_etag({"id": pilot.id, "version": pilot.version})
    if not request.if_match.contains(current):
        raise PreconditionFailed(
            "The pilot changed since your last GET; fetch it again and retry.",
            {"If-Match": ["The ETag does not match the pilot's current version."]},
        )


class SubmissionInputSchema(ma.Schema):
    note = fields.String(validate=validate.Length(max=5000), allow_none=True)
    requested_stage = fields.String(
        validate=validate.OneOf(ApprovedStage.values()),
        allow_none=True,
        metadata={"description": "The stage the team asks approval for: pilot or deployed."},
    )


class SubmissionSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    round = fields.Integer()
    revision = fields.Integer(allow_none=True)
    requested_stage = fields.String(allow_none=True)
    submitted_at = fields.DateTime()
    note = fields.String(allow_none=True)
    submitted_by = fields.Function(lambda s: s.submitted_by.email if s.submitted_by else None)
    review_status = fields.Function(lambda s: "submitted")


class ConditionInputSchema(ma.Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    due_date = fields.Date(required=True)
    item_id = fields.String(
        validate=validate.Length(max=80),
        allow_none=True,
        metadata={"description": "The checklist item the condition covers, if any."},
    )


class WaiverInputSchema(ma.Schema):
    item_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    justification = fields.String(required=True, validate=validate.Length(max=10_000))


class DecisionInputSchema(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DecisionKind.values()))
    rationale = fields.String(validate=validate.Length(max=20_000), allow_none=True)
    stage = fields.String(
        validate=validate.OneOf(ApprovedStage.values()),
        allow_none=True,
        metadata={
            "description": "The stage an approval covers: pilot or deployed. Default: the "
            "stage asked for at submission, else the stage the pilot records (pilot for "
            "pre_deployment)."
        },
    )
    conditions = fields.List(
        fields.Nested(ConditionInputSchema),
        load_default=list,
        validate=validate.Length(max=workflow.MAX_CONDITIONS),
    )
    waivers = fields.List(
        fields.Nested(WaiverInputSchema),
        load_default=list,
        validate=validate.Length(max=workflow.MAX_WAIVERS),
    )


class ConditionSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    decision_id = fields.Integer()
    text = fields.String()
    item_id = fields.String(allow_none=True)
    due_date = fields.Date()
    status = fields.Function(
        lambda c: c.state(workflow.today()),
        metadata={"description": " | ".join(ConditionStatus.values())},
    )
    reported_at = fields.DateTime(allow_none=True)
    reported_by = fields.Function(lambda c: c.reported_by.email if c.reported_by else None)
    report_note = fields.String(allow_none=True)
    met_at = fields.DateTime(allow_none=True)
    met_note = fields.String(allow_none=True)
    met_how = fields.String(allow_none=True)
    evidence_id = fields.Integer(allow_none=True)


class WaiverSchema(ma.Schema):
    id = fields.Integer()
    item_id = fields.String()
    justification = fields.String()
    status = fields.Function(lambda w: "CAIO waived")


class DecisionSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    round = fields.Integer()
    decision = fields.String()
    rationale = fields.String(allow_none=True)
    decided_by = fields.Function(lambda d: d.decided_by.email if d.decided_by else None)
    decided_at = fields.DateTime()
    policy_version = fields.String(attribute="policy_version_label")
    revision = fields.Integer(allow_none=True)
    stage = fields.String(allow_none=True)
    review_status = fields.Function(lambda d: DecisionKind(d.decision).resulting_status.value)
    conditions = fields.List(fields.Nested(ConditionSchema))
    waivers = fields.List(fields.Nested(WaiverSchema))
    snapshot = fields.Raw()


class ResubmissionSchema(ma.Schema):
    reason = fields.String(required=True, validate=validate.Length(max=5000))


class QueueRowSchema(ma.Schema):
    pilot_id = fields.Function(lambda r: r["pilot"].id)
    name = fields.Function(lambda r: r["pilot"].name)
    agency = fields.Function(lambda r: r["pilot"].agency)
    owner_email = fields.Function(lambda r: r["pilot"].owner_email)
    risk_tier = fields.Function(lambda r: r["pilot"].risk_tier)
    is_high_impact = fields.Function(lambda r: r["pilot"].is_high_impact)
    submitted_at = fields.DateTime()
    days_waiting = fields.Integer()
    round = fields.Integer()
    compliance = fields.Dict(keys=fields.String(), values=fields.Integer())
    blocking = fields.List(fields.String())
    bias_verdict = fields.String(allow_none=True)
    revision = fields.Integer(allow_none=True)
    requested_stage = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    in_use_without_approval = fields.Boolean()
    unreviewed_changes = fields.List(fields.String())


class MeetConditionSchema(ma.Schema):
    note = fields.String(required=True, validate=validate.Length(max=5000))
    evidence_id = fields.Integer(allow_none=True, strict=True)


class VerificationSchema(ma.Schema):
    accepted = fields.Boolean(required=True)
    note = fields.String(validate=validate.Length(max=5000), allow_none=True)


class CommentInputSchema(ma.Schema):
    body = fields.String(required=True, validate=validate.Length(max=10_000))


class CommentSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    author = fields.Function(lambda c: c.author.email if c.author else None)
    author_name = fields.Function(lambda c: c.author.name if c.author else None)
    body = fields.String()
    created_at = fields.DateTime()


class NotificationSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    body = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    pilot_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


@blp.route("/pilots/<int:pilot_id>/submission")
class PilotSubmission(MethodView):
    @blp.arguments(SubmissionInputSchema)
    @blp.response(201, SubmissionSchema)
    @blp.alt_response(
        409,
        description="The pilot's state does not allow a submission, or is_high_impact (or its "
        "justification) is not recorded; `errors` names what blocks it.",
    )
    def post(self, data, pilot_id):
        """Submit the pilot for review (from draft, changes requested, or rejected as a new round)."""
        user = api_user()
        pilot = catalog.get_pilot(pilot_id)
        authorize(user, "pilot.submit", pilot)
        check_if_match(pilot)
        return workflow.submit(
            pilot, user, note=data.get("note"), requested_stage=data.get("requested_stage")
        )


@blp.route("/pilots/<int:pilot_id>/decisions")
class PilotDecisions(MethodView):
    @blp.response(200, DecisionSchema(many=True))
    def get(self, pilot_id):
        """A pilot's decisions, newest first."""
        authorize(api_user(), "pilot.read")
        return workflow.decisions_for(catalog.get_pilot(pilot_id))

    @blp.arguments(DecisionInputSchema)
    @blp.response(201, DecisionSchema)
    @blp.alt_response(
        409, description="Not submitted, or unmet items are not waived; `errors` lists them."
    )
    @blp.alt_response(412, description="If-Match was sent and the pilot has changed.")
    def post(self, data, pilot_id):
        """A CAIO approves (for a stage), approves with conditions, requests changes or rejects
        the revision under review. The pilot's creator, the submitter of the current round and
        anyone who was its owner or on its team since the last decision get 403."""
        user = api_user()
        pilot = catalog.get_pilot(pilot_id)
        authorize(user, "pilot.decide", pilot)
        check_if_match(pilot)
        return workflow.decide(pilot, data, user)


@blp.route("/pilots/<int:pilot_id>/resubmission-request")
class ResubmissionRequest(MethodView):
    @blp.arguments(ResubmissionSchema)
    @blp.response(200, DecisionSchema(many=True))
    def post(self, data, pilot_id):
        """A CAIO requires an approved pilot to be resubmitted (its review is due)."""
        user = api_user()
        pilot = catalog.get_pilot(pilot_id)
        authorize(user, "pilot.decide", pilot)
        check_if_match(pilot)
        workflow.require_resubmission(pilot, data["reason"], user)
        return workflow.decisions_for(pilot)


@blp.route("/review-queue")
class ReviewQueue(MethodView):
    @blp.response(200, QueueRowSchema(many=True))
    def get(self):
        """Submitted pilots, oldest first, with tier, compliance, bias verdict and days waiting."""
        authorize(api_user(), "review_queue.read")
        return workflow.review_queue(oversight_scope(api_user()))


@blp.route("/pilots/<int:pilot_id>/conditions")
class PilotConditions(MethodView):
    @blp.response(200, ConditionSchema(many=True))
    def get(self, pilot_id):
        """A pilot's conditions, by due date."""
        authorize(api_user(), "pilot.read")
        return workflow.conditions_for(catalog.get_pilot(pilot_id))


@blp.route("/conditions/<int:condition_id>/met")
class ConditionMet(MethodView):
    @blp.arguments(MeetConditionSchema)
    @blp.response(200, ConditionSchema)
    def post(self, data, condition_id):
        """The team reports a condition met, with a note and optional evidence (status
        `reported`); a CAIO then verifies it."""
        return workflow.report_condition(
            workflow.get_condition(condition_id),
            data["note"],
            api_user(),
            evidence_id=data.get("evidence_id"),
        )


@blp.route("/conditions/<int:condition_id>/verification")
class ConditionVerification(MethodView):
    @blp.arguments(VerificationSchema)
    @blp.response(200, ConditionSchema)
    @blp.alt_response(409, description="The condition is not reported met.")
    def post(self, data, condition_id):
        """A CAIO accepts the team's report (the condition is `met`) or sends it back
        (`open`, with a note saying what is missing)."""
        return workflow.verify_condition(
            workflow.get_condition(condition_id), data["accepted"], data.get("note"), api_user()
        )


@blp.route("/pilots/<int:pilot_id>/comments")
class PilotComments(MethodView):
    @blp.response(200, CommentSchema(many=True))
    def get(self, pilot_id):
        """The pilot's review thread (its team, CAIOs and the board)."""
        return workflow.comments_for(catalog.get_pilot(pilot_id), api_user())

    @blp.arguments(CommentInputSchema)
    @blp.response(201, CommentSchema)
    def post(self, data, pilot_id):
        """Add to the pilot's review thread."""
        return workflow.comment(catalog.get_pilot(pilot_id), data["body"], api_user())


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.response(200, NotificationSchema(many=True))
    def get(self):
        """Your notifications, newest first."""
        return notifications.inbox(api_user())


@blp.route("/inbox/read")
class InboxRead(MethodView):
    @blp.response(204)
    def post(self):
        """Mark all your notifications read."""
        notifications.mark_read(api_user())
