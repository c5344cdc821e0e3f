"""Fixtures: a fresh app and database per test, on SQLite or PostgreSQL.

`REGISTRY_TEST_ENGINE=postgresql` runs the suite on PostgreSQL at `TEST_DATABASE_URL`
(default postgresql://postgres@127.0.0.1:5432/test). Outside CI a missing server skips the
database tests with the reason printed; with CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import Factory

ENGINE = os.environ.get("REGISTRY_TEST_ENGINE", "sqlite")
IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    # A cheap scrypt keeps the suite fast; production uses werkzeug's default cost.
    "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    "TOKEN_LAST_USED_RESOLUTION_SECONDS": 0,
    # The product requires a second factor of administrators and CAIOs (MFA_REQUIRED_ROLES).
    # Most tests are about something else and sign those roles in with a password alone;
    # the multi-factor tests (tests/registry/test_mfa.py, tests/browser/test_mfa.py) turn the
    # requirement back on with REQUIRED_MFA, and `login` completes the second step for any
    # user given an app with `factory.enrol_mfa`.
    "MFA_REQUIRED_ROLES": (),
}
REQUIRED_MFA = {"MFA_REQUIRED_ROLES": ("admin", "caio")}


def pytest_report_header(config):
    return f"registry test engine: {ENGINE}" + (
        f" ({TEST_DATABASE_URL})" if ENGINE != "sqlite" else ""
    )


def service_missing(what: str, reason: str):
    """Fail in CI, skip elsewhere, and say why either way."""
    message = f"{what} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: tests that need it must run)")
    pytest.skip(message)


def pg_url() -> str:
    from registry.config import normalise_database_url

    return normalise_database_url(TEST_DATABASE_URL)


def upgrade(database_uri: str, instance: Path) -> None:
    from flask_migrate import upgrade as alembic_upgrade

    from registry import create_app

    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "UPLOAD_FOLDER": str(instance / "uploads"),
        }
    )
    with app.app_context():
        alembic_upgrade()
        from registry.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate one database per session; tests get copies (SQLite) or truncations (PostgreSQL)."""
    root = tmp_path_factory.mktemp("template")
    if ENGINE == "sqlite":
        path = root / "template.sqlite3"
        upgrade(f"sqlite:///{path}", root)
        return {"engine": "sqlite", "path": path}
    try:
        engine = sa.create_engine(pg_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    except sa.exc.OperationalError as error:
        return {"engine": "postgresql", "error": str(error).splitlines()[0]}
    upgrade(pg_url(), root)
    engine = sa.create_engine(pg_url())
    with engine.connect() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
    engine.dispose()
    return {"engine": "postgresql", "tables": tables}


@pytest.fixture
def database_uri(database_template, tmp_path):
    if database_template["engine"] == "sqlite":
        path = tmp_path / "registry.sqlite3"
        shutil.copy(database_template["path"], path)
        return f"sqlite:///{path}"
    if "error" in database_template:
        service_missing("PostgreSQL", database_template["error"])
    return empty_postgresql(database_template)


def empty_postgresql(database_template) -> str:
    """The PostgreSQL test database emptied back to a fresh installation; its URL."""
    engine = sa.create_engine(pg_url())
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE "
                + ", ".join(f'"{t}"' for t in database_template["tables"])
                + " RESTART IDENTITY CASCADE"
            )
        )
        # What migration 0019 seeds on an empty installation: the root organisation.
        conn.execute(
            sa.text("INSERT INTO organizations (name, code, parent_id) VALUES ('Agency', 'ROOT', NULL)")
        )
    engine.dispose()
    return pg_url()


@pytest.fixture
def app_config():
    """Settings a test module adds to BASE_CONFIG: override this fixture in the module."""
    return {}


@pytest.fixture
def app(database_uri, tmp_path, app_config):
    from registry import create_app
    from registry.extensions import db

    app = create_app(
        {
            **BASE_CONFIG,
            **app_config,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit_signing_key.pem"),
        }
    )
    yield app
    from assessments import jobs

    # An in-process bias check still running would return its connection to the pool
    # discarded below, leaving it open until garbage collection.
    jobs.drain()
    from assessments import job_heartbeat

    job_heartbeat.wait_idle()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def saved_states(database_template, tmp_path_factory):
    """One app for the module, its tests starting from saved database states (see
    tests/saved_states.py). A module uses it by overriding `app` with
    `saved_states.app` after `saved_states.reset()`, or after putting back a saved state."""
    from registry import create_app
    from tests.saved_states import SavedStates

    root = tmp_path_factory.mktemp("saved")
    if database_template["engine"] == "sqlite":
        uri = f"sqlite:///{root / 'registry.sqlite3'}"
        shutil.copy(database_template["path"], root / "registry.sqlite3")
    elif "error" in database_template:
        service_missing("PostgreSQL", database_template["error"])
    else:
        uri = empty_postgresql(database_template)
    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": uri,
            "UPLOAD_FOLDER": str(root / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(root / "audit_signing_key.pem"),
        }
    )
    states = SavedStates(app, root, database_template["engine"])
    yield states
    states.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def factory(app):
    with app.app_context():
        yield Factory(app)


@pytest.fixture
def redis_url():
    """TEST_REDIS_URL if Redis answers there; skipped otherwise (a failure with CI=true)."""
    try:
        from redis import Redis

        Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001 - any failure to reach Redis means the same here
        service_missing("Redis", str(error).splitlines()[0])
    return TEST_REDIS_URL


@pytest.fixture
def login(client, factory):
    """Sign a browser client in as a user of the given role; returns the user."""

    def sign_in(role: str = "team", user=None):
        user = user or factory.user(role)
        response = client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        if response.location.endswith("/login/code"):
            response = client.post("/login/code", data={"code": factory.totp_code(user)})
            assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


def pytest_collection_modifyitems(config, items):
    for item in items:
        # Browser tests run once, on SQLite: they never join the PostgreSQL (`-m db`) pass.
        if item.get_closest_marker("browser"):
            continue
        if {"database_uri", "saved_states"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
