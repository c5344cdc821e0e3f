"""Command line for assessments: the job worker and the stalled-check reaper."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

bias_cli = AppGroup("bias-checks", help="Manage bias-check jobs.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run the background job worker (needs REDIS_URL)."""
    redis_url = current_app.config.get("REDIS_URL")
    if not redis_url:
        raise click.ClickException("REDIS_URL is not set; without it, jobs run in-process.")
    from redis import Redis
    from rq import SimpleWorker

    from assessments import bias_checks
    from assessments.jobs import QUEUE_NAME
    from registry.audit import schedule as audit_schedule

    bias_checks.reap_stalled()
    # With REDIS_URL the web processes leave the checkpoint schedule to the worker.
    audit_schedule.start(current_app._get_current_object())
    # SimpleWorker runs jobs in this process, inside the app context the command set up.
    SimpleWorker([QUEUE_NAME], connection=Redis.from_url(redis_url)).work(burst=burst)


@bias_cli.command("reap")
@click.option(
    "--timeout", type=int, default=None, help="Seconds without a heartbeat (default 900)."
)
def reap(timeout: int | None) -> None:
    """Mark running checks whose worker died as failed."""
    from assessments import bias_checks

    click.echo(f"marked {bias_checks.reap_stalled(timeout)} stalled checks as failed")


reviews_cli = AppGroup("reviews", help="Periodic re-review.")


@reviews_cli.command("sweep")
def sweep() -> None:
    """Mark approved pilots whose review date passed or whose evidence expired (run daily)."""
    from assessments import workflow

    marked = workflow.sweep()
    click.echo(f"marked {len(marked)} pilots as due for review")
    for pilot in marked:
        click.echo(f"  pilot {pilot.id} {pilot.name}: {pilot.review_due_reason}")
