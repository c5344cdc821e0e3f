"""Where background jobs run: an in-process executor by default, RQ workers when REDIS_URL is
set. A job is a module-level function taking ids; it runs inside an app context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)
QUEUE_NAME = "bias-checks"
_executor: ThreadPoolExecutor | None = None


def _local_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bias-check")
    return _executor


def drain(timeout: float = 60) -> None:
    """Wait until the in-process executor has run every job queued so far (tests, shutdown)."""
    if _executor is not None:
        _executor.submit(lambda: None).result(timeout=timeout)


def uses_rq() -> bool:
    """Whether jobs go to RQ workers (REDIS_URL is set) rather than the in-process executor."""
    return bool(current_app.config.get("REDIS_URL"))


def rq_queue():
    """The RQ queue that jobs go on."""
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE_NAME, connection=Redis.from_url(current_app.config["REDIS_URL"]))


def enqueue(
    job: Callable[..., Any],
    *args: Any,
    job_id: str | None = None,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Queue a job; it gets only the ids passed here and looks everything else up itself.

    `job_id` names the RQ job (so that the job can be found again); `on_done` runs after an
    in-process job has ended, however it ended.
    """
    if uses_rq():
        rq_queue().enqueue(
            job,
            *args,
            job_id=job_id,
            job_timeout=current_app.config.get("BIAS_CHECK_TIMEOUT_SECONDS", 900),
        )
        log.info("job %s%s queued on RQ", job.__name__, args)
        return
    app = current_app._get_current_object()
    _local_executor().submit(_run_in_app, app, job, args, on_done)
    log.info("job %s%s queued in-process", job.__name__, args)


def _run_in_app(
    app: Flask,
    job: Callable[..., Any],
    args: tuple[Any, ...],
    on_done: Callable[[], None] | None = None,
) -> None:
    from registry.extensions import db

    try:
        with app.app_context():
            try:
                job(*args)
            finally:
                db.session.remove()
    except Exception:  # noqa: BLE001 - the executor would swallow it; the log must not
        log.exception("job %s%s failed", job.__name__, args)
    finally:
        if on_done is not None:
            on_done()
