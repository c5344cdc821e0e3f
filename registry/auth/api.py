"""The API-token API: list your tokens, issue one (shown once), revoke one."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth import service, tokens
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize

blp = Blueprint("tokens_api", __name__, url_prefix="/api/v1", description="Your API tokens")

MAX_EXPIRY_DAYS = 366


class UtcDateTime(fields.DateTime):
    """ISO 8601 with the UTC offset always written (SQLite hands back naive UTC values)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class TokenSchema(ma.Schema):
    """A token as listed: never the token itself, only its first characters."""

    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The token's first characters"})
    user_email = fields.Function(lambda t: t.user.email)
    state = fields.Function(
        service.token_state, metadata={"description": "active, expired or revoked"}
    )
    created_at = UtcDateTime()
    last_used_at = UtcDateTime(allow_none=True)
    expires_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    scopes = fields.Function(
        lambda t: t.scopes.split(),
        metadata={"description": '["read"] or ["read", "write"]'},
    )


class IssuedTokenSchema(TokenSchema):
    token = fields.String(
        metadata={"description": "The token in clear. It is shown only in this response."}
    )


class TokenInputSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_EXPIRY_DAYS),
        metadata={
            "description": "Days until the token expires (default TOKEN_DEFAULT_EXPIRY_DAYS, 90)"
        },
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(["read", "write"])),
        load_default=lambda: list(tokens.DEFAULT_SCOPES),
        validate=validate.Length(min=1, max=2),
        metadata={
            "description": '["read"] (GET only: every write answers 403) or ["read", "write"] '
            "(the default)"
        },
    )

    @ma.validates("scopes")
    def validate_scopes(self, value, **_kwargs):
        if tuple(dict.fromkeys(sorted(value))) not in tokens.SCOPE_CHOICES:
            raise ma.ValidationError('Choose ["read"] or ["read", "write"].')


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Your API tokens, newest first, revoked and expired ones included."""
        user = api_user()
        authorize(user, "token.manage")
        return service.list_tokens(user)

    @blp.arguments(TokenInputSchema)
    @blp.response(201, IssuedTokenSchema)
    @blp.alt_response(422, description="A field is invalid; `errors` names it.")
    def post(self, data):
        """Issue yourself a token; store it now, it is never shown again."""
        user = api_user()
        authorize(user, "token.manage")
        token, clear = service.create_token(
            user,
            data["name"],
            actor=user,
            expires_in_days=data["expires_in_days"],
            scopes=tuple(dict.fromkeys(sorted(data["scopes"]))),
        )
        token.token = clear
        return token


@blp.route("/tokens/<int:token_id>")
class TokenById(MethodView):
    @blp.response(204)
    @blp.alt_response(403, description="Only an administrator may revoke someone else's token.")
    def delete(self, token_id):
        """Revoke a token at once: your own, or anyone's if you are an administrator."""
        user = api_user()
        authorize(user, "token.manage")
        service.revoke_token(token_id, user)
