"""The audit trail's JSON API."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import func, select

from registry.api_base import RegistryBlueprint as Blueprint
from registry.audit import checkpoints
from registry.audit.models import AuditEvent
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize
from registry.extensions import db

blp = Blueprint("audit_api", __name__, url_prefix="/api/v1", description="The audit trail")


class AuditQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    entity_type = fields.String(validate=validate.Length(max=60))
    entity_id = fields.String(validate=validate.Length(max=64))
    actor = fields.String(validate=validate.Length(max=254))
    action = fields.String(validate=validate.Length(max=60))


class AuditEventSchema(ma.Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    changes = fields.Raw()
    prev_hash = fields.String()
    hash = fields.String()


def event_query(filters):
    stmt = select(AuditEvent)
    for field in ("entity_type", "entity_id", "action"):
        if value := filters.get(field):
            stmt = stmt.where(getattr(AuditEvent, field) == value)
    if actor := filters.get("actor"):
        stmt = stmt.where(AuditEvent.actor == actor.strip().lower())
    return stmt


@blp.route("/audit")
class AuditEvents(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    def get(self, filters, pagination_parameters):
        """List audit events, oldest first, filtered by entity or actor."""
        authorize(api_user(), "audit.read")
        stmt = event_query(filters)
        pagination_parameters.item_count = db.session.scalar(
            select(func.count()).select_from(stmt.subquery())
        )
        return db.session.scalars(
            stmt.order_by(AuditEvent.seq)
            .limit(pagination_parameters.page_size)
            .offset(pagination_parameters.first_item)
        ).all()


class CheckpointSchema(ma.Schema):
    seq = fields.Integer(metadata={"description": "The sequence number of the event signed"})
    head = fields.String(metadata={"description": "That event's hash (sha256, hex)"})
    signed_at = fields.String(metadata={"description": "UTC, e.g. 2026-11-30T19:00:00Z"})
    signature = fields.String(metadata={"description": "Ed25519 signature, base64"})
    public_key = fields.String(metadata={"description": "The key that signed it, base64"})


class CheckpointDocumentSchema(ma.Schema):
    public_key = fields.String(
        metadata={"description": "The current signing key's public half (raw Ed25519, base64)"}
    )
    checkpoints = fields.List(fields.Nested(CheckpointSchema))


@blp.route("/audit/checkpoints")
class AuditCheckpoints(MethodView):
    @blp.response(200, CheckpointDocumentSchema)
    @blp.doc(security=[])
    def get(self):
        """Every signed checkpoint of the audit chain head, with the public key (no sign-in)."""
        return checkpoints.document()
