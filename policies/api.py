"""The policy versions API: list, upload drafts, diff and publish."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from policies import store
from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize
from registry.request_limits import upload_route

blp = Blueprint(
    "policies_api", __name__, url_prefix="/api/v1", description="Governance policy versions"
)


class PolicyVersionSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    version = fields.String()
    status = fields.String(metadata={"description": "draft, published or active"})
    sha256 = fields.String()
    notes = fields.String(allow_none=True)
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    published_by = fields.Function(lambda v: v.published_by.email if v.published_by else None)


class PolicyVersionDetailSchema(PolicyVersionSchema):
    body = fields.String()


class PolicyDraftSchema(ma.Schema):
    body = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1_000_000),
        metadata={"description": "The policy document as YAML"},
    )
    notes = fields.String(validate=validate.Length(max=5000), allow_none=True)


class PolicyDiffSchema(ma.Schema):
    against = fields.String(allow_none=True)
    diff = fields.String()
    sections = fields.Raw(allow_none=True)


@blp.route("/policies")
class Policies(MethodView):
    @blp.response(200, PolicyVersionSchema(many=True))
    def get(self):
        """List policy versions, newest first."""
        authorize(api_user(), "policy.read")
        return store.list_versions()

    @upload_route("MAX_POLICY_BYTES", action="policy.manage")
    @blp.arguments(PolicyDraftSchema)
    @blp.response(201, PolicyVersionDetailSchema)
    def post(self, data):
        """Upload a draft policy version (YAML); errors name the path in the document."""
        return store.create_draft(data["body"], api_user(), notes=data.get("notes"))


@blp.route("/policies/active")
class ActivePolicy(MethodView):
    @blp.response(200, PolicyVersionDetailSchema)
    def get(self):
        """The active policy version."""
        authorize(api_user(), "policy.read")
        return store.active_version()


@blp.route("/policies/<int:version_id>")
class PolicyById(MethodView):
    @blp.response(200, PolicyVersionDetailSchema)
    def get(self, version_id):
        """One policy version with its YAML."""
        authorize(api_user(), "policy.read")
        return store.get_version(version_id)

    @upload_route("MAX_POLICY_BYTES", action="policy.manage")
    @blp.arguments(PolicyDraftSchema)
    @blp.response(200, PolicyVersionDetailSchema)
    @blp.alt_response(409, description="Published versions are immutable.")
    def put(self, data, version_id):
        """Replace a draft's YAML; a published version answers 409."""
        return store.update_draft(
            store.get_version(version_id), data["body"], api_user(), notes=data.get("notes")
        )

    @blp.response(204)
    @blp.alt_response(409, description="Published versions are kept.")
    def delete(self, version_id):
        """Delete a draft."""
        store.delete_draft(store.get_version(version_id), api_user())


@blp.route("/policies/<int:version_id>/diff")
class PolicyDiff(MethodView):
    @blp.response(200, PolicyDiffSchema)
    def get(self, version_id):
        """A readable diff of this version against the active one."""
        authorize(api_user(), "policy.read")
        return store.diff_against_active(store.get_version(version_id))


@blp.route("/policies/<int:version_id>/publish")
class PolicyPublish(MethodView):
    @blp.response(200, PolicyVersionSchema)
    @blp.alt_response(409, description="Already published.")
    def post(self, version_id):
        """Publish a draft: it becomes the one active version and can never change again."""
        return store.publish(store.get_version(version_id), api_user())
