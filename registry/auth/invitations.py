"""Invitations: an administrator invites someone by email; a one-time link sets their password.

The account is created with the invitation (so its email, role and organisation are held), but
without a password: nobody can sign in to it until the link is used. Only the link token's
sha256 is stored; a link works once, until INVITATION_EXPIRY_HOURS have passed, and a newer
invitation of the same person replaces it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from registry import audit
from registry.auth import service
from registry.auth.models import Invitation, User, new_session_nonce
from registry.auth.permissions import authorize
from registry.auth.tokens import hash_token
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

log = logging.getLogger(__name__)


class InvitationUnusable(NotFound):
    """The link is unknown, used, replaced or expired (one answer: nothing to learn from it)."""

    code = 410


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expiry_hours() -> int:
    return int(current_app.config["INVITATION_EXPIRY_HOURS"])


def _issue(user: User, actor: User | None) -> tuple[Invitation, str]:
    """A new link for `user`; any earlier unused link of theirs stops working."""
    now = _now()
    db.session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        user_id=user.id,
        token_hash=hash_token(token),
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + timedelta(hours=expiry_hours()),
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation, token


@dataclass(frozen=True)
class Sent:
    """An invitation as its sender sees it once: the link, and whether it went by email."""

    user: User
    link: str
    emailed: bool


def _send(user: User, invitation: Invitation, token: str, actor: User,
          link_for: Callable[[str], str]) -> Sent:
    link = link_for(token)
    # Queued before the commit: the email leaves only once the invitation is stored.
    emailed = deliver(user, link)
    audit.record(
        actor,
        "invite",
        "user",
        user.id,
        {"email": user.email, "expires_at": invitation.expires_at, "emailed": emailed},
    )
    db.session.commit()
    return Sent(user, link, emailed)


def invite(data: Mapping[str, Any], actor: User, *, link_for: Callable[[str], str]) -> Sent:
    """Create a passwordless account and its invitation, and deliver the link.

    `link_for` turns the one-time token into the link to send (the web layer's URL).
    """
    authorize(actor, "user.manage")
    user = service.create_user({**data, "password": None, "passwordless": True}, actor, commit=False)
    invitation, token = _issue(user, actor)
    return _send(user, invitation, token, actor, link_for)


def reinvite(user: User, actor: User, *, link_for: Callable[[str], str]) -> Sent:
    """A fresh link for someone who has not set a password yet (the old link stops working)."""
    authorize(actor, "user.manage", user)
    if user.password_hash:
        raise Conflict(
            f"{user.email} has already set a password; they can sign in.",
            {"user": ["The invitation was already accepted."]},
        )
    invitation, token = _issue(user, actor)
    return _send(user, invitation, token, actor, link_for)


def deliver(user: User, link: str) -> bool:
    """Email the link when SMTP is configured (True); otherwise log it for the administrator
    to pass on, and return False so the page shows it."""
    from registry.notifications.service import email_address

    hours = expiry_hours()
    if current_app.config.get("MAIL_SERVER"):
        email_address(
            user.email,
            subject="You are invited to the AI Oversight Registry",
            body=(
                f"Hello {user.name},\n\nAn administrator created an account for you. Open this "
                f"link to choose your password. It works once, for {hours} hours."
            ),
            url=link,
        )
        return True
    log.warning(
        "No SMTP server is configured (MAIL_SERVER): give %s this invitation link: %s",
        user.email,
        link,
    )
    return False


def _usable(token: str) -> Invitation:
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token or ""))
    )
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.revoked_at is not None
        or _aware(invitation.expires_at) <= _now()
        or not invitation.user.active
    ):
        raise InvitationUnusable(
            "This invitation link has expired or has already been used. Ask an administrator "
            "for a new one."
        )
    return invitation


def find(token: str) -> Invitation:
    """The invitation behind a link, or 410 when it can no longer be used."""
    return _usable(token)


def accept(token: str, password: str, confirm: str) -> User:
    """Set the invited person's password and spend the link, in one transaction."""
    invitation = _usable(token)
    user = invitation.user
    errors: dict[str, list[str]] = {}
    if problems := service.password_problems(password, user.email):
        errors["password"] = problems
    elif password != confirm:
        errors["confirm"] = ["The two passwords are not the same."]
    if errors:
        raise ValidationFailed("The password could not be set.", errors)
    now = _now()
    # Spent only if still unspent: of two requests with one link, one wins.
    spent = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        db.session.rollback()
        raise InvitationUnusable("This invitation link has already been used.")
    user.password_hash = service.hash_password(password)
    user.must_change_password = False
    user.session_nonce = new_session_nonce()
    audit.record(user, "accept_invitation", "user", user.id, {"invitation": invitation.id})
    db.session.commit()
    return user


def pending(user: User) -> Invitation | None:
    """The user's newest invitation that can still be used."""
    invitation = db.session.scalar(
        select(Invitation)
        .where(Invitation.user_id == user.id)
        .order_by(Invitation.id.desc())
        .limit(1)
    )
    if invitation is None or invitation.used_at or invitation.revoked_at:
        return None
    return invitation


def state(user: User) -> str:
    """How the users page describes an account's sign-in: a phrase, not a code."""
    if user.password_hash or user.oidc_subject:
        return ""
    invitation = pending(user)
    if invitation is None:
        return ""
    if _aware(invitation.expires_at) <= _now():
        return "Invitation expired"
    return f"Invited; the link works until {_aware(invitation.expires_at):%Y-%m-%d %H:%M} UTC"
