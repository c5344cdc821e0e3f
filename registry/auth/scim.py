"""SCIM 2.0 provisioning (RFC 7643/7644): users created, read, filtered, patched and deleted by
an identity provider holding a SCIM bearer token."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from registry import audit
from registry.auth import service, tokens
from registry.auth.models import ScimToken, User
from registry.errors import NotFound
from registry.extensions import db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
TOKEN_PREFIX = "scim_"
FILTER = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
# Provisioned accounts start as project-team members of the root organisation; single
# sign-on gives them their real roles at their first sign-in.
DEFAULT_ROLE = "team"


class ScimError(Exception):
    """An error in the SCIM error schema (RFC 7644 section 3.12)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def issue_token(name: str) -> str:
    """Create a SCIM bearer token and return it in clear (only its sha256 is stored)."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(name=name[:100], token_hash=tokens.hash_token(clear), prefix=clear[:9])
    db.session.add(token)
    db.session.flush()
    audit.record(None, "create", "scim_token", token.id, {"name": token.name})
    db.session.commit()
    return clear


def revoke_token(token_id: int) -> None:
    token = db.session.get(ScimToken, token_id)
    if token is None:
        raise NotFound(f"There is no SCIM token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record(None, "revoke", "scim_token", token.id, {"name": token.name})
    db.session.commit()


def authenticate(header: str | None) -> ScimToken:
    scheme, _, clear = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not clear.strip():
        raise ScimError(401, "Send the SCIM token as 'Authorization: Bearer <token>'.")
    token = db.session.scalar(
        select(ScimToken).where(ScimToken.token_hash == tokens.hash_token(clear.strip()))
    )
    if token is None or token.revoked_at is not None:
        raise ScimError(401, "The SCIM token is not valid or has been revoked.")
    return token


def to_resource(user: User, base_url: str) -> dict[str, Any]:
    created = user.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.id),
        "userName": user.email,
        "name": {"formatted": user.name},
        "displayName": user.name,
        "emails": [{"value": user.email, "primary": True}],
        "active": bool(user.active),
        "meta": {
            "resourceType": "User",
            "location": f"{base_url}/Users/{user.id}",
            "created": created.isoformat() if created else None,
        },
    }
    if user.external_id:
        resource["externalId"] = user.external_id
    return resource


def _live_user(user_id: str) -> User:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or user.deleted_at is not None:
        raise ScimError(404, f"There is no user {user_id}.")
    return user


def get_user(user_id: str) -> User:
    return _live_user(user_id)


def find_users(filter_text: str | None) -> list[User]:
    stmt = select(User).where(User.deleted_at.is_(None)).order_by(User.id)
    if filter_text:
        match = FILTER.match(filter_text)
        if match is None:
            raise ScimError(
                400,
                'Only the filters userName eq "..." and externalId eq "..." are supported.',
                "invalidFilter",
            )
        attribute, value = match.group(1).lower(), match.group(2).replace('\\"', '"')
        if attribute == "username":
            stmt = stmt.where(User.email == value.strip().lower())
        else:
            stmt = stmt.where(User.external_id == value)
    return list(db.session.scalars(stmt))


def _display_name(body: Mapping[str, Any]) -> str:
    name = body.get("name") if isinstance(body.get("name"), Mapping) else {}
    parts = [name.get("givenName"), name.get("familyName")]
    for candidate in (
        name.get("formatted"),
        " ".join(p for p in parts if isinstance(p, str) and p.strip()),
        body.get("displayName"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""


def create_user(body: Any, token: ScimToken) -> User:
    """Provision an account from a SCIM User resource; nothing is written on any error."""
    if not isinstance(body, Mapping) or USER_SCHEMA not in (body.get("schemas") or []):
        raise ScimError(400, f"The body must be a SCIM User with the schema {USER_SCHEMA}.",
                        "invalidSyntax")
    user_name = body.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ScimError(400, "userName is required: the person's email address.", "invalidValue")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ScimError(400, "active must be true or false.", "invalidValue")
    external_id = body.get("externalId")
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) > 200):
        raise ScimError(400, "externalId must be a string of at most 200 characters.",
                        "invalidValue")
    try:
        email = service.normalise_email(user_name, "userName")
    except Exception:  # noqa: BLE001 - ValidationFailed; the SCIM answer names the attribute
        raise ScimError(400, "userName must be a valid email address.", "invalidValue") from None
    if service.find_user(email) is not None or (
        external_id and db.session.scalar(select(User).where(User.external_id == external_id))
    ):
        raise ScimError(409, f"A user with the userName {email} already exists.", "uniqueness")
    name = _display_name(body) or email
    user = service.create_user(
        {
            "email": email,
            "name": name[:200],
            "role": DEFAULT_ROLE,
            "passwordless": True,
        },
        actor=None,
    )
    user.external_id = external_id
    audit.record(None, "provision", "user", user.id, {"via": "scim", "token": token.name})
    db.session.commit()
    if not active:
        service.deactivate_user(user, actor=None, via="scim")
    return user


def _active_from_patch(body: Any) -> bool:
    if not isinstance(body, Mapping) or PATCH_SCHEMA not in (body.get("schemas") or []):
        raise ScimError(400, f"The body must be a PatchOp with the schema {PATCH_SCHEMA}.",
                        "invalidSyntax")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
    active = None
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        if str(operation.get("op", "")).lower() not in ("replace", "add"):
            raise ScimError(400, "Only replace (or add) of active is supported.", "invalidValue")
        path, value = operation.get("path"), operation.get("value")
        if path is None and isinstance(value, Mapping) and set(value) == {"active"}:
            value = value["active"]
        elif path != "active":
            raise ScimError(400, "Only the attribute active can be changed.", "mutability")
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # Entra ID sends "False" as a string
        if not isinstance(value, bool):
            raise ScimError(400, "active must be true or false.", "invalidValue")
        active = value
    assert active is not None
    return active


def patch_user(user_id: str, body: Any, token: ScimToken) -> User:
    user = _live_user(user_id)
    active = _active_from_patch(body)
    if not active:
        service.deactivate_user(user, actor=None, via="scim")
    elif not user.active:
        user.active = True
        user.deactivated_at = None
        audit.record(None, "reactivate", "user", user.id, {"via": "scim", "token": token.name})
        db.session.commit()
    return user


def delete_user(user_id: str, token: ScimToken) -> None:
    """Deprovision: access ends at once; the row stays for its history and authorship."""
    user = _live_user(user_id)
    service.deactivate_user(user, actor=None, via="scim")
    user.deleted_at = datetime.now(UTC)
    audit.record(None, "deprovision", "user", user.id, {"via": "scim", "token": token.name})
    db.session.commit()
