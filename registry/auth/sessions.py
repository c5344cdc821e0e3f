"""Web sessions through Flask-Login."""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy import select

from registry.auth.models import User
from registry.extensions import db, login_manager


def init_app(app: Flask) -> None:
    configure_cookies(app)
    app.before_request(_forget_cached_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


def configure_cookies(app: Flask) -> None:
    """Session and remember-me cookies: HttpOnly, SameSite=Lax, and Secure behind HTTPS.

    SESSION_COOKIE_SECURE left unset (None) means Secure exactly when REGISTRY_ENV=production,
    which is served behind a TLS-terminating proxy; an explicit true or false wins.
    """
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config.get("REGISTRY_ENV") == "production"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")


def _forget_cached_user() -> None:
    # Flask-Login caches the user on `g`; when an app context outlives one request (tests,
    # CLI-driven clients) a stale user must not carry over into the next request.
    g.pop("_login_user", None)
    g.pop("api_user", None)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the user named in the session, unless its nonce was rotated by a logout."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id)))
    if user is None or not user.active or user.session_nonce != nonce:
        return None
    return user
