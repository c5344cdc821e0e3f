"""Web sessions through Flask-Login."""

from __future__ import annotations

import time

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user, user_logged_in
from sqlalchemy import select

from registry import audit
from registry.auth.models import User
from registry.extensions import db, login_manager


def init_app(app: Flask) -> None:
    configure_cookies(app)
    app.before_request(_forget_cached_user)
    app.before_request(_enforce_session_limits)
    app.before_request(_require_password_change)
    user_logged_in.connect(_start_clock, app)
    app.config.setdefault("SESSION_IDLE_MINUTES", 30)
    app.config.setdefault("SESSION_MAX_HOURS", 12)
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


def establish(user: User, method: str) -> None:
    """Sign the user in on a fresh session, so a planted session id is worth nothing.

    A password sign-in also counts as the user's latest re-authentication: they have just
    typed their password (and their second factor, where they have one).
    """
    session.clear()
    login_user(user)
    session["auth_method"] = method
    if method == "password":
        mark_reauthenticated()


# A password accepted but the second factor not yet given: how long the second step may take.
PENDING_MAX_SECONDS = 600


def start_pending(user: User, target: str) -> None:
    """Remember, on a fresh session, that `user` gave the right password and goes on to MFA.

    The user is not signed in: every page that needs an account still sends them to sign in.
    """
    session.clear()
    session["mfa_pending"] = {
        "user_id": user.id,
        "nonce": user.session_nonce,
        "since": int(time.time()),
        "next": target,
    }


def pending_user() -> tuple[User | None, str]:
    """The user half-way through a password sign-in, and where they were going; None if none.

    None too when the step took longer than PENDING_MAX_SECONDS or the account's sessions were
    ended (its nonce changed) or it was deactivated meanwhile.
    """
    pending = session.get("mfa_pending")
    if not isinstance(pending, dict):
        return None, ""
    if int(time.time()) - int(pending.get("since", 0)) > PENDING_MAX_SECONDS:
        session.pop("mfa_pending", None)
        return None, ""
    user = load_user(f"{pending.get('user_id')}:{pending.get('nonce')}")
    return user, str(pending.get("next") or "")


def start_over() -> None:
    """Drop a half-finished sign-in."""
    session.pop("mfa_pending", None)


def auth_method() -> str | None:
    """How this session signed in: "password" or "oidc"."""
    return session.get("auth_method")


def mark_reauthenticated() -> None:
    session["reauth_at"] = int(time.time())


def recently_authenticated(key: str = "reauth_at") -> bool:
    """Whether the session's `key` time (by default: when the password and second factor
    were last entered; "signed_in_at": the sign-in itself) is within REAUTH_MAX_AGE_SECONDS."""
    at = session.get(key)
    return isinstance(at, int) and (
        int(time.time()) - at <= int(current_app.config["REAUTH_MAX_AGE_SECONDS"])
    )


def _start_clock(_app, user=None, **_extra) -> None:
    now = int(time.time())
    session["signed_in_at"] = now
    session["last_seen"] = now


def _enforce_session_limits():
    """End a web session idle for SESSION_IDLE_MINUTES or older than SESSION_MAX_HOURS."""
    if request.path.startswith(("/api/", "/static/", "/scim/", "/healthz")):
        return None
    if not current_user.is_authenticated:
        return None
    now = int(time.time())
    started = session.setdefault("signed_in_at", now)
    last_seen = session.get("last_seen", now)
    reason = None
    if now - last_seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        reason = "idle"
    elif now - started > current_app.config["SESSION_MAX_HOURS"] * 3600:
        reason = "lifetime"
    if reason is None:
        session["last_seen"] = now
        return None
    user = current_user._get_current_object()
    audit.record(user, "sign_out", "user", user.id, {"reason": f"session_{reason}"})
    db.session.commit()
    logout_user()
    session.clear()
    flash(
        f"You were signed out after {current_app.config['SESSION_IDLE_MINUTES']} minutes "
        "without activity. Sign in again."
        if reason == "idle"
        else "Your session reached its time limit. Sign in again.",
        "info",
    )
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


# What a person who must change their password can still reach: that page, sign-out, assets.
PASSWORD_CHANGE_OPEN = frozenset({"auth.change_password", "auth.logout", "static"})


def _require_password_change():
    """Until someone replaces a password an administrator typed, every page leads to the
    change-password page."""
    if request.path.startswith(("/api/", "/scim/", "/healthz")):
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.endpoint in PASSWORD_CHANGE_OPEN or (request.endpoint or "").endswith(".static"):
        return None
    return redirect(url_for("auth.change_password"), 303)
