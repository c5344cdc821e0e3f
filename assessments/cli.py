"""Command line for assessments: the job worker, the job sweep and the stalled-check reaper."""

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

    from assessments import job_recovery, jobs
    from registry.audit import schedule as audit_schedule

    # Start-up recovery, then the sweeper thread: stalled checks fail as interrupted, queued
    # checks that no worker holds are queued again, orphaned upload part files go.
    click.echo(f"job sweep: {job_recovery.sweep()}")
    app = current_app._get_current_object()
    schedule = None
    if not burst:
        # A burst worker ends when the queue is empty: no sweeper, and no checkpoint schedule
        # (an hourly tick would never come, and the thread would outlive the work).
        job_recovery.start_sweeper(app)
        # With REDIS_URL the web processes leave the checkpoint schedule to the worker.
        schedule = audit_schedule.start(app)
    try:
        # SimpleWorker runs jobs in this process, inside the app context the command set up.
        SimpleWorker([jobs.QUEUE_NAME], connection=Redis.from_url(redis_url)).work(burst=burst)
    finally:
        if schedule is not None:
            schedule.set()


@bias_cli.command("reap")
@click.option(
    "--timeout",
    type=int,
    default=None,
    help="Seconds without a heartbeat (default JOB_STALE_SECONDS, 120).",
)
def reap(timeout: int | None) -> None:
    """Mark running checks whose worker died as failed (reason: interrupted)."""
    from assessments import job_recovery

    click.echo(f"marked {job_recovery.reap_stalled(timeout)} stalled checks as failed")


@bias_cli.command("sweep")
def sweep_jobs() -> None:
    """Sweep once now: interrupt stalled checks, re-queue orphaned ones, remove part files."""
    from assessments import job_recovery

    done = job_recovery.sweep()
    click.echo(
        f"interrupted {done['interrupted']}, re-queued {done['requeued']}, "
        f"removed {done['parts_removed']} orphaned upload part files"
    )


reviews_cli = AppGroup("reviews", help="Periodic re-review.")


@reviews_cli.command("sweep")
def sweep() -> None:
    """Mark approved pilots whose review date passed or whose evidence expired (run daily)."""
    from assessments import workflow

    marked = workflow.sweep()
    click.echo(f"marked {len(marked)} pilots as due for review")
    for pilot in marked:
        click.echo(f"  pilot {pilot.id} {pilot.name}: {pilot.review_due_reason}")
