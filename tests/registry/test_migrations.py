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


@pytest.mark.db
def test_the_lifecycle_migration_carries_existing_pilots_over(empty_database, tmp_path):
    """Approved pilots become revision 1 approved for their stage; ids stay stable."""
    import datetime as dt

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with app.app_context():
        upgrade(revision="0004")
        conn = db.session.connection()
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, active, session_nonce, created_at) "
                "VALUES (1, 'owner@agency.gov', 'Owner', 'team', true, 'n', :now), "
                "(2, 'caio@agency.gov', 'CAIO', 'caio', true, 'n', :now), "
                "(3, 'member@agency.gov', 'Member', 'team', true, 'n', :now)"
            ),
            {"now": now},
        )
        pilots = [
            # id, stage, review_status, use_case_id, is_withheld
            (1, "deployed", "approved", "MCG-001", "No"),
            (2, "pre_deployment", "approved_with_conditions", None, "No"),
            (3, "pilot", "submitted", None, "No"),
            (4, "deployed", "draft", None, "Yes - Disclosure Risk"),
            (5, "pre_deployment", "draft", None, "No"),
        ]
        for pilot_id, stage, status, use_case_id, withheld in pilots:
            conn.execute(
                sa.text(
                    "INSERT INTO pilots (id, use_case_id, name, purpose, agency, owner_id, "
                    "created_by_id, owner_to_confirm, stage, review_status, is_withheld, "
                    "demographic_features, inventory_extra, created_at, updated_at, version) "
                    "VALUES (:id, :ucid, :name, 'Routes requests.', 'MCG', 1, 1, false, :stage, "
                    ":status, :withheld, '[]', '{}', :now, :now, 1)"
                ),
                {
                    "id": pilot_id,
                    "ucid": use_case_id,
                    "name": f"Pilot {pilot_id}",
                    "stage": stage,
                    "status": status,
                    "withheld": withheld,
                    "now": now,
                },
            )
        conn.execute(sa.text("INSERT INTO pilot_team_members VALUES (1, 3)"))
        for pilot_id, decision in ((1, "approve"), (2, "approve_with_conditions")):
            conn.execute(
                sa.text(
                    "INSERT INTO submissions (pilot_id, round, submitted_by_id, submitted_at) "
                    "VALUES (:p, 1, 1, :now)"
                ),
                {"p": pilot_id, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO decisions (pilot_id, round, decision, decided_by_id, decided_at, "
                    "snapshot) VALUES (:p, 1, :d, 2, :now, '{}')"
                ),
                {"p": pilot_id, "d": decision, "now": now},
            )
        db.session.commit()
        upgrade()
        conn = db.session.connection()
        rows = {
            row.id: row
            for row in conn.execute(
                sa.text(
                    "SELECT id, use_case_id, approved_revision, approved_stage, "
                    "in_use_without_approval, public_since, decision_epoch FROM pilots"
                )
            )
        }
        assert (rows[1].approved_revision, rows[1].approved_stage) == (1, "deployed")
        assert (rows[2].approved_revision, rows[2].approved_stage) == (1, "pilot")
        assert rows[3].approved_revision is None and bool(rows[3].in_use_without_approval)
        assert bool(rows[4].in_use_without_approval) and not bool(rows[1].in_use_without_approval)
        assert rows[1].use_case_id == "MCG-001"
        assert rows[2].use_case_id == "MCG-REG-0002"  # what the inventory already published
        assert rows[4].use_case_id.startswith("MCG-") and "0004" not in rows[4].use_case_id
        assert rows[5].public_since is None and rows[1].public_since is not None
        revisions = conn.execute(
            sa.text("SELECT pilot_id, number, reason FROM pilot_revisions ORDER BY pilot_id")
        ).all()
        assert [tuple(r) for r in revisions] == [
            (1, 1, "migrated approval"),
            (2, 1, "migrated approval"),
            (3, 1, "submission"),
        ]
        decisions = conn.execute(
            sa.text("SELECT pilot_id, revision, stage FROM decisions ORDER BY pilot_id")
        ).all()
        assert [tuple(d) for d in decisions] == [(1, 1, "deployed"), (2, 1, "pilot")]
        involved = conn.execute(
            sa.text("SELECT user_id FROM pilot_involvement WHERE pilot_id = 1 AND epoch = 1")
        ).scalars()
        assert sorted(involved) == [1, 3]
        db.session.commit()
        db.engine.dispose()


@pytest.mark.db
def test_the_checkpoint_migration_keeps_tokens_with_full_access_and_an_expiry(
    empty_database, tmp_path
):
    """0017: existing tokens keep "read write"; one that never expired now expires in 90 days."""
    import datetime as dt

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        upgrade(revision="0016")
        conn = db.session.connection()
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, active, session_nonce, created_at) "
                "VALUES (1, 'owner@agency.gov', 'Owner', 'team', true, 'n', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at, "
                "expires_at) VALUES (1, 1, 'cli', :h1, 'air_abcd', :now, NULL), "
                "(2, 1, 'api', :h2, 'air_efgh', :now, :later)"
            ),
            {"h1": "1" * 64, "h2": "2" * 64, "now": now, "later": now + dt.timedelta(days=5)},
        )
        db.session.commit()
        upgrade()
        rows = db.session.execute(
            sa.text("SELECT id, scopes, expires_at FROM api_tokens ORDER BY id")
        ).all()
        assert [row.scopes for row in rows] == ["read write", "read write"]
        expires = [
            row.expires_at if isinstance(row.expires_at, dt.datetime)
            else dt.datetime.fromisoformat(str(row.expires_at))
            for row in rows
        ]
        expires = [e if e.tzinfo else e.replace(tzinfo=dt.UTC) for e in expires]
        assert dt.timedelta(days=89) < expires[0] - now < dt.timedelta(days=91)
        assert dt.timedelta(days=4) < expires[1] - now < dt.timedelta(days=6)
        assert "audit_checkpoints" in sa.inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.db
def test_the_job_recovery_migration_gives_failed_checks_their_reason(empty_database, tmp_path):
    """Checks the old reaper failed become interrupted; other failed checks, errors."""
    import datetime as dt

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with app.app_context():
        upgrade(revision="0016")
        conn = db.session.connection()
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, active, session_nonce, created_at) "
                "VALUES (1, 'owner@agency.gov', 'Owner', 'team', true, 'n', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pilots (id, use_case_id, name, purpose, agency, owner_id, "
                "created_by_id, owner_to_confirm, stage, review_status, is_withheld, "
                "demographic_features, inventory_extra, created_at, updated_at, version, "
                "unreviewed_changes) VALUES (1, 'MCG-1', 'Pilot', 'Routes requests.', 'MCG', "
                "1, 1, false, 'pilot', 'draft', 'No', '[]', '{}', :now, :now, 1, '[]')"
            ),
            {"now": now},
        )
        checks = [
            (1, "failed", "The worker stopped responding (no heartbeat for 900 s); re-run."),
            (2, "failed", "The column 'y' is missing."),
            (3, "succeeded", None),
        ]
        for check_id, status, error in checks:
            conn.execute(
                sa.text(
                    "INSERT INTO bias_checks (id, pilot_id, filename, sha256, size, file_format, "
                    "task, sensitive_features, positive_label, status, error, attempts, "
                    "queued_at, created_at) VALUES (:id, 1, 'a.csv', :sha, 10, 'csv', "
                    "'binary_classification', '[\"g\"]', '1', :status, :error, 1, :now, :now)"
                ),
                {"id": check_id, "sha": "0" * 64, "status": status, "error": error, "now": now},
            )
        db.session.commit()
        upgrade()
        reasons = dict(
            db.session.execute(
                sa.text("SELECT id, failure_reason FROM bias_checks ORDER BY id")
            ).all()
        )
        assert reasons == {1: "interrupted", 2: "error", 3: None}
        db.session.commit()
        db.engine.dispose()


@pytest.mark.db
def test_the_organisations_migration_moves_a_single_agency_into_one_root(empty_database, tmp_path):
    """Every user, pilot and decision is kept; all of them land in one root organisation."""
    import datetime as dt

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with app.app_context():
        upgrade(revision="0004")
        conn = db.session.connection()
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, active, session_nonce, created_at) "
                "VALUES (1, 'owner@agency.gov', 'Owner', 'team', true, 'n', :now), "
                "(2, 'caio@agency.gov', 'CAIO', 'caio', true, 'n', :now), "
                "(3, 'admin@agency.gov', 'Admin', 'admin', true, 'n', :now)"
            ),
            {"now": now},
        )
        for pilot_id, status in ((1, "approved"), (2, "draft"), (3, "submitted")):
            conn.execute(
                sa.text(
                    "INSERT INTO pilots (id, name, purpose, agency, agency_name, owner_id, "
                    "created_by_id, owner_to_confirm, stage, review_status, is_withheld, "
                    "demographic_features, inventory_extra, created_at, updated_at, version) "
                    "VALUES (:id, :name, 'Routes requests.', 'MCG', 'Montgomery County', 1, 1, "
                    "false, 'pilot', :status, 'No', '[]', '{}', :now, :now, 1)"
                ),
                {"id": pilot_id, "name": f"Pilot {pilot_id}", "status": status, "now": now},
            )
        conn.execute(
            sa.text(
                "INSERT INTO submissions (pilot_id, round, submitted_by_id, submitted_at) "
                "VALUES (1, 1, 1, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO decisions (pilot_id, round, decision, decided_by_id, decided_at, "
                "snapshot) VALUES (1, 1, 'approve', 2, :now, '{}')"
            ),
            {"now": now},
        )
        db.session.commit()
        upgrade()
        conn = db.session.connection()
        orgs = conn.execute(sa.text("SELECT id, code, name, parent_id FROM organizations")).all()
        assert [(o.code, o.name, o.parent_id) for o in orgs] == [
            ("MCG", "Montgomery County", None)
        ]
        root = orgs[0].id
        users = conn.execute(sa.text("SELECT id, role, organization_id FROM users ORDER BY id"))
        assert [tuple(u) for u in users] == [(1, "team", root), (2, "caio", root), (3, "admin", root)]
        assignments = conn.execute(
            sa.text("SELECT user_id, role, organization_id FROM role_assignments ORDER BY user_id")
        )
        assert [tuple(a) for a in assignments] == [
            (1, "team", root), (2, "caio", root), (3, "admin", root)
        ]
        pilots = conn.execute(sa.text("SELECT id, organization_id, review_status FROM pilots"))
        assert sorted(tuple(p) for p in pilots) == [
            (1, root, "approved"), (2, root, "draft"), (3, root, "submitted")
        ]
        decisions = conn.execute(sa.text("SELECT pilot_id, decided_by_id FROM decisions")).all()
        assert [tuple(d) for d in decisions] == [(1, 2)]
        db.session.commit()
        # The migrated installation behaves as before: its CAIO decides for every pilot.
        from registry.auth.models import User
        from registry.auth.permissions import holds
        from registry.catalog.models import Pilot

        caio = db.session.get(User, 2)
        assert all(holds(caio, "caio", p) for p in db.session.scalars(sa.select(Pilot)))
        db.session.remove()
        db.engine.dispose()


@pytest.mark.db
def test_the_questionnaire_draft_migration_keeps_existing_pilots(empty_database, tmp_path):
    """0020 adds the drafts table to a database holding pilots; they keep working."""
    import datetime as dt

    from assessments.models import QuestionnaireDraft
    from registry.catalog.models import Pilot

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade(revision="0019")
        # Rows written in SQL: the models describe the newest schema, not 0019's.
        conn = db.session.connection()
        root = conn.execute(sa.text("SELECT id FROM organizations")).scalar_one()
        now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, organization_id, active, "
                "session_nonce, created_at) VALUES "
                "(1, 'owner@agency.gov', 'Owner', 'team', :root, true, 'n', :now)"
            ),
            {"root": root, "now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pilots (id, name, purpose, agency, agency_name, owner_id, "
                "created_by_id, owner_to_confirm, stage, review_status, is_withheld, "
                "demographic_features, inventory_extra, created_at, updated_at, version, "
                "organization_id, unreviewed_changes) VALUES (1, 'Kept across 0020', "
                "'Routes requests.', 'ROOT', 'Agency', 1, 1, false, 'pilot', 'draft', 'No', "
                "'[]', '{}', :now, :now, 1, :root, '[]')"
            ),
            {"root": root, "now": now},
        )
        pilot_id = 1
        db.session.commit()
        db.session.remove()
        upgrade()
        assert db.session.get(Pilot, pilot_id).name == "Kept across 0020"
        db.session.add(
            QuestionnaireDraft(
                pilot_id=pilot_id,
                answers={"uses_personal_information": "yes"},
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
        db.session.commit()
        assert db.session.get(QuestionnaireDraft, pilot_id).answers == {
            "uses_personal_information": "yes"
        }
        db.session.remove()
        db.engine.dispose()


@pytest.mark.db
def test_the_invitations_migration_keeps_users_signing_in_as_before(empty_database, tmp_path):
    """0022 adds the invitations table and the forced-change flag; existing users are not
    forced to change their password and still sign in."""
    import datetime as dt

    from werkzeug.security import generate_password_hash

    from registry.auth import invitations, service
    from registry.auth.models import Invitation, User

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    password = "correct-horse-battery-2026"
    with app.app_context():
        # The revision just before this one, whatever it is called when the branches merge.
        from alembic.script import ScriptDirectory

        from registry.extensions import migrate

        script = ScriptDirectory.from_config(migrate.get_config())
        upgrade(revision=script.get_revision("0022").down_revision)
        conn = db.session.connection()
        root = conn.execute(sa.text("SELECT id FROM organizations")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO users (email, name, role, organization_id, password_hash, "
                "active, session_nonce, created_at) VALUES "
                "('admin@agency.gov', 'Admin', 'admin', :root, :hash, true, 'n', :now), "
                "('team@agency.gov', 'Team', 'team', :root, :hash, true, 'n', :now)"
            ),
            {"root": root, "hash": generate_password_hash(password), "now": now},
        )
        ids = dict(conn.execute(sa.text("SELECT email, id FROM users")).all())
        for email, role in (("admin@agency.gov", "admin"), ("team@agency.gov", "team")):
            conn.execute(
                sa.text(
                    "INSERT INTO role_assignments (user_id, role, organization_id) "
                    "VALUES (:user, :role, :root)"
                ),
                {"user": ids[email], "role": role, "root": root},
            )
        db.session.commit()
        upgrade()
        flags = db.session.execute(
            sa.text("SELECT email, must_change_password FROM users ORDER BY email")
        ).all()
        assert [(row[0], bool(row[1])) for row in flags] == [
            ("admin@agency.gov", False), ("team@agency.gov", False)
        ]
        assert service.check_login("team@agency.gov", password).id == ids["team@agency.gov"]
        admin = db.session.get(User, ids["admin@agency.gov"])
        sent = invitations.invite(
            {"email": "new@agency.gov", "name": "New Person", "role": "team"}, admin, link_for=str
        )
        invited, token = sent.user, sent.link
        stored = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == invited.id))
        assert stored.token_hash != token and len(stored.token_hash) == 64
        db.session.remove()
        db.engine.dispose()


@pytest.mark.db
def test_the_published_version_index_migration_finds_a_use_case_by_its_index(
    empty_database, tmp_path
):
    """0023 replaces the use-case-ID index with (use_case_id, is_current, listed): published
    versions are kept, and the lookup by ID no longer scans the inventory."""
    import datetime as dt

    from assessments.concerns import published_use_case
    from registry.catalog.models import PublishedVersion

    app = create_app(
        {
            **conftest.BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade(revision="0020")
        now = dt.datetime.now(dt.UTC)
        for n in range(50):
            db.session.add(
                PublishedVersion(
                    use_case_id=f"UC-{n}", number=1, action="publish", published_at=now,
                    row={"use_case_name": f"Use case {n}"}, withheld={}, waivers=[],
                    is_current=True, listed=True, wholly_withheld=False, agency="Agency",
                    name=f"Use case {n}", search_text=f"use case {n}",
                )
            )
        db.session.commit()
        db.session.remove()
        upgrade()
        assert published_use_case("UC-7").name == "Use case 7"
        assert published_use_case("UC-none") is None
        lookup = (
            "SELECT id FROM published_versions WHERE use_case_id = 'UC-7' "
            "AND is_current = true AND listed = true"
        )
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "sqlite":
                plan = " ".join(str(row) for row in conn.execute(sa.text("EXPLAIN QUERY PLAN " + lookup)))
                assert "ix_published_versions_use_case_current" in plan, plan
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("published_versions")}
        assert "ix_published_versions_use_case_current" in indexes
        assert "ix_published_versions_use_case_id" not in indexes
        db.engine.dispose()
