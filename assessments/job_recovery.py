"""No bias check is ever stuck: heartbeats for the checks a process holds, and the sweep.

A process *holds* a check while the check waits in its in-process executor and while it runs
there or on an RQ worker. One heartbeat thread per process stamps `heartbeat_at` on every check
the process holds, every `JOB_HEARTBEAT_SECONDS`, through every phase of a run (reading,
metrics, charts). A check that runs longer than `BIAS_CHECK_TIMEOUT_SECONDS` loses its
heartbeat.

The sweep, run at start-up and every `JOB_SWEEP_SECONDS` by a daemon thread (and by
`flask --app wsgi worker` on RQ), then:

- fails a `running` check whose heartbeat is older than `JOB_STALE_SECONDS`, with the reason
  ``interrupted`` (its process died, or it ran out of time);
- re-queues a `queued` check that no executor holds: no heartbeat for `JOB_STALE_SECONDS` and,
  on RQ, no job for it in Redis;
- removes upload part files (`<UPLOAD_FOLDER>/*/tmp/*.part`) older than
  `UPLOAD_PART_MAX_AGE_SECONDS`, which a crash in the middle of an upload leaves behind.

Every change is a conditional update, so any number of processes may sweep at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, select, update

from assessments import jobs
from assessments.bias_checks import enqueue
from assessments.job_heartbeat import INTERRUPTED, held_ids, rq_job_id
from assessments.models import BiasCheck
from registry import audit
from registry.extensions import db

__all__ = [
    "interrupt_stalled",
    "reap_stalled",
    "remove_orphaned_parts",
    "requeue_orphans",
    "rq_job_id",
    "start_sweeper",
    "stop_sweeper",
    "sweep",
]

log = logging.getLogger(__name__)

# RQ job states in which a job still waits for, or is in, a worker.
_RQ_HOLDING = {"queued", "started", "deferred", "scheduled"}
_lock = threading.Lock()


def _held_on_rq(check_id: int) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    queue = jobs.rq_queue()
    try:
        job = Job.fetch(rq_job_id(check_id), connection=queue.connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in _RQ_HOLDING


# ---- the sweep ------------------------------------------------------------------------------


def _stale_cutoff(stale_seconds: int | None) -> tuple[datetime, int]:
    seconds = int(stale_seconds or current_app.config["JOB_STALE_SECONDS"])
    return datetime.now(UTC) - timedelta(seconds=seconds), seconds


def interrupt_stalled(stale_seconds: int | None = None) -> list[int]:
    """Fail running checks whose heartbeat stopped, with the reason "interrupted"."""
    cutoff, seconds = _stale_cutoff(stale_seconds)
    last_sign = func.coalesce(BiasCheck.heartbeat_at, BiasCheck.started_at, BiasCheck.queued_at)
    candidates = db.session.scalars(
        select(BiasCheck.id).where(BiasCheck.status == "running", last_sign < cutoff)
    ).all()
    db.session.rollback()
    message = (
        f"interrupted: the worker stopped responding (no heartbeat for {seconds} s: it was "
        "stopped, or the check ran longer than allowed); re-run the check."
    )
    interrupted = []
    for check_id in candidates:
        changed = db.session.execute(
            update(BiasCheck)
            .where(BiasCheck.id == check_id, BiasCheck.status == "running", last_sign < cutoff)
            .values(
                status="failed",
                failure_reason=INTERRUPTED,
                error=message,
                finished_at=datetime.now(UTC),
            )
        ).rowcount
        if changed != 1:  # it finished, or another sweep got there first
            db.session.rollback()
            continue
        pilot_id = db.session.scalar(select(BiasCheck.pilot_id).where(BiasCheck.id == check_id))
        audit.record(
            None,
            "complete",
            "bias_check",
            check_id,
            {"pilot_id": pilot_id, "status": "failed", "reason": INTERRUPTED},
        )
        db.session.commit()
        log.warning("bias check %s interrupted: no heartbeat for %s s", check_id, seconds)
        interrupted.append(check_id)
    return interrupted


def requeue_orphans(stale_seconds: int | None = None) -> list[int]:
    """Queue again the queued checks that no executor holds."""
    cutoff, seconds = _stale_cutoff(stale_seconds)
    last_sign = func.coalesce(BiasCheck.heartbeat_at, BiasCheck.queued_at)
    candidates = db.session.scalars(
        select(BiasCheck.id).where(BiasCheck.status == "queued", last_sign < cutoff)
    ).all()
    db.session.rollback()
    mine = held_ids()
    requeued = []
    for check_id in candidates:
        held = check_id in mine or (jobs.uses_rq() and _held_on_rq(check_id))
        # Stamping the check claims it: a concurrent sweep's conditional update then misses.
        changed = db.session.execute(
            update(BiasCheck)
            .where(BiasCheck.id == check_id, BiasCheck.status == "queued", last_sign < cutoff)
            .values(heartbeat_at=datetime.now(UTC))
        ).rowcount
        if changed != 1 or held:
            db.session.commit()
            continue
        pilot_id = db.session.scalar(select(BiasCheck.pilot_id).where(BiasCheck.id == check_id))
        audit.record(
            None,
            "requeue",
            "bias_check",
            check_id,
            {"pilot_id": pilot_id, "reason": f"no executor held it for {seconds} s"},
        )
        db.session.commit()
        enqueue(check_id)
        log.warning("bias check %s re-queued: no executor held it", check_id)
        requeued.append(check_id)
    return requeued


def remove_orphaned_parts(max_age_seconds: int | None = None) -> list[Path]:
    """Remove upload part files older than the threshold (a crash mid-upload leaves them)."""
    max_age = int(
        current_app.config["UPLOAD_PART_MAX_AGE_SECONDS"]
        if max_age_seconds is None
        else max_age_seconds
    )
    cutoff = time.time() - max_age
    removed = []
    for part in Path(current_app.config["UPLOAD_FOLDER"]).glob("*/tmp/*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # its upload finished, or another sweep removed it
            continue
    if removed:
        log.warning("removed %d orphaned upload part files", len(removed))
    return removed


def reap_stalled(timeout_seconds: int | None = None) -> int:
    """Fail running checks whose heartbeat stopped, with the reason "interrupted"."""
    return len(interrupt_stalled(timeout_seconds))


def sweep() -> dict[str, int]:
    """One sweep: interrupted, re-queued and removed counts."""
    try:
        return {
            "interrupted": len(interrupt_stalled()),
            "requeued": len(requeue_orphans()),
            "parts_removed": len(remove_orphaned_parts()),
        }
    finally:
        db.session.rollback()


# ---- the sweeper thread -----------------------------------------------------------------------

_sweepers: dict[int, tuple[weakref.ReferenceType[Flask], int, threading.Event]] = {}


def start_sweeper(app: Flask) -> bool:
    """Start this process's sweeper thread for the app (once per process); True if started.

    It sweeps at once (start-up recovery), then every `JOB_SWEEP_SECONDS`.
    """
    with _lock:
        known = _sweepers.get(id(app))
        if known is not None and known[0]() is app and known[1] == os.getpid():
            return False
        stop = threading.Event()
        _sweepers[id(app)] = (weakref.ref(app), os.getpid(), stop)
    thread = threading.Thread(
        target=_sweep_loop, args=(weakref.ref(app), stop), name="bias-check-sweeper", daemon=True
    )
    thread.start()
    return True


def stop_sweeper(app: Flask) -> None:
    """Stop the app's sweeper thread (tests; a process exit stops it anyway)."""
    with _lock:
        known = _sweepers.pop(id(app), None)
    if known is not None:
        known[2].set()


def _sweep_loop(app_ref: weakref.ReferenceType[Flask], stop: threading.Event) -> None:
    while not stop.is_set():
        app = app_ref()
        if app is None:
            return
        interval = int(app.config["JOB_SWEEP_SECONDS"])
        try:
            with app.app_context():
                try:
                    done = sweep()
                finally:
                    db.session.remove()
            if any(done.values()):
                log.info("job sweep: %s", done)
        except Exception:  # noqa: BLE001 - e.g. the database is down: try again next time
            log.warning("job sweep failed", exc_info=True)
        del app
        if interval <= 0 or stop.wait(interval):
            return


def init_app(app: Flask) -> None:
    """Start the sweeper with the first request a process serves (not in TESTING apps).

    A WSGI server's start-up (see wsgi.py) and `flask --app wsgi worker` start it at once.
    """
    if app.testing or int(app.config["JOB_SWEEP_SECONDS"]) <= 0:
        return

    def ensure_sweeper() -> None:
        start_sweeper(app)

    app.before_request(ensure_sweeper)
