"""Checkpoints on a schedule: a daemon thread that signs the chain head when it has moved.

Embedded mode (no REDIS_URL) starts it in the web process on its first request; with
REDIS_URL, `flask worker` starts it. Either way AUDIT_CHECKPOINT_INTERVAL_SECONDS=0 turns it
off (then run `flask --app wsgi audit checkpoint` from cron). It never runs under TESTING.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)
_EXTENSION = "audit_checkpoint_schedule"
_lock = threading.Lock()


def sign_if_moved(app: Flask) -> None:
    """One tick: sign a checkpoint if the head moved since the last one."""
    from registry.audit import checkpoints
    from registry.extensions import db

    with app.app_context():
        try:
            if checkpoints.create(only_if_advanced=True) is not None:
                db.session.commit()
        except Exception:  # noqa: BLE001 - a failed tick is logged and retried next time
            db.session.rollback()
            log.exception("audit checkpoint: signing failed")
        finally:
            db.session.remove()


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    while True:
        sign_if_moved(app)
        if stop.wait(interval):
            return


def start(app: Flask) -> threading.Event | None:
    """Start the schedule once per app and process; returns the event that stops it."""
    interval = int(app.config.get("AUDIT_CHECKPOINT_INTERVAL_SECONDS") or 0)
    if interval <= 0:
        return None
    with _lock:
        running = app.extensions.get(_EXTENSION)
        if running is not None:
            return running
        stop = threading.Event()
        threading.Thread(
            target=_loop, args=(app, interval, stop), name="audit-checkpoints", daemon=True
        ).start()
        app.extensions[_EXTENSION] = stop
        return stop


def init_app(app: Flask) -> None:
    """In embedded mode, start the schedule with the web process's first request."""

    def start_once() -> None:
        if _EXTENSION not in app.extensions and not app.testing and not app.config.get("REDIS_URL"):
            start(app)

    app.before_request(start_once)
