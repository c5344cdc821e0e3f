"""Multi-factor pages: the second sign-in step, setting up an app, recovery codes, re-entry."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from marshmallow import ValidationError

from registry import audit
from registry.auth import mfa, service, sessions
from registry.auth.models import User
from registry.auth.permissions import authorize
from registry.auth.throttle import Refusal, throttle
from registry.auth.views import safe_next
from registry.errors import ValidationFailed
from registry.extensions import db

bp = Blueprint("mfa", __name__)

CODE_LABEL = "Code from your authenticator app"
RECOVERY_HINT = "Lost your phone? Enter one of your recovery codes instead."


def _start_over():
    flash("Your sign-in took too long or was ended. Sign in again.", "info")
    return redirect(url_for("auth.login"))


def _throttled(page: str, context: dict, refusal: Refusal, user: User):
    audit.record(None, "refuse_sign_in", "user", user.id, {"method": "mfa", "reason": "locked"})
    db.session.commit()
    context["errors"] = {"code": [refusal.message]}
    return render_template(page, **context), 429, {"Retry-After": str(refusal.retry_after)}


def _setup_context(user: User, errors: dict, *, at_sign_in: bool) -> dict:
    secret = mfa.pending_secret(user)
    return {
        "errors": errors,
        "qr_code": mfa.qr_code_svg(mfa.provisioning_uri(user, secret)),
        "secret": mfa.grouped(secret),
        "account": user.email,
        "issuer": mfa.ISSUER,
        "at_sign_in": at_sign_in,
        "required": mfa.required_for(user),
        "code_label": CODE_LABEL,
    }


@bp.route("/login/code", methods=["GET", "POST"])
def verify():
    """Second sign-in step: a code from the authenticator app, or a recovery code."""
    user, target = sessions.pending_user()
    if user is None or not mfa.enrolled(user):
        return _start_over()
    context = {"errors": {}, "code_label": CODE_LABEL, "recovery_hint": RECOVERY_HINT}
    if request.method == "GET":
        return render_template("auth/mfa_verify.html", **context)
    code = request.form.get("code", "")
    if not code.strip():
        context["errors"] = {"code": [mfa.REFUSAL_MESSAGES["missing"]]}
        return render_template("auth/mfa_verify.html", **context), 422
    limiter = throttle()
    attempt = limiter.begin(user.email, request.remote_addr)
    if isinstance(attempt, Refusal):
        return _throttled("auth/mfa_verify.html", context, attempt, user)
    check = mfa.check_code(user, code)
    if not check.ok:
        db.session.commit()
        mfa.refuse(user, check, during="sign_in")
        if refusal := limiter.failed(attempt):
            return _throttled("auth/mfa_verify.html", context, refusal, user)
        context["errors"] = {"code": [mfa.REFUSAL_MESSAGES[check.reason or "wrong_code"]]}
        return render_template("auth/mfa_verify.html", **context), 422
    audit.record(user, "sign_in", "user", user.id, {"method": "password", "mfa": check.method})
    db.session.commit()
    limiter.succeeded(attempt)
    sessions.establish(user, "password")
    flash(f"Signed in as {user.name}.", "success")
    if check.method == "recovery_code":
        left = mfa.recovery_codes_left(user)
        flash(
            f"You used a recovery code; {left} of {mfa.RECOVERY_CODE_COUNT} are left. "
            "Make new ones on your account security page if you are running out.",
            "info",
        )
    return redirect(safe_next(target))


@bp.route("/login/set-up-app", methods=["GET", "POST"])
def enrol_at_sign_in():
    """Set up an authenticator app before the first sign-in, where the role requires one."""
    user, target = sessions.pending_user()
    if user is None:
        return _start_over()
    if mfa.enrolled(user):
        return redirect(url_for("mfa.verify"))
    if request.method == "GET":
        return render_template("auth/mfa_setup.html", **_setup_context(user, {}, at_sign_in=True))
    limiter = throttle()
    attempt = limiter.begin(user.email, request.remote_addr)
    if isinstance(attempt, Refusal):
        context = _setup_context(user, {}, at_sign_in=True)
        return _throttled("auth/mfa_setup.html", context, attempt, user)
    try:
        codes = mfa.confirm_enrolment(user, request.form.get("code", ""))
    except ValidationFailed as error:
        limiter.failed(attempt)
        context = _setup_context(user, error.errors, at_sign_in=True)
        return render_template("auth/mfa_setup.html", **context), 422
    limiter.succeeded(attempt)
    sessions.establish(user, "password")
    flash(f"Signed in as {user.name}. Your authenticator app is set up.", "success")
    return render_template(
        "auth/mfa_recovery_codes.html", codes=codes, continue_url=safe_next(target)
    )


@bp.post("/login/cancel")
def cancel():
    """Abandon a sign-in half-way through the second step."""
    sessions.start_over()
    return redirect(url_for("auth.login"))


def _local_account(user: User) -> bool:
    return bool(user.password_hash) and sessions.auth_method() == "password"


def _reauth_first():
    return redirect(url_for("mfa.reauth", next=url_for("mfa.security")))


@bp.get("/account/security")
@login_required
def security():
    """Show how this account signs in, and its second factor."""
    user = current_user._get_current_object()
    return render_template(
        "auth/mfa_security.html",
        local=_local_account(user),
        enrolled=mfa.enrolled(user),
        enrolled_at=user.mfa.enrolled_at if mfa.enrolled(user) else None,
        required=mfa.required_for(user),
        codes_left=mfa.recovery_codes_left(user),
        code_count=mfa.RECOVERY_CODE_COUNT,
        provider_name=current_app.config["OIDC_PROVIDER_NAME"],
    )


@bp.route("/account/security/app", methods=["GET", "POST"])
@login_required
def enrol():
    """Set up an authenticator app for this account."""
    user = current_user._get_current_object()
    if not _local_account(user) or mfa.enrolled(user):
        return redirect(url_for("mfa.security"))
    if not sessions.recently_authenticated():
        return redirect(url_for("mfa.reauth", next=url_for("mfa.enrol")))
    if request.method == "GET":
        return render_template("auth/mfa_setup.html", **_setup_context(user, {}, at_sign_in=False))
    try:
        codes = mfa.confirm_enrolment(user, request.form.get("code", ""))
    except ValidationFailed as error:
        context = _setup_context(user, error.errors, at_sign_in=False)
        return render_template("auth/mfa_setup.html", **context), 422
    flash("Your authenticator app is set up.", "success")
    return render_template(
        "auth/mfa_recovery_codes.html", codes=codes, continue_url=url_for("mfa.security")
    )


def _confirm(
    title: str,
    lead: str,
    action: str,
    button: str,
    *,
    cancel: str | None = None,
    cancel_text: str = "No, go back",
):
    """The page that asks before an account change (`action` is where it posts); cancelling
    goes back to `cancel`, the security page unless told otherwise."""
    from registry.web import Confirmation, render_confirmation

    return render_confirmation(
        Confirmation(
            title=title,
            lead=lead,
            action=action,
            button=button,
            cancel=cancel or url_for("mfa.security"),
            cancel_text=cancel_text,
        )
    )


@bp.route("/account/security/recovery-codes", methods=["GET", "POST"])
@login_required
def regenerate():
    """Replace the recovery codes with new ones, after a confirmation page (GET)."""
    user = current_user._get_current_object()
    if not _local_account(user) or not mfa.enrolled(user):
        return redirect(url_for("mfa.security"))
    if request.method == "GET":
        return _confirm(
            "Make new recovery codes?",
            "Your current recovery codes stop working at once, including any you have written "
            "down. You will see ten new ones, once.",
            url_for("mfa.regenerate"),
            "Yes, make new codes",
        )
    if not sessions.recently_authenticated():
        return _reauth_first()
    codes = mfa.regenerate_recovery_codes(user)
    flash("New recovery codes made. The old ones no longer work.", "success")
    return render_template(
        "auth/mfa_recovery_codes.html", codes=codes, continue_url=url_for("mfa.security")
    )


@bp.route("/account/security/turn-off", methods=["GET", "POST"])
@login_required
def disable():
    """Remove the authenticator app and recovery codes (where the role allows it), after a
    confirmation page (GET)."""
    user = current_user._get_current_object()
    if not _local_account(user):
        return redirect(url_for("mfa.security"))
    if request.method == "GET":
        if not mfa.enrolled(user) or mfa.required_for(user):
            return redirect(url_for("mfa.security"))
        return _confirm(
            "Turn off the authenticator app?",
            "Sign-in will ask only for your password, and your recovery codes stop working. "
            "You can set an app up again later.",
            url_for("mfa.disable"),
            "Yes, turn it off",
        )
    if not sessions.recently_authenticated():
        return _reauth_first()
    mfa.disable(user)
    flash("The authenticator app is removed. Sign-in needs only your password now.", "success")
    return redirect(url_for("mfa.security"))


@bp.route("/account/confirm-password", methods=["GET", "POST"])
@login_required
def reauth():
    """Enter the password (and a code) again before changing how this account signs in."""
    user = current_user._get_current_object()
    target = safe_next(request.args.get("next"))
    if not _local_account(user):
        return redirect(url_for("mfa.security"))
    context = {
        "errors": {},
        "needs_code": mfa.enrolled(user),
        "code_label": CODE_LABEL,
        "max_minutes": max(1, int(current_app.config["REAUTH_MAX_AGE_SECONDS"]) // 60),
    }
    if request.method == "GET":
        return render_template("auth/mfa_reauth.html", **context)
    limiter = throttle()
    attempt = limiter.begin(user.email, request.remote_addr)
    if isinstance(attempt, Refusal):
        return _throttled("auth/mfa_reauth.html", context, attempt, user)
    errors = _reauth_errors(user)
    if errors:
        context["errors"] = errors
        if refusal := limiter.failed(attempt):
            return _throttled("auth/mfa_reauth.html", context, refusal, user)
        return render_template("auth/mfa_reauth.html", **context), 422
    limiter.succeeded(attempt)
    sessions.mark_reauthenticated()
    return redirect(target)


def _reauth_errors(user: User) -> dict[str, list[str]]:
    """Check the password and (if set up) the code again; record a refusal; the errors."""
    checked = service.check_login(user.email, request.form.get("password", ""))
    if checked is None or checked.id != user.id:
        audit.record(None, "refuse_mfa", "user", user.id, {"method": "password", "step": "reauth"})
        db.session.commit()
        return {"password": ["The password is not right."]}
    if mfa.enrolled(user):
        check = mfa.check_code(user, request.form.get("code", ""))
        db.session.commit()
        if not check.ok:
            mfa.refuse(user, check, during="reauth")
            return {"code": [mfa.REFUSAL_MESSAGES[check.reason or "wrong_code"]]}
    return {}


# --- API tokens, issued from the account pages after the password (and code) again ---

TOKEN_SCOPE_CHOICES = {"read write": ("read", "write"), "read": ("read",)}
TOKEN_MESSAGES = {
    "name": "Enter a name for the token (what it is for), up to 100 characters.",
    "expires_in_days": "Enter the number of days the token works, from 1 to 366, or leave it "
    "empty for the default.",
    "scopes": "Choose what the token may do.",
}


def _fresh_sign_in(user: User) -> bool:
    """Whether this person proved who they are recently enough to issue a token: the password
    (and code) again for a password account; a single sign-on within the same window."""
    if _local_account(user):
        return sessions.recently_authenticated()
    return sessions.recently_authenticated("signed_in_at")


def _token_form_errors(form: dict[str, str]) -> tuple[dict, dict[str, list[str]]]:
    """The token request the form describes, and its errors in words, by field."""
    from registry.auth.api import TokenInputSchema

    errors: dict[str, list[str]] = {}
    days = form["expires_in_days"]
    if days and not days.isdigit():
        errors["expires_in_days"] = [TOKEN_MESSAGES["expires_in_days"]]
    if form["scopes"] not in TOKEN_SCOPE_CHOICES:
        errors["scopes"] = [TOKEN_MESSAGES["scopes"]]
    raw = {"name": form["name"], "scopes": list(TOKEN_SCOPE_CHOICES.get(form["scopes"], ()))}
    if days.isdigit():
        raw["expires_in_days"] = int(days)
    try:
        data = TokenInputSchema().load(raw)
    except ValidationError as error:
        data = {}
        for field in error.messages:
            errors.setdefault(field, [TOKEN_MESSAGES.get(field, "Check this field.")])
    return data, errors


def _tokens_page(user: User, form: dict, errors: dict, issued=None, status: int = 200):
    response = current_app.make_response(
        (
            render_template(
                "auth/api_tokens.html",
                tokens=service.list_tokens(user),
                token_state=service.token_state,
                form=form,
                errors=errors,
                issued=issued,
                fresh=_fresh_sign_in(user),
                local=_local_account(user),
                needs_code=mfa.enrolled(user),
                provider_name=current_app.config["OIDC_PROVIDER_NAME"],
                default_days=current_app.config.get("TOKEN_DEFAULT_EXPIRY_DAYS", 90),
            ),
            status,
        )
    )
    # A page that shows a token in clear is never stored by a browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def api_tokens():
    """Your API tokens; issuing one asks for the password (and code) again first."""
    user = current_user._get_current_object()
    authorize(user, "token.manage")
    form = {"name": "", "expires_in_days": "", "scopes": "read write"}
    if request.method == "GET":
        return _tokens_page(user, form, {})
    form = {key: request.form.get(key, default).strip() for key, default in form.items()}
    if not _fresh_sign_in(user):
        if _local_account(user):
            return redirect(url_for("mfa.reauth", next=url_for("mfa.api_tokens")))
        return _tokens_page(user, form, {}, status=403)
    data, errors = _token_form_errors(form)
    if errors:
        return _tokens_page(user, form, errors, status=422)
    token, clear = service.create_token(
        user,
        data["name"],
        actor=user,
        expires_in_days=data["expires_in_days"],
        scopes=tuple(dict.fromkeys(sorted(data["scopes"]))),
    )
    blank = {"name": "", "expires_in_days": "", "scopes": "read write"}
    return _tokens_page(user, blank, {}, issued={"token": token, "value": clear}, status=201)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_api_token(token_id: int):
    """Revoke one of your own tokens, after a confirmation page (GET); no password is asked
    to take access away."""
    user = current_user._get_current_object()
    authorize(user, "token.manage")
    token = next((t for t in service.list_tokens(user) if t.id == token_id), None)
    if token is None:
        abort(404)
    if request.method == "GET":
        return _confirm(
            f"Revoke the token “{token.name}”?",
            "Every script or system that uses it is refused from now on. A revoked token cannot "
            "be brought back; you can issue a new one.",
            url_for("mfa.revoke_api_token", token_id=token.id),
            "Yes, revoke this token",
            cancel=url_for("mfa.api_tokens"),
            cancel_text="No, keep it",
        )
    service.revoke_token(token.id, user)
    flash(f"The token “{token.name}” is revoked: it no longer works.", "success")
    return redirect(url_for("mfa.api_tokens"), 303)
