"""Sign-in, sign-out and user administration pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from registry import audit
from registry.auth import invitations, mfa, oidc, service, sessions
from registry.auth.models import ROLE_LABELS, ROLES
from registry.auth.permissions import authorize, can
from registry.auth.throttle import Attempt, Refusal, throttle
from registry.errors import ValidationFailed
from registry.extensions import db

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the home page (no open redirects)."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("site.home")


def _login_page(errors: dict[str, list[str]], email: str, status: int = 200):
    local = current_app.config["LOCAL_LOGIN"]
    return render_template(
        "auth/login.html",
        errors=errors,
        email=email,
        local_login=local or bool(current_app.config.get("LOCAL_LOGIN_BREAK_GLASS")),
        break_glass_only=not local,
        oidc_enabled=oidc.enabled(),
        provider_name=current_app.config["OIDC_PROVIDER_NAME"],
    ), status


def _local_login_allowed(email: str) -> bool:
    if current_app.config["LOCAL_LOGIN"]:
        return True
    break_glass = (current_app.config.get("LOCAL_LOGIN_BREAK_GLASS") or "").strip().lower()
    return bool(break_glass) and email.strip().lower() == break_glass


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password, or choose single sign-on."""
    if current_user.is_authenticated:
        return redirect(url_for("site.home"))
    errors: dict[str, list[str]] = {}
    email = request.form.get("email", "")
    if request.method == "POST" and not _local_login_allowed(email):
        audit.record(None, "refuse_sign_in", "sign_in", email.strip().lower()[:64] or "unknown",
                     {"method": "password", "reason": "local_login_off"})
        db.session.commit()
        errors = {"email": ["Password sign-in is turned off here. Sign in with "
                            f"{current_app.config['OIDC_PROVIDER_NAME']}."]}
        return _login_page(errors, email, 403)
    if request.method == "POST":
        limiter = throttle()
        # Counted before the password is checked: attempts sent at once can't all slip in.
        attempt = limiter.begin(email, request.remote_addr)
        refusal = attempt if isinstance(attempt, Refusal) else None
        if isinstance(attempt, Attempt):
            user = service.check_login(email, request.form.get("password", ""))
            if user is not None and mfa.second_step_needed(user):
                # The attempt stays counted until the second step succeeds: a stolen
                # password must not reset the count that limits guessing the code.
                mfa.discard_unconfirmed(user)
                sessions.start_pending(user, safe_next(request.args.get("next")))
                if mfa.enrolled(user):
                    return redirect(url_for("mfa.verify"))
                return redirect(url_for("mfa.enrol_at_sign_in"))
            if user is not None:
                limiter.succeeded(attempt)
                sessions.establish(user, "password")
                flash(f"Signed in as {user.name}.", "success")
                return redirect(safe_next(request.args.get("next")))
            refusal = limiter.failed(attempt)
            errors["password"] = ["The email or password is not right."]
        if refusal is not None:
            errors = {"email": [refusal.message]}
            page, _ = _login_page(errors, email)
            return page, 429, {"Retry-After": str(refusal.retry_after)}
    return _login_page(errors, email, 422 if errors else 200)


@bp.get("/login/oidc")
def login_oidc():
    """Start single sign-on: off to the identity provider with state, nonce and PKCE."""
    if not oidc.enabled():
        abort(404)
    session["oidc_next"] = safe_next(request.args.get("next"))
    return oidc.client().authorize_redirect(url_for("auth.login_oidc_callback", _external=True))


@bp.get("/login/oidc/callback")
def login_oidc_callback():
    """Finish single sign-on: verify the provider's answer, then sign the person in."""
    if not oidc.enabled():
        abort(404)
    claims = None
    try:
        if "error" in request.args:
            raise oidc.SignInRefused(
                f"provider:{request.args['error'][:40]}",
                "The identity provider did not sign you in.",
                status=401,
            )
        answer = oidc.exchange_code()
        claims = answer["claims"]
        user = oidc.sign_in(claims)
    except oidc.SignInRefused as error:
        oidc.refuse(error, claims)
        return render_template("auth/sign_in_refused.html", reason=error.reason), error.status
    target = session.pop("oidc_next", None) or url_for("site.home")
    # No local second factor here: the identity provider does its own multi-factor checks.
    sessions.establish(user, "oidc")
    session["oidc_id_token"] = answer["id_token"]
    audit.record(user, "sign_in", "user", user.id, {"method": "oidc"})
    db.session.commit()
    flash(f"Signed in as {user.name}.", "success")
    return redirect(safe_next(target))


@bp.post("/logout")
@login_required
def logout():
    """Sign out, end this user's sessions, and the provider's session where it supports that."""
    user = current_user._get_current_object()
    id_token = session.get("oidc_id_token")
    audit.record(user, "sign_out", "user", user.id, {"method": session.get("auth_method")})
    service.end_sessions(user)
    logout_user()
    session.clear()
    provider_logout = oidc.logout_url(id_token, url_for("auth.login", _external=True))
    if provider_logout:
        return redirect(provider_logout)
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/users")
@login_required
def users():
    """List the accounts."""
    authorize(current_user, "user.manage")
    accounts = service.list_users()
    return render_template(
        "auth/users.html",
        users=accounts,
        role_labels=ROLE_LABELS,
        sign_in_states={u.id: invitations.state(u) for u in accounts},
    )


def _invitation_link(token: str) -> str:
    return url_for("auth.accept_invitation", token=token, _external=True)


def _invitation_sent(sent: invitations.Sent):
    # Rendered, not flashed: the link is shown once and never stored in the session cookie.
    return render_template(
        "auth/invitation_sent.html",
        user=sent.user,
        link=None if sent.emailed else sent.link,
        hours=invitations.expiry_hours(),
    )


@bp.route("/users/invite", methods=["GET", "POST"])
@login_required
def invite_user():
    """Invite someone by email: they choose their own password through a one-time link."""
    authorize(current_user, "user.manage")
    form = {"email": "", "name": "", "role": "team"}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("email", "name", "role")}
        try:
            sent = invitations.invite(form, current_user, link_for=_invitation_link)
        except ValidationFailed as error:
            errors = error.errors
        else:
            return _invitation_sent(sent)
    return render_template(
        "auth/invite_form.html", form=form, errors=errors, role_labels=ROLE_LABELS
    ), (422 if errors else 200)


@bp.post("/users/<int:user_id>/invite")
@login_required
def reinvite_user(user_id: int):
    """Send a new invitation link to someone who has not set a password yet."""
    authorize(current_user, "user.manage")
    user = service.get_user(user_id)
    return _invitation_sent(invitations.reinvite(user, current_user, link_for=_invitation_link))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Choose a first password through an invitation link (it works once)."""
    invitation = invitations.find(token)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            user = invitations.accept(
                token, request.form.get("password", ""), request.form.get("confirm", "")
            )
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(f"Your password is set. Sign in as {user.email}.", "success")
            return redirect(url_for("auth.login"))
    response = render_template(
        "auth/accept_invitation.html", user=invitation.user, errors=errors
    ), (422 if errors else 200), {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Choose a new password; required before anything else after an administrator set one."""
    user = current_user._get_current_object()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            service.change_password(
                user,
                request.form.get("current_password", ""),
                request.form.get("password", ""),
                request.form.get("confirm", ""),
            )
        except ValidationFailed as error:
            errors = error.errors
        else:
            # The change ended every session, this one too: start a fresh one.
            sessions.establish(user, session.get("auth_method") or "password")
            flash("Your password is changed.", "success")
            return redirect(url_for("site.home"))
    return render_template(
        "auth/change_password.html", errors=errors, forced=user.must_change_password
    ), (422 if errors else 200)


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
    user = service.get_user(user_id)
    authorize(current_user, "user.manage", user)
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


def _roles_page(user, form, errors: dict[str, list[str]], status: int = 200):
    from registry.auth import organizations
    from registry.auth.forms import FIELD_LABELS, role_choices

    choices = [
        (str(branch.organization.id), "\u2003" * branch.depth + branch.organization.name)
        for branch in organizations.flatten(organizations.tree())
        if can(current_user, "user.manage", branch.organization)
    ]
    values = {name: ("" if field.data is None else str(field.data))
              for name, field in form._fields.items()}
    rows = [
        {
            "assignment": assignment,
            "label": ROLE_LABELS.get(assignment.role, assignment.role),
            "primary": (assignment.role, assignment.organization_id)
            == (user.role, organizations.home_of(user)),
            "removable": can(current_user, "user.manage", assignment.organization),
        }
        for assignment in user.assignments
    ]
    return render_template(
        "auth/user_roles.html",
        user=user,
        rows=rows,
        form=form,
        values=values,
        errors=errors,
        labels=FIELD_LABELS,
        role_choices=role_choices(),
        organization_choices=choices,
        single_sign_on=bool(user.oidc_subject),
    ), status


@bp.route("/users/<int:user_id>/roles", methods=["GET", "POST"])
@login_required
def user_roles(user_id: int):
    """Show a user's roles, each with the organisation it reaches, and give another."""
    from registry.auth.forms import RoleAssignmentForm, errors_of

    user = service.get_user(user_id)
    authorize(current_user, "user.manage", user)
    form = RoleAssignmentForm()
    if request.method == "GET":
        return _roles_page(user, form, {})
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            assignment = service.add_assignment(user, form.payload(), current_user)
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(
                f"{user.name} is now {ROLE_LABELS[assignment.role].lower()} in "
                f"{assignment.organization.name}.",
                "success",
            )
            return redirect(url_for("auth.user_roles", user_id=user.id))
    else:
        errors = errors_of(form)
    return _roles_page(user, form, errors, 422)


@bp.route("/users/<int:user_id>/roles/<int:assignment_id>/remove", methods=["GET", "POST"])
@login_required
def user_role_remove(user_id: int, assignment_id: int):
    """Take a role away from a user, after a confirmation page (GET)."""
    from registry.web import Confirmation, render_confirmation

    user = service.get_user(user_id)
    authorize(current_user, "user.manage", user)
    assignment = service.get_assignment(user, assignment_id)
    role = ROLE_LABELS.get(assignment.role, assignment.role).lower()
    where = assignment.organization.name
    back = url_for("auth.user_roles", user_id=user.id)
    if request.method == "GET":
        authorize(current_user, "user.manage", assignment.organization)
        return render_confirmation(
            Confirmation(
                title=f"Remove {user.name}'s role as {role} in {where}?",
                lead=f"{user.name} can no longer act as {role} for {where} or the bureaus and "
                "offices under it. You can give the role again later.",
                action=url_for("auth.user_role_remove", user_id=user.id,
                               assignment_id=assignment.id),
                button="Yes, remove this role",
                cancel=back,
                cancel_text="No, keep it",
                irreversible=False,
            )
        )
    try:
        service.remove_assignment(user, assignment, current_user)
    except ValidationFailed as error:
        from registry.auth.forms import RoleAssignmentForm

        return _roles_page(user, RoleAssignmentForm(formdata=None), error.errors, 422)
    flash(f"{user.name} is no longer {role} in {where}.", "success")
    return redirect(back)
