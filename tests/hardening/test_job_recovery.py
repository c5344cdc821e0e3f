"""No bias check is ever stuck: a real crash (kill -9) of a serving process, then recovery."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.extensions import db

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))


def _csv(seed: int) -> bytes:
    return b"g,y,p\n" + b"".join(
        f"{'ab'[i % 2]},{(i + seed) % 3 % 2},{i % 5 % 2}\n".encode() for i in range(60)
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _check(check_id: int):
    from assessments.models import BiasCheck

    db.session.rollback()
    return db.session.get(BiasCheck, check_id, populate_existing=True)


def _as_left_by_a_dead_process(check_id: int, status: str) -> None:
    """The row as a process that died an hour ago left it."""
    from assessments.models import BiasCheck

    check = db.session.get(BiasCheck, check_id)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    check.status, check.queued_at, check.heartbeat_at = status, an_hour_ago, an_hour_ago
    check.results = check.verdict = check.finished_at = check.failure_reason = None
    db.session.commit()


def _audit_actions(check_id: int) -> list[str]:
    from registry.audit.models import AuditEvent

    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "bias_check", AuditEvent.entity_id == str(check_id))
            .order_by(AuditEvent.seq)
        )
    )


def test_a_server_killed_mid_job_leaves_no_check_stuck(app, client, factory, tmp_path):
    """kill -9 a serving process that runs one check and holds another queued; then recover.

    The server's start-up sweep picks up two checks a dead process left queued. One blocks
    reading its upload (a named pipe stands in for it), so it is `running` when the server is
    killed; the other waits `queued` in the server's executor, held by its heartbeat. After the
    kill, the sweep of a restarted app fails the running one as interrupted and queues the
    other again, which then runs to the end; the interrupted one can be re-run.
    """
    from assessments import job_recovery
    from assessments.models import BiasCheck
    from assessments.storage import path_for

    team = factory.user("team")
    pilot = factory.pilot(team)
    blocked = factory.bias_check(pilot, team, content=_csv(1))
    waiting = factory.bias_check(pilot, team, content=_csv(2))
    assert blocked.sha256 != waiting.sha256
    for check in (blocked, waiting):
        _as_left_by_a_dead_process(check.id, "queued")
    uploads = Path(app.config["UPLOAD_FOLDER"])
    stored = path_for(uploads / "bias", blocked.sha256)
    content = stored.read_bytes()
    stored.unlink()
    os.mkfifo(stored)
    # A part file from an upload that a crash cut short a day ago, and one being written now.
    (uploads / "bias" / "tmp").mkdir(parents=True, exist_ok=True)
    orphan = uploads / "bias" / "tmp" / "upload-crashed.part"
    orphan.write_bytes(b"half an upload")
    os.utime(orphan, (time.time() - 86400, time.time() - 86400))
    in_flight = uploads / "bias" / "tmp" / "upload-live.part"
    in_flight.write_bytes(b"being written")

    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [FLASK, "--app", "wsgi", "run", "--port", str(_free_port()), "--no-reload"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": str(uploads),
            "SECRET_KEY": "test-secret-key",
            "JOB_HEARTBEAT_SECONDS": "1",
            "JOB_STALE_SECONDS": "3",
            "JOB_SWEEP_SECONDS": "1",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _check(blocked.id).status == "running", "the server to start the check")
        first_beat = _check(blocked.id).heartbeat_at
        # The heartbeat beats while the job is stuck in a phase that never beats itself.
        _wait_for(
            lambda: _check(blocked.id).heartbeat_at > first_beat + timedelta(seconds=1.5),
            "the running check's heartbeat",
        )
        held = _check(waiting.id)
        assert held.status == "queued"
        # Held by the server: stamped by its heartbeat, so its own sweeps leave it alone.
        assert held.heartbeat_at > datetime.now(UTC) - timedelta(seconds=3)
        assert _audit_actions(waiting.id).count("requeue") == 1
        assert not orphan.exists() and in_flight.exists()
        assert server.poll() is None
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        log.close()
    assert server.returncode == -signal.SIGKILL, (tmp_path / "server.log").read_text()
    assert _check(blocked.id).status == "running" and _check(waiting.id).status == "queued"

    # The restarted app: its sweep at start-up, once the heartbeats are older than 3 s.
    app.config.update(JOB_STALE_SECONDS=3, JOB_HEARTBEAT_SECONDS=1, JOB_SWEEP_SECONDS=1)
    job_recovery.start_sweeper(app)
    try:
        _wait_for(
            lambda: _check(blocked.id).status == "failed", "the sweep to fail the running check"
        )
        _wait_for(lambda: _check(waiting.id).status == "succeeded", "the re-queued check to run")
    finally:
        job_recovery.stop_sweeper(app)
    interrupted = _check(blocked.id)
    assert interrupted.failure_reason == "interrupted"
    assert interrupted.error.startswith("interrupted") and interrupted.finished_at
    assert _audit_actions(waiting.id).count("requeue") == 2
    headers = factory.headers(team)
    state = client.get(f"/api/v1/bias-checks/{blocked.id}", headers=headers).get_json()
    assert (state["status"], state["failure_reason"]) == ("failed", "interrupted")

    # Re-run works on the interrupted check once its upload is back.
    stored.unlink()
    stored.write_bytes(content)
    rerun = client.post(f"/api/v1/bias-checks/{blocked.id}/rerun", headers=headers)
    assert rerun.status_code == 202, rerun.get_json()
    _wait_for(lambda: _check(blocked.id).status == "succeeded", "the re-run")
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(BiasCheck)
            .where(BiasCheck.status.in_(("queued", "running")))
        )
        == 0
    )


def test_the_sweep_leaves_live_checks_alone_and_counts_once(app, factory):
    """Fresh heartbeats and held checks are not touched; a second sweep finds nothing."""
    from assessments import job_recovery

    team = factory.user("team")
    pilot = factory.pilot(team)
    stale = factory.bias_check(pilot, team, content=_csv(3))
    live = factory.bias_check(pilot, team, content=_csv(4))
    _as_left_by_a_dead_process(stale.id, "running")
    live_row = _check(live.id)
    live_row.status, live_row.heartbeat_at = "running", datetime.now(UTC)
    db.session.commit()
    assert job_recovery.interrupt_stalled() == [stale.id]
    assert job_recovery.interrupt_stalled() == []
    assert _check(live.id).status == "running"
    assert _audit_actions(stale.id).count("complete") == 2  # the first run, then the interruption


def test_rerun_works_on_any_ended_check_and_refuses_active_ones(app, client, factory):
    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    check = factory.bias_check(pilot, team)
    assert check.status == "succeeded"
    again = client.post(f"/api/v1/bias-checks/{check.id}/rerun", headers=headers)
    assert again.status_code == 202
    new_id = again.get_json()["id"]
    assert new_id != check.id
    _wait_for(lambda: _check(new_id).status == "succeeded", "the re-run of a succeeded check")
    assert _check(check.id).status == "succeeded"  # the old result stands
    _as_left_by_a_dead_process(new_id, "running")
    refused = client.post(f"/api/v1/bias-checks/{new_id}/rerun", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["errors"]["status"]


@pytest.mark.parametrize("age_hours, removed", [(7, True), (1, False)])
def test_the_sweep_removes_only_old_part_files(app, age_hours, removed):
    from assessments import job_recovery

    tmp = Path(app.config["UPLOAD_FOLDER"]) / "evidence" / "tmp"
    tmp.mkdir(parents=True)
    part = tmp / "upload-x.part"
    part.write_bytes(b"x")
    old = time.time() - age_hours * 3600
    os.utime(part, (old, old))
    keep = tmp / "not-a-part-file"
    keep.write_bytes(b"x")
    os.utime(keep, (old, old))
    with app.app_context():
        assert job_recovery.sweep()["parts_removed"] == int(removed)
    assert part.exists() is not removed and keep.exists()


def test_on_rq_the_worker_requeues_a_check_whose_job_was_lost(app, factory, runner, redis_url):
    """A queued check with no job in Redis (lost with Redis, say) runs after a worker start."""
    import uuid

    from redis import Redis
    from rq import Queue

    from assessments import jobs

    team = factory.user("team")
    check = factory.bias_check(factory.pilot(team), team, content=_csv(5))
    _as_left_by_a_dead_process(check.id, "queued")
    app.config.update(REDIS_URL=redis_url)
    original, jobs.QUEUE_NAME = jobs.QUEUE_NAME, f"bias-checks-test-{uuid.uuid4().hex[:8]}"
    try:
        threads = set(threading.enumerate())
        result = runner.invoke(args=["worker", "--burst"])
        assert result.exit_code == 0, result.output
        assert "'requeued': 1" in result.output
        # A burst worker leaves nothing of ours running behind it: no sweeper, no checkpoint
        # schedule (RQ's own pub/sub thread may still be on its way out).
        left = {t.name for t in set(threading.enumerate()) - threads if t.is_alive()}
        assert left.isdisjoint({"audit-checkpoints", "bias-check-sweeper"})
        assert _check(check.id).status == "succeeded"
        # Held on RQ: a queued check whose job waits in Redis is left alone.
        _as_left_by_a_dead_process(check.id, "queued")
        queue = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(redis_url))
        from assessments import job_recovery

        queue.enqueue(
            "assessments.bias_checks.run_job", check.id, job_id=job_recovery.rq_job_id(check.id)
        )
        assert job_recovery.requeue_orphans() == []
        assert queue.count == 1
        queue.delete(delete_jobs=True)
    finally:
        jobs.QUEUE_NAME = original
