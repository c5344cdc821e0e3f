"""Multi-factor sign-in for password accounts: an authenticator app (TOTP) and recovery codes.

A code from the app (RFC 6238: six digits, 30-second steps, one step of clock drift either
way) or a one-time recovery code is asked for after the password. Each accepted TOTP step is
remembered, so a code can't be used twice (replay); each recovery code works once. Recovery
codes carry 50 random bits each, so a sha256 of them is enough to store.

Single sign-on is not affected: the identity provider does its own multi-factor checks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import or_, update

from registry import audit
from registry.auth.models import MfaEnrolment, MfaRecoveryCode, User
from registry.errors import Conflict, ValidationFailed
from registry.extensions import db

ISSUER = "AI Oversight Registry"
RECOVERY_CODE_COUNT = 10
# Steps either side of now that are accepted, for a phone clock a little off.
DRIFT_STEPS = 1
_TOTP_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class Check:
    """The outcome of checking a second-factor code: the method used, or why it was refused."""

    ok: bool
    method: str  # "totp" or "recovery_code"
    reason: str | None = None  # "wrong_code", "replayed_code" or "used_recovery_code"


def required_for(user: User) -> bool:
    """Whether this user's roles must use a second factor with a password."""
    return bool(user.roles & set(current_app.config["MFA_REQUIRED_ROLES"]))


def enrolled(user: User) -> bool:
    return user.mfa is not None and user.mfa.enrolled_at is not None


def second_step_needed(user: User) -> bool:
    """Whether a correct password alone does not sign this user in."""
    return enrolled(user) or required_for(user)


def pending_secret(user: User) -> str:
    """The secret to show while setting up an app; made on first call, kept until confirmed."""
    if enrolled(user):
        raise Conflict("An authenticator app is already set up for this account.")
    if user.mfa is None:
        user.mfa = MfaEnrolment(secret=pyotp.random_base32())
        db.session.commit()
    return user.mfa.secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code, drawn here (no image service, no script)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5,
        border=4,
        dark="#1b1b1b",
        light="#ffffff",
        title="QR code for your authenticator app",
    )
    return Markup(svg)  # noqa: S704 - segno's own markup for our own URI


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_step(user: User, step: int) -> bool:
    """Record `step` as used, unless it (or a later one) already was; atomic across workers."""
    result = db.session.execute(
        update(MfaEnrolment)
        .where(
            MfaEnrolment.user_id == user.id,
            or_(MfaEnrolment.last_step.is_(None), MfaEnrolment.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _code_hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode("ascii", "replace")).hexdigest()


def _use_recovery_code(user: User, code: str) -> bool:
    result = db.session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == _code_hash(code),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _recovery_code_known(user: User, code: str) -> bool:
    digest = _code_hash(code)
    return any(hmac.compare_digest(c.code_hash, digest) for c in user.mfa.recovery_codes)


def check_code(user: User, code: str, *, allow_recovery: bool = True) -> Check:
    """Check a code from the app or (if allowed) a recovery code, and use it up if it is right.

    The caller commits (a used code stays used) and records refusals with `refuse`.
    """
    code = _normalise(code)
    mfa = user.mfa
    if _TOTP_CODE.fullmatch(code):
        step = _matching_step(mfa.secret, code)
        if step is None:
            return Check(False, "totp", "wrong_code")
        if not _use_step(user, step):
            return Check(False, "totp", "replayed_code")
        return Check(True, "totp")
    if allow_recovery and enrolled(user):
        if _use_recovery_code(user, code):
            return Check(True, "recovery_code")
        if _recovery_code_known(user, code):
            return Check(False, "recovery_code", "used_recovery_code")
        return Check(False, "recovery_code", "wrong_code")
    return Check(False, "totp", "wrong_code")


REFUSAL_MESSAGES = {
    "wrong_code": "That code is not right. Enter the 6-digit code your authenticator app "
    "shows now, or one of your recovery codes.",
    "replayed_code": "That code has already been used. Wait for your authenticator app to "
    "show a new code, then enter it.",
    "used_recovery_code": "That recovery code has already been used. Each recovery code works "
    "once. Enter a code from your authenticator app or another recovery code.",
    "missing": "Enter the 6-digit code from your authenticator app.",
}


def refuse(user: User, check: Check, *, during: str) -> None:
    """Record a refused second-factor code; `during` is "sign_in", "enrolment" or "reauth"."""
    audit.record(
        None,
        "refuse_sign_in" if during == "sign_in" else "refuse_mfa",
        "user",
        user.id,
        {"method": check.method, "reason": check.reason, "step": during},
    )
    db.session.commit()


def _new_recovery_codes(mfa: MfaEnrolment) -> list[str]:
    codes = []
    mfa.recovery_codes.clear()
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)  # 40 bits shown as two groups of five hex characters
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        mfa.recovery_codes.append(MfaRecoveryCode(code_hash=_code_hash(code)))
    return codes


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Finish setting up the app with a current code; return the recovery codes, shown once."""
    if enrolled(user):
        raise Conflict("An authenticator app is already set up for this account.")
    if not _TOTP_CODE.fullmatch(_normalise(code)):
        raise ValidationFailed("The code is not right.", {"code": [REFUSAL_MESSAGES["missing"]]})
    if user.mfa is None:
        raise Conflict("Start setting up the authenticator app again.")
    check = check_code(user, code, allow_recovery=False)
    if not check.ok:
        refuse(user, check, during="enrolment")
        raise ValidationFailed(
            "The code is not right.",
            {
                "code": [
                    "That code is not right. Check that the app shows this account, and "
                    "enter the 6-digit code it shows now."
                ]
            },
        )
    user.mfa.enrolled_at = datetime.now(UTC)
    codes = _new_recovery_codes(user.mfa)
    db.session.flush()
    audit.record(user, "enrol_mfa", "user", user.id, {"method": "totp"})
    db.session.commit()
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code (used or not) with ten new ones, shown once."""
    if not enrolled(user):
        raise Conflict("Set up an authenticator app first.")
    codes = _new_recovery_codes(user.mfa)
    db.session.flush()
    audit.record(user, "regenerate_recovery_codes", "user", user.id, {"count": len(codes)})
    db.session.commit()
    return codes


def disable(user: User) -> None:
    """Remove the app and the recovery codes; refused where the user's role requires them."""
    if required_for(user):
        raise Conflict(
            "Your role must use an authenticator app to sign in, so it can't be turned off."
        )
    if user.mfa is None:
        return
    was_enrolled = enrolled(user)
    user.mfa = None
    db.session.flush()
    if was_enrolled:
        audit.record(user, "disable_mfa", "user", user.id, {"method": "totp"})
    db.session.commit()


def recovery_codes_left(user: User) -> int:
    if user.mfa is None:
        return 0
    return sum(1 for c in user.mfa.recovery_codes if c.used_at is None)


def discard_unconfirmed(user: User) -> None:
    """Forget an app set-up that was never confirmed, so each sign-in shows a new secret."""
    if user.mfa is not None and user.mfa.enrolled_at is None:
        user.mfa = None
        db.session.commit()
