"""API bearer tokens: issued once in clear, stored only as a sha256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import Select, bindparam, select, update

from registry.auth.models import ApiToken, User
from registry.errors import Unauthorized
from registry.extensions import db

TOKEN_PREFIX = "air_"
# A token's scopes: "read" allows only safe methods; "write" (always with "read") allows the rest.
SCOPE_CHOICES = (("read",), ("read", "write"))
DEFAULT_SCOPES = ("read", "write")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(
    user: User,
    name: str,
    *,
    expires_in_days: int | None = None,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
) -> tuple[ApiToken, str]:
    """Create a token row for the user and return it with the clear token (shown once).

    Every token expires: after `expires_in_days`, else after TOKEN_DEFAULT_EXPIRY_DAYS.
    """
    if tuple(scopes) not in SCOPE_CHOICES:
        raise ValueError(f"scopes must be one of {SCOPE_CHOICES}")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    days = expires_in_days or int(current_app.config["TOKEN_DEFAULT_EXPIRY_DAYS"])
    token = ApiToken(
        user=user,
        name=name,
        token_hash=hash_token(clear),
        prefix=clear[: len(TOKEN_PREFIX) + 4],
        expires_at=datetime.now(UTC) + timedelta(days=days),
        scopes=" ".join(scopes),
    )
    db.session.add(token)
    return token, clear


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@cache
def _lookup_statement() -> Select:
    """The user behind a token hash, with what decides whether the token may be used.

    Built once and run with the hash bound: building and hashing a new statement, and loading
    the token as an ORM object, were most of the cost of authenticating an API request.
    """
    return (
        select(
            User,
            ApiToken.id,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            ApiToken.scopes,
        )
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def authenticate(header: str | None) -> tuple[User, frozenset[str]]:
    """The user behind an `Authorization: Bearer` header and the token's scopes, or 401."""
    if not header:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    scheme, _, clear = header.partition(" ")
    if scheme.lower() != "bearer" or not clear.strip():
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    row = db.session.execute(_lookup_statement(), {"token_hash": hash_token(clear.strip())}).first()
    if row is None:
        raise Unauthorized("The API token is not valid.")
    user, token_id, revoked_at, expires_at, last_used_at, scopes = row
    now = datetime.now(UTC)
    if revoked_at is not None:
        raise Unauthorized("The API token has been revoked.")
    expires_at = _aware(expires_at)
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("The API token has expired.")
    if not user.active:
        raise Unauthorized("The account is deactivated.")
    last_used = _aware(last_used_at)
    resolution = current_app.config["TOKEN_LAST_USED_RESOLUTION_SECONDS"]
    # Writing on every request would serialise readers on SQLite; a coarse timestamp is enough.
    if last_used is None or (now - last_used).total_seconds() > resolution:
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()
    return user, frozenset((scopes or "").split())
