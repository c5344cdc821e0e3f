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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, select, update

from assessments import jobs
from assessments.models import BiasCheck
from registry import audit
from registry.extensions import db

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
ERROR = "error"
ACTIVE = ("queued", "running")
ENDED = ("succeeded", "failed")
# RQ job states in which a job still waits for, or is in, a worker.
_RQ_HOLDING = {"queued", "started", "deferred", "scheduled"}


# ---- holding and the heartbeat ----------------------------------------------------------------


@dataclass(eq=False)
class _Hold:
    app: weakref.ReferenceType[Flask]
    check_id: int
    running_since: float | None = None  # time.monotonic() when the run began
    released: bool = field(default=False)


_lock = threading.Lock()
_holds: list[_Hold] = []
_beater: threading.Thread | None = None


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
        time.sleep(max(interval, 0.05))


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


# ---- queueing -------------------------------------------------------------------------------


def rq_job_id(check_id: int) -> str:
    return f"bias-check-{check_id}"


def enqueue(check_id: int) -> None:
    """Queue a check's job: on RQ under a known job id, in-process held until it has run."""
    from assessments.bias_checks import run_job

    if jobs.uses_rq():
        jobs.enqueue(run_job, check_id, job_id=rq_job_id(check_id))
        return
    hold = acquire(check_id)
    try:
        jobs.enqueue(run_job, check_id, on_done=lambda: release(hold))
    except BaseException:
        release(hold)
        raise


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
