"""Web sessions through Flask-Login."""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy import select

from registry.auth.models import User
from registry.extensions import db, login_manager


def init_app(app: Flask) -> None:
    app.before_request(_forget_cached_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


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
