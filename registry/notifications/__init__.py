"""The in-app inbox, with email through SMTP when MAIL_SERVER is configured."""

from __future__ import annotations

from registry.notifications import service, subscribers


def init_app(app) -> None:
    """Send queued email after commits, and subscribe the promised notifications."""
    service.init_app(app)
    subscribers.subscribe()
