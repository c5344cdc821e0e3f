"""Sign-in, sign-out and user administration pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from registry.auth import service
from registry.auth.models import ROLE_LABELS, ROLES
from registry.auth.permissions import authorize
from registry.auth.throttle import Attempt, Refusal, throttle
from registry.errors import ValidationFailed

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("site.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("site.home"))
    errors: dict[str, list[str]] = {}
    email = request.form.get("email", "")
    if request.method == "POST":
        limiter = throttle()
        # Counted before the password is checked: attempts sent at once can't all slip in.
        attempt = limiter.begin(email, request.remote_addr)
        refusal = attempt if isinstance(attempt, Refusal) else None
        if isinstance(attempt, Attempt):
            user = service.check_login(email, request.form.get("password", ""))
            if user is not None:
                limiter.succeeded(attempt)
                # A fresh session on sign-in, so a planted session id is worth nothing.
                session.clear()
                login_user(user)
                flash(f"Signed in as {user.name}.", "success")
                return redirect(_safe_next(request.args.get("next")))
            refusal = limiter.failed(attempt)
            errors["password"] = ["The email or password is not right."]
        if refusal is not None:
            errors = {"email": [refusal.message]}
            page = render_template("auth/login.html", errors=errors, email=email)
            return page, 429, {"Retry-After": str(refusal.retry_after)}
    return render_template("auth/login.html", errors=errors, email=email), (422 if errors else 200)


@bp.post("/logout")
@login_required
def logout():
    """Sign out and end this user's sessions."""
    service.end_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/users")
@login_required
def users():
    """List the accounts."""
    authorize(current_user, "user.manage")
    return render_template("auth/users.html", users=service.list_users(), role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user():
    """Create an account."""
    authorize(current_user, "user.manage")
    form = {"email": "", "name": "", "role": "team"}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("email", "name", "role", "password")}
        try:
            user = service.create_user(form, current_user)
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(f"Created {user.role_label.lower()} {user.email}.", "success")
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/user_form.html",
        form=form,
        errors=errors,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        user=None,
    ), (422 if errors else 200)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):
    """Change an account's name, role, status or password."""
    authorize(current_user, "user.manage")
    user = service.get_user(user_id)
    form = {"email": user.email, "name": user.name, "role": user.role, "active": user.active}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = {
            "name": request.form.get("name", ""),
            "role": request.form.get("role", ""),
            "active": request.form.get("active") == "on",
        }
        if request.form.get("password"):
            data["password"] = request.form["password"]
        form.update(data)
        try:
            service.update_user(user, data, current_user)
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/user_form.html",
        form=form,
        errors=errors,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        user=user,
    ), (422 if errors else 200)
