"""Configuration: defaults in code, then the environment, then instance/config.py, then the argument."""

from __future__ import annotations

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
    "MAX_UPLOAD_BYTES": int,
    "MAX_EVIDENCE_BYTES": int,
    "UPLOAD_FOLDER": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_SENDER": str,
    "SESSION_COOKIE_SECURE": lambda v: v.lower() in {"1", "true", "yes"},
}


def defaults(instance_path: str) -> dict[str, Any]:
    """The built-in defaults: an embedded SQLite database and in-process jobs."""
    return {
        "REGISTRY_ENV": "development",
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'registry.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "REDIS_URL": None,
        # Bias-check uploads are streamed to disk, so the request limit can be large.
        "MAX_CONTENT_LENGTH": 2 * 1024**3 + 1024**2,
        "MAX_UPLOAD_BYTES": 2 * 1024**3,
        "MAX_EVIDENCE_BYTES": 25 * 1024**2,
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
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
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
    }


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings that the environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {}
    for key, convert in _ENV_KEYS.items():
        if environ.get(key):
            found[key] = convert(environ[key])
    if "DATABASE_URL" in found:
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(found.pop("DATABASE_URL"))
    return found


def normalise_database_url(url: str) -> str:
    """Point postgres:// and postgresql:// URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class InsecureConfiguration(RuntimeError):
    """The configuration must not be used as it stands."""


def check(config: dict[str, Any]) -> None:
    """Refuse to run production with the default secret key."""
    if config.get("REGISTRY_ENV") == "production" and config.get("SECRET_KEY") in (
        None,
        "",
        DEFAULT_SECRET_KEY,
    ):
        raise InsecureConfiguration(
            "REGISTRY_ENV=production needs SECRET_KEY set to a long random value"
        )
