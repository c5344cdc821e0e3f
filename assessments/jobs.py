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


def enqueue(job: Callable[..., Any], *args: Any) -> None:
    """Queue a job; it gets only the ids passed here and looks everything else up itself."""
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(QUEUE_NAME, connection=Redis.from_url(redis_url))
        queue.enqueue(
            job, *args, job_timeout=current_app.config.get("BIAS_CHECK_TIMEOUT_SECONDS", 900)
        )
        log.info("job %s%s queued on RQ", job.__name__, args)
        return
    app = current_app._get_current_object()
    _local_executor().submit(_run_in_app, app, job, args)
    log.info("job %s%s queued in-process", job.__name__, args)


def drain(timeout: float = 60.0) -> None:
    """Wait until every job queued in-process so far has finished (no-op under RQ).

    The executor runs one job at a time, so a no-op queued behind them finishes last. Used
    before an app's engine is disposed, so no job returns a connection to a discarded pool.
    """
    if _executor is not None:
        _executor.submit(lambda: None).result(timeout=timeout)


def _run_in_app(app: Flask, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    from registry.extensions import db

    with app.app_context():
        try:
            job(*args)
        finally:
            db.session.remove()
