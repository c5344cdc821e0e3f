"""The public-trust API: concerns from the public (no sign-in), their triage, incidents, the
risk register, and a use case's public record (publication and withholding)."""

from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView
from marshmallow import fields, validate

from assessments import concern_guard, concerns, incidents, publishing, risks
from registry.api_base import MAX_ID
from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth import need_to_know
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize
from registry.catalog import service as catalog
from registry.catalog.vocabulary import ConcernStatus, IncidentSeverity, IncidentStatus
from registry.errors import ValidationFailed

blp = Blueprint(
    "trust_api",
    __name__,
    url_prefix="/api/v1",
    description="Public trust: concerns, incidents, risks and the public record",
)

MAX_ITEMS = 50
_text = lambda n, **kw: fields.String(validate=validate.Length(max=n), allow_none=True, **kw)  # noqa: E731
_ids = lambda: fields.List(  # noqa: E731
    fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
    validate=validate.Length(max=MAX_ITEMS),
)
_words = lambda: fields.List(  # noqa: E731
    fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=20)
)


# ---- concerns from the public ------------------------------------------------------------------


class ConcernInputSchema(ma.Schema):
    use_case_id = fields.String(metadata={"description": "The published use case's ID."})
    description = fields.String(metadata={"description": "The concern, up to 5,000 characters."})
    contact_email = fields.String(
        allow_none=True,
        metadata={"description": "Optional: to be emailed when the status changes."},
    )
    website = fields.String(
        allow_none=True, metadata={"description": "Leave empty (a trap for automated reports)."}
    )


class ConcernPublicSchema(ma.Schema):
    reference = fields.String()
    status = fields.String(metadata={"description": " | ".join(ConcernStatus.values())})
    status_label = fields.String()
    use_case_id = fields.String()
    use_case_name = fields.String(allow_none=True)
    received_at = fields.DateTime()
    first_response_due = fields.Date()
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    merged_into = fields.String(allow_none=True)
    incident_status = fields.String(allow_none=True)
    incident_status_label = fields.String(allow_none=True)


def reject_honeypot(value) -> None:
    if value:
        raise ValidationFailed(
            "The report looks automated and was not sent.",
            {concern_guard.HONEYPOT_FIELD: ["Leave this field empty."]},
        )


@blp.route("/public/concerns")
class PublicConcerns(MethodView):
    @blp.doc(security=[])
    @blp.arguments(ConcernInputSchema)
    @blp.response(201, ConcernPublicSchema)
    @blp.alt_response(422, description="Empty, too long, or about an unknown use case.")
    @blp.alt_response(429, description="Too many reports from one address (see Retry-After).")
    def post(self, data):
        """Report a concern about a published use case; no sign-in, contact optional."""
        concern_guard.guard().count(request.remote_addr)
        reject_honeypot(data.get(concern_guard.HONEYPOT_FIELD))
        return concerns.public_status(concerns.submit(data))


@blp.route("/public/concerns/<reference>")
class PublicConcern(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ConcernPublicSchema)
    def get(self, reference):
        """A concern's public status and the agency's response, by its reference."""
        return concerns.public_status(concerns.by_reference(reference))


class ConcernQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    status = fields.String(validate=validate.OneOf(ConcernStatus.values()))
    pilot_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class ConcernSchema(ma.Schema):
    id = fields.Integer()
    reference = fields.String()
    pilot_id = fields.Integer()
    use_case_id = fields.String()
    description = fields.String()
    contact_given = fields.Function(lambda c: c.contact_email is not None)
    status = fields.String()
    status_label = fields.String()
    received_at = fields.DateTime()
    first_response_due = fields.Date()
    first_response_at = fields.DateTime(allow_none=True)
    public_response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    merged_into = fields.Function(lambda c: c.merged_into.reference if c.merged_into else None)
    incident_id = fields.Integer(allow_none=True)


class ActionInputSchema(ma.Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    owner_email = fields.Email(required=True, validate=validate.Length(max=254))
    due_date = fields.Date(required=True)
    done = fields.Boolean(load_default=False)


def _incident_fields(require_pilot: bool) -> dict:
    found = {
        "title": _text(300),
        "description": _text(10_000),
        "severity": fields.String(
            required=require_pilot, validate=validate.OneOf(IncidentSeverity.values())
        ),
        "status": fields.String(validate=validate.OneOf(IncidentStatus.values())),
        "harm_categories": _words(),
        "affected_groups": _words(),
        "occurred_at": fields.DateTime(allow_none=True),
        "detected_at": fields.DateTime(),
        "immediate_action": fields.Nested(ActionInputSchema, allow_none=True),
        "corrective_actions": fields.List(
            fields.Nested(ActionInputSchema), validate=validate.Length(max=MAX_ITEMS)
        ),
        "bias_check_ids": _ids(),
        "evidence_ids": _ids(),
        "revision_numbers": _ids(),
        "resolution": _text(10_000),
        "acceptance_justification": _text(10_000),
    }
    if require_pilot:
        found["pilot_id"] = fields.Integer(
            required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
        )
    return found


IncidentInputSchema = ma.Schema.from_dict(_incident_fields(True), name="IncidentInputSchema")
IncidentUpdateSchema = ma.Schema.from_dict(_incident_fields(False), name="IncidentUpdateSchema")
ConcernIncidentSchema = ma.Schema.from_dict(
    {**_incident_fields(False)}, name="ConcernIncidentSchema"
)


class TriageSchema(ma.Schema):
    action = fields.String(
        required=True, validate=validate.OneOf(("respond", "dismiss", "merge", "open_incident"))
    )
    response = _text(5000, metadata={"description": "What the public reads."})
    reason = _text(5000, metadata={"description": "The public reason for dismissing."})
    into = _text(20, metadata={"description": "merge: the reference of the earlier report."})
    incident = fields.Nested(ConcernIncidentSchema, allow_none=True)


@blp.route("/concerns")
class Concerns(MethodView):
    @blp.arguments(ConcernQuerySchema(), location="query")
    @blp.response(200, ConcernSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """The CAIO office's queue: new concerns first, by first-response due date."""
        items, total = concerns.queue(
            api_user(),
            filters,
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return items


@blp.route("/concerns/<int:concern_id>")
class ConcernById(MethodView):
    @blp.response(200, ConcernSchema)
    def get(self, concern_id):
        """One concern, as the CAIO office sees it."""
        authorize(api_user(), "concern.read")
        return concerns.get_concern(concern_id)


@blp.route("/concerns/<int:concern_id>/triage")
class ConcernTriage(MethodView):
    @blp.arguments(TriageSchema)
    @blp.response(200, ConcernSchema)
    def post(self, data, concern_id):
        """Respond publicly, dismiss with a public reason, merge into an earlier report, or
        open an incident from the concern."""
        user = api_user()
        authorize(user, "concern.triage")
        return concerns.triage(concerns.get_concern(concern_id), data, user)


# ---- incidents ------------------------------------------------------------------------------------


class ActionSchema(ma.Schema):
    description = fields.String()
    owner_email = fields.Function(lambda a: a.owner.email if a.owner else None)
    due_date = fields.Date()
    done = fields.Boolean()


class IncidentSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    severity = fields.String(metadata={"description": " | ".join(IncidentSeverity.values())})
    status = fields.String(metadata={"description": " | ".join(IncidentStatus.values())})
    harm_categories = fields.List(fields.String())
    affected_groups = fields.List(fields.String())
    occurred_at = fields.DateTime(allow_none=True)
    detected_at = fields.DateTime()
    immediate_action = fields.Function(
        lambda i: next((ActionSchema().dump(a) for a in i.actions if a.kind == "immediate"), None)
    )
    corrective_actions = fields.Function(
        lambda i: [ActionSchema().dump(a) for a in i.actions if a.kind == "corrective"]
    )
    bias_check_ids = fields.List(fields.Integer())
    evidence_ids = fields.List(fields.Integer())
    revision_numbers = fields.List(fields.Integer())
    resolution = fields.String(allow_none=True)
    acceptance_justification = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    reported_by = fields.Function(lambda i: i.reported_by.email if i.reported_by else None)
    blocks_approval = fields.Boolean(attribute="is_blocking")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class IncidentQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    pilot_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    status = fields.String(validate=validate.OneOf(IncidentStatus.values()))
    severity = fields.String(validate=validate.OneOf(IncidentSeverity.values()))


def _etag(record) -> dict:
    return {"id": record.id, "version": record.version}


@blp.route("/incidents")
class Incidents(MethodView):
    @blp.arguments(IncidentQuerySchema(), location="query")
    @blp.response(200, IncidentSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Incidents, newest first."""
        user = api_user()
        authorize(user, "incident.read")
        filters = {**filters, "visible_to": need_to_know.readable_pilot_ids_filter(user)}
        items, total = incidents.page_of_incidents(
            filters, page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return items

    @blp.arguments(IncidentInputSchema)
    @blp.response(201, IncidentSchema)
    def post(self, data):
        """Record an incident on a pilot (the CAIO office or the pilot's team). A serious or
        critical one marks the pilot review due and blocks approvals until it is closed."""
        incident = incidents.open_incident(data, api_user())
        blp.set_etag(_etag(incident))
        return incident


@blp.route("/incidents/<int:incident_id>")
class IncidentById(MethodView):
    @blp.etag
    @blp.response(200, IncidentSchema)
    def get(self, incident_id):
        """One incident."""
        authorize(api_user(), "incident.read")
        incident = incidents.get_incident(incident_id)
        blp.set_etag(_etag(incident))
        return incident

    @blp.etag
    @blp.arguments(IncidentUpdateSchema)
    @blp.response(200, IncidentSchema)
    def patch(self, data, incident_id):
        """Change an incident; send the ETag of your last GET as If-Match. Accepting it
        (status ``accepted``) takes a CAIO and an ``acceptance_justification``."""
        user = api_user()
        incident = incidents.get_incident(incident_id)
        authorize(user, "incident.update", catalog.get_pilot(incident.pilot_id))
        blp.check_etag(_etag(incident))
        incident = incidents.update_incident(incident, data, user)
        blp.set_etag(_etag(incident))
        return incident


# ---- the risk register ----------------------------------------------------------------------------


def _level(**kwargs):
    return fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=5), **kwargs
    )


class RiskInputSchema(ma.Schema):
    category = _text(100)
    description = _text(10_000)
    likelihood = _level(metadata={"description": "1 (rare) to 5 (almost certain)"})
    severity = _level(metadata={"description": "1 (negligible) to 5 (severe)"})
    mitigation = _text(10_000)
    mitigation_evidence_ids = _ids()
    mitigation_condition_ids = _ids()
    residual_likelihood = _level()
    residual_severity = _level()
    owner_email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    review_date = fields.Date(allow_none=True)


class RiskSchema(ma.Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    category = fields.String()
    description = fields.String()
    likelihood = fields.Integer()
    severity = fields.Integer()
    inherent_level = fields.Integer()
    mitigation = fields.String(allow_none=True)
    mitigation_evidence_ids = fields.List(fields.Integer())
    mitigation_condition_ids = fields.List(fields.Integer())
    residual_likelihood = fields.Integer(allow_none=True)
    residual_severity = fields.Integer(allow_none=True)
    residual_level = fields.Integer()
    owner_email = fields.String(allow_none=True)
    review_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


@blp.route("/pilots/<int:pilot_id>/risks")
class PilotRisks(MethodView):
    @blp.response(200, RiskSchema(many=True))
    def get(self, pilot_id):
        """The pilot's risk register, highest residual level first."""
        authorize(api_user(), "pilot.read")
        return risks.for_pilot(catalog.get_pilot(pilot_id))

    @blp.arguments(RiskInputSchema)
    @blp.response(201, RiskSchema)
    def post(self, data, pilot_id):
        """Register a risk: likelihood and severity 1-5, mitigations, residual, owner."""
        risk = risks.add_risk(catalog.get_pilot(pilot_id), data, api_user())
        blp.set_etag(_etag(risk))
        return risk


@blp.route("/risks/<int:risk_id>")
class RiskById(MethodView):
    @blp.etag
    @blp.response(200, RiskSchema)
    def get(self, risk_id):
        """One risk."""
        authorize(api_user(), "pilot.read")
        risk = risks.get_risk(risk_id)
        blp.set_etag(_etag(risk))
        return risk

    @blp.etag
    @blp.arguments(RiskInputSchema)
    @blp.response(200, RiskSchema)
    def patch(self, data, risk_id):
        """Change a risk; send the ETag of your last GET as If-Match."""
        user = api_user()
        risk = risks.get_risk(risk_id)
        authorize(user, "risk.manage", catalog.get_pilot(risk.pilot_id))
        blp.check_etag(_etag(risk))
        risk = risks.update_risk(risk, data, user)
        blp.set_etag(_etag(risk))
        return risk


# ---- the public record ------------------------------------------------------------------------


class VersionSchema(ma.Schema):
    number = fields.Integer()
    action = fields.String()
    reason = fields.String(allow_none=True)
    published_at = fields.DateTime()
    listed = fields.Boolean()
    withheld = fields.Dict(keys=fields.String(), values=fields.String())
    row = fields.Dict(keys=fields.String(), values=fields.String())


class PublicationSchema(ma.Schema):
    publication_state = fields.String()
    withheld_fields = fields.List(fields.String())
    withheld_reasons = fields.Dict(keys=fields.String(), values=fields.String())
    may_publish = fields.Boolean()
    unpublished_changes = fields.List(fields.String())
    checks = fields.Dict()
    versions = fields.List(fields.Nested(VersionSchema))


class PublicationActionSchema(ma.Schema):
    action = fields.String(required=True, validate=validate.OneOf(("ready", "publish", "retract")))
    reason = _text(5000, metadata={"description": "retract: the public reason (required)."})


def _publication(pilot, user) -> dict:
    return {
        "publication_state": pilot.publication_state,
        "withheld_fields": pilot.withheld_fields or [],
        "withheld_reasons": pilot.withheld_reasons or {},
        "may_publish": publishing.may_publish(user),
        "unpublished_changes": publishing.unpublished_changes(pilot),
        "checks": publishing.checks(pilot),
        "versions": publishing.versions_for(pilot),
    }


@blp.route("/pilots/<int:pilot_id>/publication")
class PilotPublication(MethodView):
    @blp.response(200, PublicationSchema)
    def get(self, pilot_id):
        """The public record: its state, what is withheld, its published versions, what
        changed since, and the plain-language checks (warnings, never refusals)."""
        user = api_user()
        authorize(user, "pilot.read")
        return _publication(catalog.get_pilot(pilot_id), user)

    @blp.arguments(PublicationActionSchema)
    @blp.response(200, PublicationSchema)
    @blp.alt_response(409, description="Required public fields are empty, or a wrong state.")
    def post(self, data, pilot_id):
        """``ready`` (an editor), then ``publish`` (a publisher, as the policy says);
        ``retract`` (a publisher) with a public ``reason``."""
        user = api_user()
        pilot = catalog.get_pilot(pilot_id)
        if data["action"] == "ready":
            publishing.mark_ready(pilot, user)
        elif data["action"] == "publish":
            publishing.publish(pilot, user, reason=data.get("reason"))
        else:
            publishing.retract(pilot, user, data.get("reason") or "")
        return _publication(pilot, user)
