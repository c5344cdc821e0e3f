"""Bearer-token authentication for the JSON API; the API never reads the session cookie."""

from __future__ import annotations

from flask import g, request

from registry.auth import tokens
from registry.auth.models import User
from registry.errors import Forbidden, Unauthorized

# API paths anyone may read: the API's own description, the public inventory with its
# history, the signed audit checkpoints, and (under /api/v1/public/) concerns from the public.
PUBLIC_API_PATHS = frozenset(
    {
        "/api/v1/openapi.json",
        "/api/v1/docs",
        "/api/v1/inventory.csv",
        "/api/v1/inventory.json",
        "/api/v1/inventory/history.csv",
        "/api/v1/inventory/diff.csv",
        "/api/v1/inventory/diff.json",
        "/api/v1/inventory/waivers.json",
        "/api/v1/audit/checkpoints",
    }
)
PUBLIC_API_PREFIXES = ("/api/v1/docs/", "/api/v1/public/")


def is_public_api_path(path: str) -> bool:
    return path in PUBLIC_API_PATHS or path.startswith(PUBLIC_API_PREFIXES)


def authenticate_api_request() -> None:
    """Before every /api/ request: resolve the bearer token, or answer 401."""
    if not request.path.startswith("/api/") or is_public_api_path(request.path):
        return
    g.api_user, scopes = tokens.authenticate(request.headers.get("Authorization"))
    if g.api_user.must_change_password:
        raise Forbidden(
            "This account must change the password an administrator set before it can use "
            "the API: sign in on the web and choose a new password."
        )
    # Checked here, before any view parses the body: a read-only token writes nothing.
    if request.method not in tokens.SAFE_METHODS and "write" not in scopes:
        raise Forbidden(
            f"This API token is read-only (scopes: read); {request.method} needs a token with "
            "the write scope."
        )


def api_user() -> User:
    """The user behind this API request's token."""
    user = g.get("api_user")
    if user is None:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    return user
