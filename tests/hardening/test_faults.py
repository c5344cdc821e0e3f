"""Faults: a worker killed mid-job, the database going away, a full disk, a half-done write."""

from __future__ import annotations

import errno
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from registry.extensions import db
from tests import conftest
from tests.hardening.conftest import multipart

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
SMALL_CSV = b"g,y,p\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 % 2},{i % 5 % 2}\n".encode() for i in range(60)
)


def _row_counts() -> dict[str, int]:
    from policies import store

    store.active_policy()  # the shipped policy is installed on first use: not part of a fault
    db.session.commit()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _flask(app, *args, env=None, **kwargs) -> subprocess.Popen:
    environ = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
        "SECRET_KEY": "test-secret-key",
        **(env or {}),
    }
    return subprocess.Popen([FLASK, "--app", "wsgi", *args], cwd=ROOT, env=environ, **kwargs)


# ---- a bias-check worker killed mid-job ------------------------------------------------------


def _stall(check_id: int, minutes: int = 120) -> None:
    from datetime import UTC, datetime, timedelta

    from assessments.models import BiasCheck

    check = db.session.get(BiasCheck, check_id)
    check.status = "running"
    check.heartbeat_at = datetime.now(UTC) - timedelta(minutes=minutes)
    check.finished_at = None
    db.session.commit()


def test_reap_fails_a_check_whose_worker_stopped_sending_heartbeats(client, factory, runner):
    from assessments.models import BiasCheck

    team = factory.user("team")
    check = factory.bias_check(factory.pilot(team), team)
    _stall(check.id)
    fresh = factory.bias_check(factory.pilot(team), team)
    _stall(fresh.id, minutes=1)  # still within the timeout: left alone
    result = runner.invoke(args=["bias-checks", "reap"])
    assert result.exit_code == 0 and "marked 1 stalled checks as failed" in result.output
    db.session.expire_all()
    reaped = db.session.get(BiasCheck, check.id)
    assert reaped.status == "failed" and "stopped responding" in reaped.error
    assert reaped.finished_at is not None
    assert db.session.get(BiasCheck, fresh.id).status == "running"
    state = client.get(f"/api/v1/bias-checks/{check.id}", headers=factory.headers(team))
    assert state.get_json()["status"] == "failed"


def test_the_worker_reaps_stalled_checks_when_it_starts(app, factory, runner, redis_url):
    from assessments.models import BiasCheck

    app.config.update(REDIS_URL=redis_url)
    team = factory.user("team")
    check = factory.bias_check(factory.pilot(team), team)
    _stall(check.id)
    # An empty queue named for this test, so the burst worker stops at once.
    from assessments import jobs

    original, jobs.QUEUE_NAME = jobs.QUEUE_NAME, f"bias-checks-test-{uuid.uuid4().hex[:8]}"
    try:
        result = runner.invoke(args=["worker", "--burst"])
    finally:
        jobs.QUEUE_NAME = original
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(BiasCheck, check.id).status == "failed"


def test_a_worker_killed_mid_job_leaves_the_check_failed_not_running(
    app, client, factory, runner, redis_url
):
    """SIGKILL a real `flask worker` while it runs a check, then reap: the check is failed.

    The job is held mid-run deterministically: the stored upload is swapped for a named pipe,
    so the worker blocks reading it after it has marked the check running.
    """
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    from assessments import jobs
    from assessments.models import BiasCheck
    from assessments.storage import path_for

    connection = Redis.from_url(redis_url)
    queue = Queue(jobs.QUEUE_NAME, connection=connection)
    if queue.count:
        pytest.skip(f"the {jobs.QUEUE_NAME!r} queue at {redis_url} is in use")
    app.config.update(REDIS_URL=redis_url, BIAS_CHECK_INLINE_ROWS=10)
    team = factory.user("team")
    pilot = factory.pilot(team)
    body, content_type = multipart(
        {"y_true": "y", "y_pred": "p", "sensitive_features": "g"}, "outputs.csv", SMALL_CSV
    )
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/bias-checks",
        data=body,
        content_type=content_type,
        headers=factory.headers(team),
    )
    assert response.status_code == 202, response.get_json()
    check_id = response.get_json()["id"]
    job_ids = queue.job_ids
    assert len(job_ids) == 1
    stored = path_for(Path(app.config["UPLOAD_FOLDER"]) / "bias", response.get_json()["sha256"])
    stored.unlink()
    os.mkfifo(stored)

    worker = _flask(
        app,
        "worker",
        "--burst",
        env={"REDIS_URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        status = "queued"
        while time.monotonic() < deadline and status == "queued":
            time.sleep(0.1)
            db.session.rollback()
            status = db.session.scalar(select(BiasCheck.status).where(BiasCheck.id == check_id))
        assert status == "running", f"the worker never started the job (status {status})"
        time.sleep(0.3)
        assert worker.poll() is None
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        db.session.rollback()
        assert db.session.scalar(select(BiasCheck.status).where(BiasCheck.id == check_id)) == (
            "running"
        )
        time.sleep(1.1)
        result = runner.invoke(args=["bias-checks", "reap", "--timeout", "1"])
        assert "marked 1 stalled checks as failed" in result.output, result.output
        db.session.expire_all()
        check = db.session.get(BiasCheck, check_id)
        assert check.status == "failed" and "re-run the check" in check.error
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
        for job_id in job_ids:
            job = Job.fetch(job_id, connection=connection)
            job.delete()
        stored.unlink(missing_ok=True)


# ---- the database goes away ------------------------------------------------------------------


class TcpProxy:
    """A loopback TCP forwarder that can be cut (every connection closed) and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        self.thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self.thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for s in (a, b):
                s.close()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a server that went away."""
        if self.listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not, and
            # the socket would go on accepting.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
            self.thread.join(timeout=5)
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()


@pytest.fixture
def pg_proxy(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL (REGISTRY_TEST_ENGINE=postgresql)")
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    yield proxy, url.set(host="127.0.0.1", port=proxy.port)
    proxy.stop()


def _app_at(database_uri, upload_folder, **engine_options):
    from registry import create_app

    return create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "UPLOAD_FOLDER": upload_folder,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        }
    )


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.is_json
    assert "unavailable" in response.get_json()["message"].lower() or (
        response.get_json().get("status") == "unavailable"
    )


def test_postgresql_going_away_gives_503_json_and_the_app_recovers_by_itself(
    app, factory, pg_proxy
):
    proxy, proxied_url = pg_proxy
    headers = factory.headers(factory.user("team"))
    proxied = _app_at(
        proxied_url.render_as_string(hide_password=False),
        app.config["UPLOAD_FOLDER"],
        connect_args={"connect_timeout": 3},
    )
    client = proxied.test_client()
    try:
        assert client.get("/api/v1/pilots", headers=headers).status_code == 200
        proxy.stop()
        _assert_unavailable(client.get("/api/v1/pilots", headers=headers))
        _assert_unavailable(client.get("/healthz"))
        assert client.get("/login").status_code == 200  # the sign-in form needs no database
        proxy.start()
        assert client.get("/healthz").status_code == 200
        response = client.get("/api/v1/pilots", headers=headers)
        assert response.status_code == 200 and response.is_json
    finally:
        with proxied.app_context():
            db.engine.dispose()


def test_postgresql_backends_terminated_under_the_app_are_replaced_transparently(app, factory):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL (REGISTRY_TEST_ENGINE=postgresql)")
    name = f"registry-fault-{uuid.uuid4().hex[:8]}"
    headers = factory.headers(factory.user("team"))
    victim = _app_at(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.config["UPLOAD_FOLDER"],
        connect_args={"application_name": name},
    )
    client = victim.test_client()
    admin = sa.create_engine(conftest.pg_url(), isolation_level="AUTOCOMMIT")
    try:
        assert client.get("/api/v1/pilots", headers=headers).status_code == 200
        with admin.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": name},
            ).scalar()
        assert killed >= 1
        # pool_pre_ping notices the dead connection and opens a new one: no error at all.
        assert client.get("/api/v1/pilots", headers=headers).status_code == 200
        assert client.get("/healthz").get_json() == {"status": "ok"}
    finally:
        admin.dispose()
        with victim.app_context():
            db.engine.dispose()


def test_sqlite_database_gone_gives_503_json_and_the_app_recovers(app, factory, tmp_path):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the SQLite variant; PostgreSQL has its own")
    headers = factory.headers(factory.user("team"))
    source = Path(sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    volume = tmp_path / "volume"
    volume.mkdir()
    import sqlite3

    live, copy = sqlite3.connect(source), sqlite3.connect(volume / "registry.sqlite3")
    live.backup(copy)  # the WAL's contents too
    live.close()
    copy.close()
    moved = _app_at(f"sqlite:///{volume / 'registry.sqlite3'}", app.config["UPLOAD_FOLDER"])
    client = moved.test_client()
    try:
        assert client.get("/api/v1/pilots", headers=headers).status_code == 200
        volume.rename(tmp_path / "unmounted")
        with moved.app_context():
            db.engine.dispose()  # the open handles go with the volume
        _assert_unavailable(client.get("/api/v1/pilots", headers=headers))
        _assert_unavailable(client.get("/healthz"))
        (tmp_path / "unmounted").rename(volume)
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/pilots", headers=headers).status_code == 200
    finally:
        with moved.app_context():
            db.engine.dispose()


# ---- the disk is full or not writable --------------------------------------------------------


def _upload_evidence(client, pilot, headers, content=b"Privacy impact assessment\n"):
    body, content_type = multipart({"kind": "pia"}, "pia.txt", content)
    return client.post(
        f"/api/v1/pilots/{pilot.id}/evidence",
        data=body,
        content_type=content_type,
        headers=headers,
    )


def _files(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file()]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_507_json_and_no_row_points_at_a_missing_file(
    app, client, factory, monkeypatch, code
):
    from assessments import storage

    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    before = _row_counts()

    def full(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(storage.os, "fsync", full)
    response = _upload_evidence(client, pilot, headers)
    assert response.status_code == 507 and response.is_json
    message = response.get_json()["message"]
    assert "could not be written to disk" in message and "full" in message
    body, content_type = multipart(
        {"y_true": "y", "y_pred": "p", "sensitive_features": "g"}, "o.csv", SMALL_CSV
    )
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/bias-checks",
        data=body,
        content_type=content_type,
        headers=headers,
    )
    assert response.status_code == 507 and response.is_json
    db.session.expire_all()
    assert _row_counts() == before
    assert _files(app) == []
    monkeypatch.undo()
    assert _upload_evidence(client, pilot, headers).status_code == 201


def test_an_upload_folder_that_cannot_be_written_is_507_json(app, client, factory, tmp_path):
    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the upload folder should be")
    app.config["UPLOAD_FOLDER"] = str(blocker / "uploads")
    before = _row_counts()
    response = _upload_evidence(client, pilot, headers)
    assert response.status_code == 507 and response.is_json
    assert "not writable" in response.get_json()["message"]
    db.session.expire_all()
    assert _row_counts() == before


def test_permission_denied_on_the_upload_folder_is_507_json(app, client, factory, monkeypatch):
    import tempfile

    from assessments import storage

    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(storage.tempfile, "mkstemp", denied)
    response = _upload_evidence(client, pilot, headers)
    monkeypatch.setattr(storage.tempfile, "mkstemp", tempfile.mkstemp)
    assert response.status_code == 507 and response.is_json


# ---- a transaction that fails halfway --------------------------------------------------------


def _fail_the_audit(monkeypatch):
    import registry.audit
    import registry.audit.service

    def broken(*args, **kwargs):
        raise RuntimeError("the audit trail broke halfway through the transaction")

    monkeypatch.setattr(registry.audit.service, "record", broken)
    monkeypatch.setattr(registry.audit, "record", broken)


def test_a_pilot_insert_whose_audit_event_fails_leaves_no_row_and_no_event(
    client, factory, monkeypatch
):
    team = factory.user("team")
    source = factory.data_source(team)
    headers = factory.headers(team)
    before = _row_counts()
    _fail_the_audit(monkeypatch)
    response = client.post(
        "/api/v1/pilots",
        json={
            "name": "Half-written pilot",
            "purpose": "Never saved.",
            "agency": "MCG",
            "owner_email": team.email,
            "stage": "pre_deployment",
            "data_source_ids": [source.id],
        },
        headers=headers,
    )
    assert response.status_code == 500 and response.is_json
    assert response.get_json()["message"] == "An unexpected error occurred; it has been logged."
    monkeypatch.undo()
    db.session.expire_all()
    assert _row_counts() == before  # no pilot, no team or data-source links, no audit event
    assert client.get("/api/v1/pilots?q=Half-written", headers=headers).get_json() == []


def test_evidence_whose_audit_event_fails_leaves_no_row_and_no_file(
    app, client, factory, monkeypatch
):
    team = factory.user("team")
    pilot = factory.pilot(team)
    headers = factory.headers(team)
    before = _row_counts()
    _fail_the_audit(monkeypatch)
    response = _upload_evidence(client, pilot, headers, b"Evidence that is never recorded\n")
    assert response.status_code == 500 and response.is_json
    monkeypatch.undo()
    db.session.expire_all()
    assert _row_counts() == before
    assert _files(app) == []


def test_the_audit_chain_is_intact_after_the_faults(client, factory, monkeypatch, runner):
    team = factory.user("team")
    headers = factory.headers(team)
    _fail_the_audit(monkeypatch)
    client.post("/api/v1/data-sources", json={"name": "Never saved"}, headers=headers)
    monkeypatch.undo()
    assert (
        client.post("/api/v1/data-sources", json={"name": "Saved"}, headers=headers).status_code
        == 201
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "audit chain intact" in result.output


def test_a_signed_in_browser_gets_a_503_page_when_the_database_is_gone(app, factory, tmp_path):
    """The error page must not load the signed-in user: that needs the database (was a 500)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the SQLite variant; PostgreSQL has its own")
    user = factory.user("team")
    source = Path(sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    volume = tmp_path / "volume"
    volume.mkdir()
    import sqlite3

    live, copy = sqlite3.connect(source), sqlite3.connect(volume / "registry.sqlite3")
    live.backup(copy)
    live.close()
    copy.close()
    moved = _app_at(f"sqlite:///{volume / 'registry.sqlite3'}", app.config["UPLOAD_FOLDER"])
    client = moved.test_client()
    try:
        signed_in = client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
        assert signed_in.status_code == 302
        assert client.get("/pilots").status_code == 200
        volume.rename(tmp_path / "unmounted")
        with moved.app_context():
            db.engine.dispose()
        for path in ("/pilots", "/", "/no-such-page"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.get_data(as_text=True)[:300])
            assert "unavailable" in response.get_data(as_text=True).lower()
        (tmp_path / "unmounted").rename(volume)
        page = client.get("/pilots")
        assert page.status_code == 200 and user.name in page.get_data(as_text=True)
    finally:
        with moved.app_context():
            db.engine.dispose()


def test_a_signed_in_browser_gets_a_503_page_when_postgresql_is_gone(app, factory, pg_proxy):
    proxy, proxied_url = pg_proxy
    user = factory.user("team")
    proxied = _app_at(
        proxied_url.render_as_string(hide_password=False),
        app.config["UPLOAD_FOLDER"],
        connect_args={"connect_timeout": 3},
    )
    client = proxied.test_client()
    try:
        signed_in = client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
        assert signed_in.status_code == 302
        proxy.stop()
        response = client.get("/pilots")
        assert response.status_code == 503, response.get_data(as_text=True)[:300]
        assert "unavailable" in response.get_data(as_text=True).lower()
        proxy.start()
        assert client.get("/pilots").status_code == 200
    finally:
        with proxied.app_context():
            db.engine.dispose()
