"""Backup and restore round trip on the engine under test: rows, files and the audit chain."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry.extensions import db
from tests import conftest


@pytest.fixture
def registry_with_data(factory):
    """Pilots, a data source, evidence, a bias check and an impact assessment."""
    from assessments import service as assessments
    from tests.factories import complete_answers

    team = factory.user("team")
    admin = factory.user("admin")
    source = factory.data_source(team, name="Case management records")
    pilot = factory.pilot(team, name="Benefits triage", data_source_ids=[source.id])
    factory.pilot(admin, name="Translation assistant", stage="pilot")
    _, questionnaire = assessments.questionnaire()
    assessments.assess(pilot, complete_answers(questionnaire), team)
    evidence = factory.evidence(pilot, team, content=b"Privacy impact assessment v2\n")
    check = factory.bias_check(pilot, team)
    factory.token(team)
    return {"pilot": pilot.id, "evidence": evidence.id, "check": check.id, "email": team.email}


@pytest.fixture
def empty_target(app, tmp_path):
    """A second app on an empty database of the same engine, with its own upload folder."""
    from registry import create_app

    uploads = tmp_path / "restored-uploads"
    # The same signing key as the registry backed up (the key is never in a backup; the
    # README says to restore it beside the database), so its checkpoints still verify.
    key = {"AUDIT_SIGNING_KEY_FILE": app.config["AUDIT_SIGNING_KEY_FILE"]}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        uri = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        yield create_app(
            {
                **conftest.BASE_CONFIG,
                **key,
                "SQLALCHEMY_DATABASE_URI": uri,
                "UPLOAD_FOLDER": str(uploads),
            }
        )
        return
    name = f"registry_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(conftest.pg_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    uri = sa.make_url(conftest.pg_url()).set(database=name).render_as_string(hide_password=False)
    target = create_app(
        {
            **conftest.BASE_CONFIG,
            **key,
            "SQLALCHEMY_DATABASE_URI": uri,
            "UPLOAD_FOLDER": str(uploads),
        }
    )
    try:
        yield target
    finally:
        with target.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _invoke(app, *args):
    # The factory fixture keeps the original app's context pushed, and CLI commands use the
    # current app: push the target's own context around its commands.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def _counts(conn) -> dict[str, int]:
    tables = [t for t in sa.inspect(conn).get_table_names() if not t.startswith("sqlite_")]
    return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "tmp" not in p.relative_to(root).parts
    }


def test_backup_and_restore_round_trip(app, runner, registry_with_data, empty_target, tmp_path):
    from registry.audit.service import verify_stored_chain

    backup_dir = tmp_path / "backup"
    result = runner.invoke(args=["backup", str(backup_dir)])
    assert result.exit_code == 0, result.output
    assert "backup written to" in result.output
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    engine = (
        "sqlite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else ("postgresql")
    )
    assert manifest["engine"] == engine and manifest["missing_files"] == []
    assert (backup_dir / manifest["database"]["file"]).is_file()
    assert manifest["tables"]["pilots"] == 2 and manifest["tables"]["evidence"] == 1

    with app.app_context():
        with db.engine.connect() as conn:
            original_counts = _counts(conn)
        original = verify_stored_chain()
    original_files = _files(Path(app.config["UPLOAD_FOLDER"]))
    assert len(original_files) == 2  # the evidence and the bias-check upload
    assert manifest["audit_head"] == {"seq": original.head_seq, "hash": original.head_hash}

    restored = _invoke(empty_target, "restore", str(backup_dir))
    assert restored.exit_code == 0, restored.output
    assert "audit chain intact" in restored.output

    with empty_target.app_context():
        with db.engine.connect() as conn:
            assert _counts(conn) == original_counts
            spot = conn.execute(
                sa.text(
                    "SELECT p.name, p.stage, s.name FROM pilots p "
                    "JOIN pilot_data_sources ps ON ps.pilot_id = p.id "
                    "JOIN data_sources s ON s.id = ps.data_source_id WHERE p.id = :id"
                ),
                {"id": registry_with_data["pilot"]},
            ).one()
            assert tuple(spot) == ("Benefits triage", "pre_deployment", "Case management records")
            sha = conn.execute(
                sa.text("SELECT sha256 FROM evidence WHERE id = :id"),
                {"id": registry_with_data["evidence"]},
            ).scalar_one()
            verdict = conn.execute(
                sa.text("SELECT status, verdict FROM bias_checks WHERE id = :id"),
                {"id": registry_with_data["check"]},
            ).one()
            assert verdict.status == "succeeded"
        restored_chain = verify_stored_chain()
    assert restored_chain.ok
    assert (restored_chain.head_seq, restored_chain.head_hash) == (
        original.head_seq,
        original.head_hash,
    )
    restored_files = _files(Path(empty_target.config["UPLOAD_FOLDER"]))
    assert restored_files == original_files
    assert f"evidence/{sha[:2]}/{sha}" in restored_files

    verify = _invoke(empty_target, "audit", "verify")
    assert verify.exit_code == 0
    assert f"chain head: seq {original.head_seq} {original.head_hash}" in verify.output

    # The restored registry works: the API answers with the restored token's user's data.
    client = empty_target.test_client()
    with empty_target.app_context():
        from registry.auth import service as auth_service

        user = auth_service.find_user(registry_with_data["email"])
        token = auth_service.issue_token(user, "after restore", actor=None)
    response = client.get(
        f"/api/v1/pilots/{registry_with_data['pilot']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.get_json()["name"] == "Benefits triage"


def test_restore_refuses_a_database_that_holds_data(runner, registry_with_data, tmp_path):
    backup_dir = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(backup_dir)]).exit_code == 0
    result = runner.invoke(args=["restore", str(backup_dir)])
    assert result.exit_code == 1
    assert "target database is not empty" in result.output and "pilots: 2" in result.output


def test_restore_refuses_a_damaged_backup_before_touching_anything(
    runner, registry_with_data, empty_target, tmp_path
):
    backup_dir = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(backup_dir)]).exit_code == 0
    stored = next(p for p in (backup_dir / "files").rglob("*") if p.is_file())
    stored.write_bytes(b"tampered")
    result = _invoke(empty_target, "restore", str(backup_dir))
    assert result.exit_code == 1
    assert "sha256 does not match the manifest" in result.output
    assert "nothing was restored" in result.output
    assert not Path(empty_target.config["UPLOAD_FOLDER"]).exists()


def test_backup_refuses_a_directory_that_is_not_empty(runner, tmp_path):
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "something").write_text("x")
    result = runner.invoke(args=["backup", str(tmp_path / "occupied")])
    assert result.exit_code == 1 and "not an empty directory" in result.output


def test_restore_into_a_freshly_migrated_empty_database(
    runner, registry_with_data, empty_target, tmp_path
):
    from flask_migrate import upgrade

    backup_dir = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(backup_dir)]).exit_code == 0
    with empty_target.app_context():
        upgrade()
        db.session.remove()
    result = _invoke(empty_target, "restore", str(backup_dir))
    assert result.exit_code == 0, result.output
    assert "audit chain intact" in result.output
