"""Where bias checks run: an in-process executor by default, RQ workers when REDIS_URL is set."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

log = logging.getLogger(__name__)
QUEUE_NAME = "bias-checks"
_executor: ThreadPoolExecutor | None = None


def _local_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bias-check")
    return _executor


def enqueue(check_id: int) -> None:
    """Queue a check by id; the job looks everything else up itself."""
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from rq import Queue

        queue = Queue(QUEUE_NAME, connection=Redis.from_url(redis_url))
        queue.enqueue(
            "assessments.jobs.run_job",
            check_id,
            job_timeout=current_app.config.get("BIAS_CHECK_TIMEOUT_SECONDS", 900),
        )
        log.info("bias check %s queued on RQ", check_id)
        return
    app = current_app._get_current_object()
    _local_executor().submit(_run_in_app, app, check_id)
    log.info("bias check %s queued in-process", check_id)


def _run_in_app(app: Flask, check_id: int) -> None:
    from assessments import bias_checks
    from registry.extensions import db

    with app.app_context():
        try:
            bias_checks.run(check_id)
        finally:
            db.session.remove()


def run_job(check_id: int) -> None:
    """The RQ entry point: runs inside the worker's app context."""
    from assessments import bias_checks

    log.info("job bias-check %s: start", check_id)
    bias_checks.run(check_id)
    log.info("job bias-check %s: done", check_id)
