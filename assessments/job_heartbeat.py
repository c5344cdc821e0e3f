"""Heartbeats for the bias checks this process holds (see assessments.job_recovery).

A process *holds* a check while the check waits in its in-process executor and while it runs
there or on an RQ worker. One heartbeat thread per process stamps `heartbeat_at` on every check
the process holds, every `JOB_HEARTBEAT_SECONDS`, through every phase of a run (reading,
metrics, charts). A check that runs longer than `BIAS_CHECK_TIMEOUT_SECONDS` loses its
heartbeat, so that the sweep ends it as interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, current_app
from sqlalchemy import update

from assessments.models import BiasCheck
from registry.extensions import db

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
ERROR = "error"
ACTIVE = ("queued", "running")
ENDED = ("succeeded", "failed")


def rq_job_id(check_id: int) -> str:
    """The RQ job id of a check's job, so that the sweep can ask Redis whether it is there."""
    return f"bias-check-{check_id}"


@dataclass(eq=False)
class _Hold:
    app: weakref.ReferenceType[Flask]
    check_id: int
    running_since: float | None = None  # time.monotonic() when the run began
    released: bool = field(default=False)


_lock = threading.Lock()
_holds: list[_Hold] = []
_beater: threading.Thread | None = None
# Set when the last hold is released, so the heartbeat thread ends at once instead of after
# its interval.
_wake = threading.Event()


def acquire(check_id: int, *, running: bool = False) -> _Hold:
    """Hold a check in this process: its heartbeat beats until `release`."""
    global _beater
    app = current_app._get_current_object()
    hold = _Hold(weakref.ref(app), check_id, time.monotonic() if running else None)
    with _lock:
        _holds.append(hold)
        if _beater is None:
            _beater = threading.Thread(target=_beat, name="bias-check-heartbeat", daemon=True)
            _beater.start()
    return hold


def release(hold: _Hold) -> None:
    """Stop holding a check."""
    with _lock:
        if not hold.released:
            hold.released = True
            _holds.remove(hold)
            if not _holds:
                _wake.set()


@contextmanager
def holding(check_id: int, *, running: bool = False) -> Iterator[_Hold]:
    """Hold a check for the duration of a `with` block."""
    hold = acquire(check_id, running=running)
    try:
        yield hold
    finally:
        release(hold)


def held_ids() -> set[int]:
    """The ids of the checks this process holds for the current app."""
    app = current_app._get_current_object()
    with _lock:
        return {h.check_id for h in _holds if h.app() is app}


def wait_idle(timeout: float = 10.0) -> None:
    """Wait until the heartbeat thread has ended (nothing is held): before an app's engine is
    disposed, so no beat returns a connection to a discarded pool."""
    beater = _beater
    if beater is not None:
        _wake.set()
        beater.join(timeout)


def _beat() -> None:
    """The heartbeat thread: it stamps every held check, and ends when nothing is held."""
    global _beater
    while True:
        with _lock:
            if not _holds:
                _beater = None
                return
            by_app: dict[int, tuple[Flask, list[_Hold]]] = {}
            for hold in _holds:
                app = hold.app()
                if app is not None:
                    by_app.setdefault(id(app), (app, []))[1].append(hold)
        interval = 10.0
        for app, holds in by_app.values():
            interval = min(interval, float(app.config["JOB_HEARTBEAT_SECONDS"]))
            timeout = float(app.config["BIAS_CHECK_TIMEOUT_SECONDS"])
            now = time.monotonic()
            ids = sorted(
                {
                    h.check_id
                    for h in holds
                    if h.running_since is None or now - h.running_since < timeout
                }
            )
            if ids:
                _stamp(app, ids)
        _wake.wait(max(interval, 0.05))
        _wake.clear()


def _stamp(app: Flask, ids: list[int]) -> None:
    try:
        with app.app_context():
            try:
                db.session.execute(
                    update(BiasCheck)
                    .where(BiasCheck.id.in_(ids), BiasCheck.status.in_(ACTIVE))
                    .values(heartbeat_at=datetime.now(UTC))
                )
                db.session.commit()
            finally:
                db.session.remove()
    except Exception:  # noqa: BLE001 - a missed beat is retried; the thread must live on
        log.warning("heartbeat for bias checks %s failed", ids, exc_info=True)
