"""The schema comes only from Alembic, and its migrations run on an empty database."""

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from registry import create_app
from registry.extensions import db
from tests import conftest

EXPECTED_TABLES = {
    "users",
    "api_tokens",
    "pilots",
    "data_sources",
    "pilot_team_members",
    "pilot_data_sources",
    "audit_events",
    "audit_chain_head",
    "alembic_version",
}


@pytest.fixture
def empty_database(tmp_path, database_template):
    """A brand-new empty database on the engine under test."""
    if conftest.ENGINE == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    if "error" in database_template:
        conftest.service_missing("PostgreSQL", database_template["error"])
    name = f"registry_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(conftest.pg_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(conftest.pg_url()).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.db
def test_migrations_upgrade_an_empty_database_and_downgrade_again(empty_database, tmp_path):
    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert EXPECTED_TABLES <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()


@pytest.mark.db
def test_models_and_migrations_agree(app):
    """Autogenerate finds nothing to add: the models are fully described by migrations."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata)]
        assert differences == []


@pytest.mark.db
def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if conftest.ENGINE != "sqlite":
        pytest.skip("SQLite pragmas only apply to SQLite")
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
