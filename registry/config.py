"""Configuration: defaults in code, then the environment, then instance/config.py, then the argument."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"

_ENV_KEYS = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "REGISTRY_ENV": str,
    "MAX_CONTENT_LENGTH": int,
    "ANONYMOUS_MAX_CONTENT_LENGTH": int,
    "MAX_UPLOAD_BYTES": int,
    "MAX_EVIDENCE_BYTES": int,
    "MAX_INVENTORY_IMPORT_BYTES": int,
    "MAX_POLICY_BYTES": int,
    "BIAS_CHECK_MAX_CLASSES": int,
    "BIAS_CHECK_MAX_ROWS": int,
    "BIAS_CHECK_MEMORY_BUDGET_BYTES": int,
    "BIAS_CHECK_WORKER_MEMORY_BYTES": int,
    "BIAS_CHECK_WORKER_CPU_SECONDS": int,
    "UPLOAD_FOLDER": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_SENDER": str,
    "SESSION_COOKIE_SECURE": lambda v: v.lower() in {"1", "true", "yes"},
    "LOG_LEVEL": str,
    "TRUSTED_PROXIES": int,
    "LOGIN_MAX_FAILURES": int,
    "LOGIN_FAILURE_WINDOW_SECONDS": int,
    "LOGIN_LOCKOUT_SECONDS": int,
    "LOGIN_IP_MAX_FAILURES": int,
    "LOGIN_IP_WINDOW_SECONDS": int,
    "CONCERN_RATE_LIMIT": int,
    "CONCERN_RATE_WINDOW_SECONDS": int,
    "CONCERN_POW_BITS": int,
    "CONCERN_NOJS_MIN_SECONDS": int,
    "CONCERN_FIRST_RESPONSE_WORKING_DAYS": int,
    "PUBLIC_INQUIRY_EMAIL": str,
    "PUBLIC_INQUIRY_EMAILS": json.loads,
    "LINK_CHECK_TIMEOUT_SECONDS": int,
    "AUDIT_SIGNING_KEY": str,
    "AUDIT_SIGNING_KEY_FILE": str,
    "AUDIT_TRUSTED_PUBLIC_KEYS": str,
    "AUDIT_CHECKPOINT_INTERVAL_SECONDS": int,
    "AUDIT_CHECKPOINT_COPY_FILE": str,
    "TOKEN_DEFAULT_EXPIRY_DAYS": int,
    "INVITATION_EXPIRY_HOURS": int,
    "AGENCY_NAME": str,
    "HSTS_SECONDS": int,
    "BIAS_CHECK_TIMEOUT_SECONDS": int,
    "JOB_HEARTBEAT_SECONDS": int,
    "JOB_STALE_SECONDS": int,
    "JOB_SWEEP_SECONDS": int,
    "UPLOAD_PART_MAX_AGE_SECONDS": int,
    "OIDC_ISSUER": str,
    "OIDC_CLIENT_ID": str,
    "OIDC_CLIENT_SECRET": str,
    "OIDC_CLIENT_PRIVATE_KEY": str,
    "OIDC_CLIENT_KEY_ID": str,
    "OIDC_SCOPES": str,
    "OIDC_ROLE_CLAIM": str,
    "OIDC_ROLE_MAP": json.loads,
    "OIDC_PROVIDER_NAME": str,
    "LOCAL_LOGIN": lambda v: v.lower() in {"1", "true", "yes"},
    "LOCAL_LOGIN_BREAK_GLASS": str,
    "SESSION_IDLE_MINUTES": int,
    "SESSION_MAX_HOURS": int,
    # Comma-separated roles; "none" requires a second factor of nobody.
    "MFA_REQUIRED_ROLES": lambda v: tuple(
        r.strip() for r in v.split(",") if r.strip() and r.strip().lower() != "none"
    ),
    "REAUTH_MAX_AGE_SECONDS": int,
}


def defaults(instance_path: str) -> dict[str, Any]:
    """The built-in defaults: an embedded SQLite database and in-process jobs."""
    return {
        "REGISTRY_ENV": "development",
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'registry.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "REDIS_URL": None,
        # Every request body is at most MAX_CONTENT_LENGTH bytes; the upload routes alone take
        # their file limit (plus 64 KiB of form) instead (registry.request_limits).
        "MAX_CONTENT_LENGTH": 1024**2,
        # ... and a request from nobody signed in (the sign-in form, a concern) at most this.
        "ANONYMOUS_MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_UPLOAD_BYTES": 2 * 1024**3,
        "MAX_EVIDENCE_BYTES": 25 * 1024**2,
        "MAX_INVENTORY_IMPORT_BYTES": 64 * 1024**2,
        # A policy document is at most 1,000,000 characters; JSON may spend 6 bytes on one.
        "MAX_POLICY_BYTES": 6 * 1024**2,
        # A multiclass bias check with more classes than this is refused (422).
        "BIAS_CHECK_MAX_CLASSES": 50,
        # Uploads within a budget (assessments.upload_budget): a bias-check file with more
        # rows, or whose checked columns decode (from its Parquet footer, or its CSV line
        # count) to more bytes, is refused with a 422 before any data is read.
        "BIAS_CHECK_MAX_ROWS": 5_000_000,
        "BIAS_CHECK_MEMORY_BUDGET_BYTES": 1024**3,
        # Reading the file and computing the metrics run in a child process with these hard
        # limits (RLIMIT_AS, RLIMIT_CPU; assessments.sandbox); past them the check is refused
        # (422) or fails, and the web process is untouched.
        "BIAS_CHECK_WORKER_MEMORY_BYTES": 3 * 1024**3,
        "BIAS_CHECK_WORKER_CPU_SECONDS": 900,
        "UPLOAD_FOLDER": str(Path(instance_path) / "uploads"),
        "MAIL_SERVER": None,
        "MAIL_PORT": 25,
        "MAIL_SENDER": "registry@localhost",
        "API_TITLE": "AI Oversight Registry",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Swagger UI's files come with the swagger-ui-bundle package and are served by the app
        # (registry.api_docs), relative to /api/v1/docs: no CDN, the app's own CSP.
        "OPENAPI_SWAGGER_UI_URL": "docs/assets/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        "API_SPEC_OPTIONS": {
            "info": {"description": "The public API of the AI Oversight Registry."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
        "WTF_CSRF_TIME_LIMIT": None,
        # None: Secure when REGISTRY_ENV=production (see registry.auth.sessions); set it to
        # true or false to decide explicitly.
        "SESSION_COOKIE_SECURE": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PASSWORD_HASH_METHOD": "scrypt",
        "PAGE_SIZE": 25,
        "AUDIT_PAGE_SIZE": 50,
        "TOKEN_LAST_USED_RESOLUTION_SECONDS": 300,
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host/-Prefix.
        # 0 (the default) trusts none of those headers: request.remote_addr (used by the sign-in
        # throttle) is the socket's peer. Behind one nginx, set TRUSTED_PROXIES=1.
        "TRUSTED_PROXIES": 0,
        # Sign-in throttling (registry.auth.throttle): a lockout per email, a limit per address.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
        "LOGIN_LOCKOUT_SECONDS": 15 * 60,
        "LOGIN_IP_MAX_FAILURES": 30,
        "LOGIN_IP_WINDOW_SECONDS": 15 * 60,
        "LOGIN_THROTTLE_PREFIX": "registry:login:",
        # Concerns from the public (assessments.concern_guard): at most CONCERN_RATE_LIMIT
        # reports per client address per window (0 turns the limit off), a proof of work of
        # CONCERN_POW_BITS leading zero bits in the page's script, and without JavaScript a
        # form sent no sooner than CONCERN_NOJS_MIN_SECONDS after it was served.
        "CONCERN_RATE_LIMIT": 5,
        "CONCERN_RATE_WINDOW_SECONDS": 3600,
        "CONCERN_POW_BITS": 14,
        "CONCERN_CHALLENGE_TTL_SECONDS": 2 * 3600,
        "CONCERN_NOJS_MIN_SECONDS": 10,
        "CONCERN_GUARD_PREFIX": "registry:concerns:",
        # The service level for a first response to a concern, in working days.
        "CONCERN_FIRST_RESPONSE_WORKING_DAYS": 10,
        # The public inquiry address that replaces personal emails in the public inventory:
        # PUBLIC_INQUIRY_EMAILS maps agency codes to one (JSON in the environment), and
        # PUBLIC_INQUIRY_EMAIL serves every other agency.
        "PUBLIC_INQUIRY_EMAIL": None,
        "PUBLIC_INQUIRY_EMAILS": {},
        # The background check of links in public text.
        "LINK_CHECK_TIMEOUT_SECONDS": 5,
        "LINK_CHECK_ALLOW_PRIVATE": False,
        # Signed audit checkpoints (registry.audit.checkpoints). The Ed25519 signing key lives
        # outside the database: AUDIT_SIGNING_KEY (base64 of the raw 32-byte private key) or
        # the PEM file AUDIT_SIGNING_KEY_FILE, created (mode 0600) on first use if missing.
        # AUDIT_TRUSTED_PUBLIC_KEYS lists the public keys of retired keys (base64, separated by
        # spaces or commas), so checkpoints they signed still verify after a rotation.
        "AUDIT_SIGNING_KEY": None,
        "AUDIT_SIGNING_KEY_FILE": str(Path(instance_path) / "audit_signing_key.pem"),
        "AUDIT_TRUSTED_PUBLIC_KEYS": "",
        # The signer's own copy of the last checkpoint it signed; unset: beside the key file.
        "AUDIT_CHECKPOINT_COPY_FILE": None,
        # How often the web process (embedded mode) or `flask worker` (with REDIS_URL) signs a
        # checkpoint of a head that moved; 0 turns the schedule off (then use cron).
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": 3600,
        # Days until an API token expires when its issuer does not say (API and command line).
        "TOKEN_DEFAULT_EXPIRY_DAYS": 90,
        # An invitation link (set your first password) works once, for this many hours.
        "INVITATION_EXPIRY_HOURS": 72,
        # The agency named on the board packet's cover; the root organisation's name if unset.
        "AGENCY_NAME": None,
        # Strict-Transport-Security max-age with REGISTRY_ENV=production (one year); 0 omits it.
        "HSTS_SECONDS": 365 * 24 * 3600,
        # No job is ever stuck (assessments.job_recovery). A process beats a heartbeat every
        # JOB_HEARTBEAT_SECONDS for each check it holds (queued in its executor, or running).
        # The sweep, at start-up and every JOB_SWEEP_SECONDS (0: never on a timer), fails a
        # running check whose heartbeat is older than JOB_STALE_SECONDS ("interrupted"),
        # re-queues a queued check that no executor holds, and removes upload part files older
        # than UPLOAD_PART_MAX_AGE_SECONDS. A check running longer than
        # BIAS_CHECK_TIMEOUT_SECONDS loses its heartbeat, and so ends as interrupted too.
        "BIAS_CHECK_TIMEOUT_SECONDS": 900,
        "JOB_HEARTBEAT_SECONDS": 10,
        "JOB_STALE_SECONDS": 120,
        "JOB_SWEEP_SECONDS": 60,
        "UPLOAD_PART_MAX_AGE_SECONDS": 6 * 3600,
        # OpenID Connect sign-in (registry.auth.oidc): off unless OIDC_ISSUER is set.
        # OIDC_ROLE_MAP maps a value of the OIDC_ROLE_CLAIM claim to {"role", "organization"}.
        "OIDC_ISSUER": None,
        "OIDC_CLIENT_ID": None,
        "OIDC_CLIENT_SECRET": None,
        # A PEM private key file (RSA, or EC P-256): the client then authenticates at the
        # token endpoint with private_key_jwt (Login.gov) instead of the secret; the key id
        # goes into the assertion's header when the provider wants one.
        "OIDC_CLIENT_PRIVATE_KEY": None,
        "OIDC_CLIENT_KEY_ID": None,
        "OIDC_SCOPES": "openid email profile",
        "OIDC_ROLE_CLAIM": "groups",
        "OIDC_ROLE_MAP": {},
        "OIDC_PROVIDER_NAME": "your organisation's account",
        # False turns password sign-in off, except for the break-glass administrator's email.
        "LOCAL_LOGIN": True,
        "LOCAL_LOGIN_BREAK_GLASS": None,
        # Web sessions end after this long without a request, and this long after sign-in.
        "SESSION_IDLE_MINUTES": 30,
        "SESSION_MAX_HOURS": 12,
        # Password sign-in asks these roles for a second factor (an authenticator app code);
        # they set one up at their first sign-in. Other roles may set one up. Single sign-on
        # is not affected: the identity provider does its own multi-factor checks.
        "MFA_REQUIRED_ROLES": ("admin", "caio"),
        # Changing the second factor needs the password (and a code) entered this recently.
        "REAUTH_MAX_AGE_SECONDS": 300,
    }


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings that the environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {}
    for key, convert in _ENV_KEYS.items():
        if environ.get(key):
            try:
                found[key] = convert(environ[key])
            except ValueError:
                raise ConfigurationError(
                    f"environment variable {key}={environ[key]!r} is not a valid {convert.__name__}"
                ) from None
    if "DATABASE_URL" in found:
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(found.pop("DATABASE_URL"))
    return found


def normalise_database_url(url: str) -> str:
    """Point postgres:// and postgresql:// URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class ConfigurationError(RuntimeError):
    """The configuration can't be used as it stands."""


class InsecureConfiguration(ConfigurationError):
    """The configuration must not be used as it stands: it would be insecure."""


def check(config: dict[str, Any]) -> None:
    """Refuse to run production with the default secret key, or heartbeats that look stale."""
    beat, stale = config.get("JOB_HEARTBEAT_SECONDS"), config.get("JOB_STALE_SECONDS")
    if beat is not None and stale is not None and not 0 < 2 * int(beat) < int(stale):
        raise ConfigurationError(
            "JOB_STALE_SECONDS must be more than twice JOB_HEARTBEAT_SECONDS (a live job's "
            "heartbeat would otherwise look stopped)"
        )
    if config.get("REGISTRY_ENV") == "production" and config.get("SECRET_KEY") in (
        None,
        "",
        DEFAULT_SECRET_KEY,
    ):
        raise InsecureConfiguration(
            "REGISTRY_ENV=production needs SECRET_KEY set to a long random value"
        )
