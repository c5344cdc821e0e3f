"""Configuration rules and the command line."""

import pytest
from sqlalchemy import func, select

from registry import config, create_app
from registry.audit.service import verify_stored_chain
from registry.auth.models import User
from registry.catalog.models import DataSource, Pilot
from registry.extensions import db


def test_production_refuses_the_default_secret_key():
    with pytest.raises(config.InsecureConfiguration):
        create_app({"REGISTRY_ENV": "production", "SECRET_KEY": config.DEFAULT_SECRET_KEY})
    app = create_app({"REGISTRY_ENV": "production", "SECRET_KEY": "a-long-random-production-key"})
    assert app.config["SECRET_KEY"] == "a-long-random-production-key"


def test_database_url_switches_to_psycopg3():
    assert config.normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    found = config.from_environment(
        {"DATABASE_URL": "postgresql://u@h/db", "MAX_UPLOAD_BYTES": "10"}
    )
    assert found["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert found["MAX_UPLOAD_BYTES"] == 10


def test_login_throttle_and_proxy_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("LOGIN_LOCKOUT_SECONDS", "60")
    monkeypatch.setenv("LOGIN_IP_MAX_FAILURES", "10")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    assert app.config["LOGIN_LOCKOUT_SECONDS"] == 60
    assert app.config["LOGIN_IP_MAX_FAILURES"] == 10
    # Untouched settings keep their defaults.
    assert app.config["LOGIN_FAILURE_WINDOW_SECONDS"] == 15 * 60


def test_a_malformed_numeric_setting_is_named():
    with pytest.raises(config.ConfigurationError, match="LOGIN_MAX_FAILURES='five'"):
        config.from_environment({"LOGIN_MAX_FAILURES": "five"})


@pytest.mark.parametrize(("hops", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_for_is_trusted_only_behind_configured_proxies(hops, expected):
    app = create_app(
        # TESTING: no background sweeper on this empty in-memory database.
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "TRUSTED_PROXIES": hops,
            "TESTING": True,
        }
    )

    @app.get("/_whoami")
    def whoami():
        from flask import request

        return {"addr": request.remote_addr, "scheme": request.scheme}

    response = app.test_client().get(
        "/_whoami",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.get_json() == {
        "addr": expected,
        "scheme": "https" if hops else "http",
    }


def test_default_database_is_sqlite_in_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x"})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/registry.sqlite3"
    )


def test_users_create_and_tokens_create(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Ana@Agency.gov",
            "--name",
            "Ana Diaz",
            "--role",
            "caio",
            "--password",
            "a-good-long-password",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tokens", "create", "ana@agency.gov", "--name", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("air_")
    response = app.test_client().get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "users",
                "create",
                "not-an-email",
                "--name",
                "X",
                "--role",
                "team",
                "--password",
                "a-good-long-password",
            ],
            "email",
        ),
        (
            [
                "users",
                "create",
                "x@agency.gov",
                "--name",
                "X",
                "--role",
                "team",
                "--password",
                "short",
            ],
            "password",
        ),
        (
            [
                "users",
                "create",
                "x@agency.gov",
                "--name",
                "X",
                "--role",
                "team",
                "--password",
                "password12345",
            ],
            "common",
        ),
        (["tokens", "create", "ghost@agency.gov"], "no user"),
    ],
)
def test_cli_rejects_bad_input_with_a_message(runner, app, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output


def test_seed_demo_is_idempotent_and_prints_logins(runner, app):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    logins = [line for line in first.output.splitlines() if line.startswith("login: ")]
    assert {line.split()[1] for line in logins} == {"admin", "caio", "board", "team"}
    with app.app_context():
        counts = (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Pilot)),
            db.session.scalar(select(func.count()).select_from(DataSource)),
        )
        assert counts[1] >= 12
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    with app.app_context():
        assert counts == (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Pilot)),
            db.session.scalar(select(func.count()).select_from(DataSource)),
        )
        assert verify_stored_chain().ok
    # The printed logins work.
    role, email, password = logins[0].split()[1:4]
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302


def test_seed_demo_places_pilots_in_the_city_departments(runner, app):
    """The demo's departments and offices are organisations, each pilot sits in its bureau's,
    and the Human Services board member's dashboard covers that department alone."""
    from registry.auth import organizations

    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert organizations.root().name == "Metro City Government"
        hsd = organizations.by_code("HSD")
        assert hsd is not None and organizations.by_code("CFS").parent_id == hsd.id
        placed = db.session.scalars(select(Pilot).where(Pilot.organization_id != organizations.root().id)).all()
        assert len(placed) >= 10
    line = next(line for line in result.output.splitlines() if "board.hsd@demo.gov" in line)
    _, _, email, password = line.split()[:4]
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Human Services Department</strong> and the bureaus and offices under it" in page


def test_health_reports_503_when_the_database_is_gone(tmp_path):
    app = create_app(
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            # No background sweeper against a server that never answers.
            "TESTING": True,
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
