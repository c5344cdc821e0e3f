"""Send notifications: an inbox row in the caller's transaction, email after it commits."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update

from registry.auth.models import User
from registry.extensions import db
from registry.notifications.models import Notification

log = logging.getLogger(__name__)


def notify(
    users: Iterable[User],
    *,
    kind: str,
    subject: str,
    body: str = "",
    url: str | None = None,
    pilot_id: int | None = None,
) -> list[Notification]:
    """Put a message in each user's inbox (caller commits); email goes out after the commit."""
    sent = []
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        message = Notification(
            user_id=user.id, kind=kind, subject=subject[:300], body=body, url=url, pilot_id=pilot_id
        )
        db.session.add(message)
        sent.append(message)
        _email_after_commit(user.email, subject, body, url)
    return sent


def email_address(to: str, *, subject: str, body: str, url: str | None = None) -> None:
    """Email someone who has no account (a member of the public), after the commit, when
    SMTP is configured; nothing goes to any inbox, and the address is never logged."""
    if not current_app.config.get("MAIL_SERVER"):
        log.info("email to a member of the public not sent (no SMTP configured): %s", subject)
        return
    _email_after_commit(to, subject, body, url)


def caios(pilot: Any = None) -> list[User]:
    """The active CAIOs; given a pilot, only those whose organisation's subtree holds it."""
    from registry.auth import organizations
    from registry.auth.models import RoleAssignment

    holders = select(RoleAssignment.user_id).where(RoleAssignment.role == "caio")
    users = list(
        db.session.scalars(
            select(User)
            .where(or_(User.role == "caio", User.id.in_(holders)), User.active.is_(True))
            .order_by(User.id)
        ).unique()
    )
    organization_id = getattr(pilot, "organization_id", None)
    if organization_id is None:
        return users
    return [u for u in users if organizations.in_scope(u, {"caio"}, organization_id)]


def _email_after_commit(to: str, subject: str, body: str, url: str | None) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.info("notification for %s: %s", to, subject)
        return
    settings = {key: config.get(key) for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_SENDER")}
    text = body + (f"\n\n{url}" if url else "")
    pending = db.session.info.setdefault("pending_email", [])
    pending.append((settings, to, subject, text))


def flush_pending_email(session) -> None:
    """After a commit: send queued email on a background thread, so it never blocks or breaks."""
    pending = session.info.pop("pending_email", [])
    for settings, to, subject, text in pending:
        threading.Thread(target=_send, args=(settings, to, subject, text), daemon=True).start()


def discard_pending_email(session) -> None:
    session.info.pop("pending_email", None)


def header_value(value: str) -> str:
    """A value safe for an email header: no CR, LF or other control characters (a pilot name
    with a line break would otherwise make EmailMessage refuse the header, and the email)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _send(settings: dict[str, Any], to: str, subject: str, text: str) -> None:
    try:
        message = EmailMessage()
        message["From"] = header_value(settings["MAIL_SENDER"])
        message["To"] = header_value(to)
        message["Subject"] = header_value(subject)
        message.set_content(text)
    except (ValueError, TypeError) as error:  # never a silent thread death: say what failed
        log.warning("email to %s not built: %s", to, error)
        return
    try:
        with smtplib.SMTP(settings["MAIL_SERVER"], settings["MAIL_PORT"] or 25, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("email to %s failed: %s", to, error)


def inbox(user: User, *, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(user: User, notification_id: int | None = None) -> None:
    stmt = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    db.session.execute(stmt.values(read_at=datetime.now(UTC)))
    db.session.commit()


def init_app(app) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    if not event.contains(Session, "after_commit", flush_pending_email):
        event.listen(Session, "after_commit", flush_pending_email)
        event.listen(
            Session, "after_soft_rollback", lambda session, _tx: discard_pending_email(session)
        )
