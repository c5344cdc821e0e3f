"""OpenID Connect sign-in through Authlib: code flow with PKCE, state and nonce; just-in-time
accounts whose roles come from the ID token's claims at every sign-in."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from flask import Flask, current_app
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select

from registry import audit
from registry.auth import organizations
from registry.auth.models import ROLE_STRENGTH, ROLES, RoleAssignment, User, new_session_nonce
from registry.errors import ValidationFailed
from registry.extensions import db

log = logging.getLogger(__name__)
EXTENSION = "registry.oidc"


class SignInRefused(Exception):
    """A sign-in that must not go through; `reason` is for the person, `code` for the audit."""

    def __init__(self, code: str, reason: str, status: int = 403, who: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status = status
        self.who = who


def init_app(app: Flask) -> None:
    """Register the provider when OIDC_ISSUER is set; discovery is fetched on first use."""
    issuer = app.config.get("OIDC_ISSUER")
    if not issuer:
        return
    client_kwargs = {"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256"}
    secret: Any = app.config["OIDC_CLIENT_SECRET"]
    auth_methods = None
    if app.config.get("OIDC_CLIENT_PRIVATE_KEY"):
        # private_key_jwt (RFC 7523): Authlib signs a fresh assertion for every token request,
        # and the key takes the secret's place.
        secret, alg = load_client_key(
            app.config["OIDC_CLIENT_PRIVATE_KEY"], app.config.get("OIDC_CLIENT_KEY_ID")
        )
        client_kwargs["token_endpoint_auth_method"] = PrivateKeyJWT.name
        kid = app.config.get("OIDC_CLIENT_KEY_ID")
        auth_methods = [PrivateKeyJWT(headers={"kid": kid} if kid else None, alg=alg)]
    oauth = OAuth(app)
    oauth.register(
        "oidc",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
        client_auth_methods=auth_methods,
    )
    app.extensions[EXTENSION] = oauth


def load_client_key(path: str, key_id: str | None) -> tuple[RSAKey | ECKey, str]:
    """The client's private key from a PEM file, and the algorithm it signs with (RS256 for
    RSA, ES256 for EC P-256); a missing or unusable file stops the app with the setting named."""
    try:
        pem = Path(path).read_bytes()
    except OSError as error:
        raise RuntimeError(
            f"OIDC_CLIENT_PRIVATE_KEY: cannot read {path}: {error.strerror}"
        ) from None
    parameters = {"kid": key_id} if key_id else None
    for key_class, alg in ((RSAKey, "RS256"), (ECKey, "ES256")):
        try:
            key = key_class.import_key(pem, parameters)
        except (ValueError, TypeError, JoseError):
            continue
        if key.is_private:
            return key, alg
        raise RuntimeError(f"OIDC_CLIENT_PRIVATE_KEY: {path} holds a public key, not a private one")
    raise RuntimeError(f"OIDC_CLIENT_PRIVATE_KEY: {path} is not an RSA or EC private key in PEM")


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def client() -> Any:
    return current_app.extensions[EXTENSION].oidc


def exchange_code() -> dict[str, Any]:
    """Check the state, exchange the code (with the PKCE verifier) and verify the ID token:
    signature against the provider's JWKS, issuer, audience, expiry and nonce."""
    try:
        token = client().authorize_access_token()
    except OAuthError as error:
        if error.error == "invalid_client":
            raise SignInRefused(
                "oauth:invalid_client",
                "The identity provider did not accept this site's own credentials, so you "
                "were not signed in. Tell the registry's administrator.",
                status=502,
            ) from None
        raise SignInRefused(
            f"oauth:{error.error}",
            "The sign-in could not be completed: the request was not one this site started, "
            "or it was already used. Start again.",
            status=400,
        ) from None
    except JoseError as error:
        raise SignInRefused(
            f"id_token:{error.error}",
            "The identity provider's answer could not be verified, so you were not signed in.",
            status=401,
        ) from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused("id_token:missing", "The identity provider sent no ID token.", 401)
    return {"claims": dict(claims), "id_token": token.get("id_token")}


def _claim_values(claims: Mapping[str, Any]) -> list[str]:
    value = claims.get(current_app.config["OIDC_ROLE_CLAIM"])
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def mapped_assignments(claims: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(role, organisation id) for every claim value OIDC_ROLE_MAP knows, strongest first."""
    role_map = current_app.config["OIDC_ROLE_MAP"] or {}
    found: dict[tuple[str, int], None] = {}
    for value in _claim_values(claims):
        entry = role_map.get(value)
        if not entry:
            continue
        role = entry.get("role")
        if role not in ROLES:
            log.warning("OIDC_ROLE_MAP[%r] names an unknown role %r", value, role)
            continue
        try:
            organization = organizations.resolve(entry.get("organization"), "organization")
        except ValidationFailed:
            log.warning("OIDC_ROLE_MAP[%r] names an unknown organisation", value)
            continue
        found[(role, organization.id)] = None
    return sorted(found, key=lambda pair: (ROLE_STRENGTH[pair[0]], pair[1]))


def refuse(error: SignInRefused, claims: Mapping[str, Any] | None = None) -> None:
    """Record a refused sign-in in the audit trail (the only thing a refusal writes)."""
    db.session.rollback()
    who = error.who or (claims or {}).get("email") or (claims or {}).get("sub") or "unknown"
    audit.record(
        None,
        "refuse_sign_in",
        "sign_in",
        str(who)[:64],
        {"method": "oidc", "reason": error.code},
    )
    db.session.commit()


def sign_in(claims: Mapping[str, Any]) -> User:
    """The account for these verified claims: found, linked or created, roles refreshed."""
    issuer = current_app.config["OIDC_ISSUER"].rstrip("/")
    sub = claims.get("sub")
    email = (claims.get("email") or "").strip().lower()
    if not sub or not email:
        raise SignInRefused(
            "claims:missing",
            "The identity provider did not send your email address, so you cannot be signed in.",
            who=email or sub,
        )
    assignments = mapped_assignments(claims)
    if not assignments:
        raise SignInRefused(
            "claims:no_role",
            "Your account at the identity provider is not in any group that has a role here. "
            "Ask your administrator for access.",
            who=email,
        )
    subject = f"{issuer}|{sub}"
    user = db.session.scalar(select(User).where(User.oidc_subject == subject))
    if user is None:
        user = db.session.scalar(
            select(User).where(User.email == email, User.oidc_subject.is_(None))
        )
    if user is not None and not user.active:
        raise SignInRefused(
            "account:deactivated", "Your account here is deactivated.", who=email
        )
    role, organization_id = assignments[0]
    if user is None:
        user = User(
            email=email,
            name=(claims.get("name") or email)[:200],
            role=role,
            organization_id=organization_id,
            password_hash=None,
            active=True,
            session_nonce=new_session_nonce(),
            oidc_subject=subject,
        )
        user.assignments = [RoleAssignment(role=r, organization_id=o) for r, o in assignments]
        db.session.add(user)
        db.session.flush()
        audit.record_change(
            None,
            "create",
            "user",
            user.id,
            None,
            {"email": email, "via": "oidc", "assignments": [list(a) for a in assignments]},
        )
        db.session.commit()
        return user
    before = sorted((a.role, a.organization_id) for a in user.assignments)
    user.oidc_subject = subject
    if sorted(assignments) != before or (user.role, user.organization_id) != assignments[0]:
        current = {(a.role, a.organization_id): a for a in user.assignments}
        user.assignments = [
            current.get(pair) or RoleAssignment(role=pair[0], organization_id=pair[1])
            for pair in assignments
        ]
        previous_role = user.role
        user.role, user.organization_id = role, organization_id
        db.session.flush()
        audit.record(
            None,
            "update",
            "user",
            user.id,
            {
                "role": {"before": previous_role, "after": role},
                "assignments": {"before": before, "after": [list(a) for a in assignments]},
                "via": "oidc",
            },
        )
    db.session.commit()
    return user


def logout_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout address, where it has one."""
    if not enabled() or not id_token:
        return None
    try:
        metadata = client().load_server_metadata()
    except Exception:  # noqa: BLE001 - the provider being away must not block signing out here
        log.warning("could not reach the identity provider for logout", exc_info=True)
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    from urllib.parse import urlencode

    query = urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
