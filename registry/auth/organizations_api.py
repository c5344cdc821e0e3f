"""The organisations API: list the tree, and add a bureau or office (administrators)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from registry.api_base import MAX_ID
from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth import organizations
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize

blp = Blueprint(
    "organizations_api",
    __name__,
    url_prefix="/api/v1",
    description="Organisations: an agency and its bureaus and offices",
)


class OrganizationSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    code = fields.String()
    parent_id = fields.Integer(allow_none=True)


class OrganizationInputSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    parent_id = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        load_default=None,
        metadata={"description": "The organisation it sits under; null only for the root."},
    )


@blp.route("/organizations")
class Organizations(MethodView):
    @blp.response(200, OrganizationSchema(many=True))
    def get(self):
        """Every organisation, the root first."""
        authorize(api_user(), "organization.read")
        return organizations.list_organizations()

    @blp.arguments(OrganizationInputSchema)
    @blp.response(201, OrganizationSchema)
    @blp.alt_response(403, description="Only an administrator of the parent may add under it.")
    @blp.alt_response(422, description="A field is invalid; `errors` names it.")
    def post(self, data):
        """Add a bureau or office under a parent you administer."""
        user = api_user()
        authorize(user, "organization.create")
        return organizations.create_organization(data, user)
