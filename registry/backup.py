"""Backup and restore: a consistent database snapshot plus the uploaded files, with a manifest.

`flask --app wsgi backup PATH` writes into PATH (a new or empty directory):

- ``database.sqlite3`` (SQLite, through the online backup API, so it is consistent while the
  app keeps writing) or ``database.dump`` (PostgreSQL, ``pg_dump --format=custom`` inside an
  exported REPEATABLE READ snapshot, so the row counts below describe exactly the dump);
- ``files/``: the UPLOAD_FOLDER tree (evidence and bias-check uploads, by sha256), without
  half-written temporary files;
- ``manifest.json``, written last: the engine, the migration revision, the sha256 and size of
  every file, the rows per table and the audit chain head at the snapshot.

The database is copied before the files: uploads are content-addressed and only ever added
(or removed once nothing references them), so every file the snapshot references is on disk
when the files are copied; any that is not is named as a warning.

`flask --app wsgi restore PATH` checks every hash first, refuses a target database that holds
any rows, restores the database and the files, and then verifies the row counts and the audit
chain (which must end at the recorded head). It exits 1 on any mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from registry.extensions import db

FORMAT = "ai-oversight-registry-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = "files"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}
CHUNK = 1024 * 1024
# Tables whose sha256 column names a stored upload (policy_versions.sha256 hashes its text).
FILE_TABLES = frozenset({"evidence", "bias_checks"})


class BackupError(click.ClickException):
    """A backup or restore that cannot go on; the message says why."""


@dataclass
class Snapshot:
    tables: dict[str, int]
    audit_head: dict[str, Any]
    referenced: set[str] = field(default_factory=set)
    revision: str | None = None


# ---- helpers ---------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _engine_name() -> str:
    name = db.engine.dialect.name
    if name not in DATABASE_FILES:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _user_tables(conn) -> list[str]:
    return sorted(
        name for name in sa.inspect(conn).get_table_names() if not name.startswith("sqlite_")
    )


def _snapshot(conn) -> Snapshot:
    """Rows per table, the audit chain head, the revision and every referenced sha256."""
    tables = _user_tables(conn)
    counts = {
        table: conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        for table in tables
    }
    head = {"seq": 0, "hash": "0" * 64}
    if "audit_chain_head" in tables:
        row = conn.execute(sa.text("SELECT seq, hash FROM audit_chain_head WHERE id = 1")).first()
        if row is not None:
            head = {"seq": int(row[0]), "hash": str(row[1])}
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    referenced: set[str] = set()
    for table in FILE_TABLES & set(tables):
        referenced.update(
            value
            for (value,) in conn.execute(
                sa.text(f'SELECT DISTINCT sha256 FROM "{table}" WHERE sha256 IS NOT NULL')
            )
        )
    return Snapshot(counts, head, referenced, revision)


def _libpq(url: sa.URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection options, and the environment carrying the password."""
    args = ["--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    sslmode = url.query.get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: " + " / ".join(detail[-5:]))


def _upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _upload_files(root: Path) -> list[Path]:
    """Every stored file under root, without the temporary part files of running uploads."""
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "tmp" not in path.relative_to(root).parts[:-1]
    )


def _copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    partial = target.with_name(target.name + ".part")
    with source.open("rb") as src, partial.open("wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)
    return digest.hexdigest(), size


# ---- backup ----------------------------------------------------------------------------------


def backup(path: Path) -> dict[str, Any]:
    """Write a backup into `path` (created; must be empty if it exists); return the manifest."""
    engine = _engine_name()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} is not an empty directory; choose a new one")
    path.mkdir(parents=True, exist_ok=True)
    database_file = path / DATABASE_FILES[engine]
    db.session.remove()
    if engine == "sqlite":
        snapshot = _backup_sqlite(database_file)
    else:
        snapshot = _backup_postgresql(database_file)

    files: dict[str, dict[str, Any]] = {}
    root = _upload_root()
    for source in _upload_files(root):
        relative = source.relative_to(root).as_posix()
        sha256, size = _copy_hashed(source, path / FILES / relative)
        files[relative] = {"sha256": sha256, "size": size}
    stored = {Path(name).name for name in files}
    missing = sorted(snapshot.referenced - stored)

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "alembic_revision": snapshot.revision,
        "database": {
            "file": database_file.name,
            "sha256": sha256_of(database_file),
            "size": database_file.stat().st_size,
        },
        "tables": snapshot.tables,
        "audit_head": snapshot.audit_head,
        "files": files,
        "missing_files": missing,
    }
    partial = path / (MANIFEST + ".part")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path / MANIFEST)
    return manifest


def _backup_sqlite(target: Path) -> Snapshot:
    source = db.engine.url.database
    if not source or source == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)
    snapshot_engine = sa.create_engine(f"sqlite:///{target}")
    try:
        with snapshot_engine.connect() as conn:
            return _snapshot(conn)
    finally:
        snapshot_engine.dispose()


def _backup_postgresql(target: Path) -> Snapshot:
    pg_dump = _program("pg_dump")
    args, env = _libpq(db.engine.url)
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            exported = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            snapshot = _snapshot(conn)
            # The dump runs in the very snapshot the counts were taken in; the exporting
            # transaction must stay open until pg_dump has started its own.
            _run(
                [pg_dump, "--format=custom", f"--snapshot={exported}", "--file", str(target)]
                + args,
                env,
            )
    return snapshot


# ---- restore ---------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} holds no {MANIFEST}: not a backup, or an incomplete one")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{manifest_path} is not a version {FORMAT_VERSION} registry backup")
    return manifest


def verify_backup(path: Path, manifest: dict[str, Any]) -> list[str]:
    """Every problem with the backup's own files (empty when all hashes match)."""
    problems = []
    database = path / manifest["database"]["file"]
    if not database.is_file():
        problems.append(f"{database.name}: missing")
    elif sha256_of(database) != manifest["database"]["sha256"]:
        problems.append(f"{database.name}: sha256 does not match the manifest")
    for relative, expected in manifest["files"].items():
        stored = path / FILES / relative
        if not stored.is_file():
            problems.append(f"{FILES}/{relative}: missing")
        elif sha256_of(stored) != expected["sha256"]:
            problems.append(f"{FILES}/{relative}: sha256 does not match the manifest")
    return problems


# Rows the migrations themselves create, per table.
SEEDED_BY_MIGRATIONS = {"organizations": 1}


def _rows_in_target() -> dict[str, int]:
    with db.engine.connect() as conn:
        tables = [t for t in _user_tables(conn) if t != "alembic_version"]
        counts = {
            table: conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in tables
        }
    # `db upgrade` itself seeds the root organisation (migration 0019): a database holding
    # only that is as empty as a freshly migrated one, and the restore replaces it.
    return {table: n for table, n in counts.items() if n > SEEDED_BY_MIGRATIONS.get(table, 0)}


def restore(path: Path, echo=click.echo) -> dict[str, Any]:
    """Restore the backup at `path` into this app's (empty) database and upload folder."""
    manifest = read_manifest(path)
    engine = _engine_name()
    if manifest["engine"] != engine:
        raise BackupError(
            f"the backup is of a {manifest['engine']} database; this app uses {engine}"
        )
    problems = verify_backup(path, manifest)
    if problems:
        raise BackupError(
            "the backup is damaged; nothing was restored:\n  " + "\n  ".join(problems)
        )
    echo(f"backup verified: database and {len(manifest['files'])} files match their hashes")

    db.session.remove()
    occupied = _rows_in_target()
    if occupied:
        listed = ", ".join(f"{table}: {n}" for table, n in sorted(occupied.items()))
        raise BackupError(
            f"the target database is not empty ({listed}); restore only into an empty "
            "database (a new one, or one just made by `flask --app wsgi db upgrade`)"
        )
    db.engine.dispose()
    database = path / manifest["database"]["file"]
    if engine == "sqlite":
        _restore_sqlite(database)
    else:
        _restore_postgresql(database)
    echo(f"database restored ({sum(manifest['tables'].values())} rows)")

    root = _upload_root()
    for relative, expected in manifest["files"].items():
        target = root / relative
        if target.is_file() and sha256_of(target) == expected["sha256"]:
            continue
        sha256, _ = _copy_hashed(path / FILES / relative, target)
        if sha256 != expected["sha256"]:
            raise BackupError(f"{relative}: the restored copy does not match its hash")
    echo(f"files restored into {root} ({len(manifest['files'])} files, hashes verified)")

    check_restored(manifest)
    echo(
        f"verified: rows per table match; audit chain intact, head seq "
        f"{manifest['audit_head']['seq']} {manifest['audit_head']['hash']}"
    )
    return manifest


def _restore_sqlite(database: Path) -> None:
    target = db.engine.url.database
    if not target or target == ":memory:":
        raise BackupError("cannot restore into an in-memory SQLite database")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(target)) as live:
        source.backup(live)


def _restore_postgresql(dump: Path) -> None:
    pg_restore = _program("pg_restore")
    args, env = _libpq(db.engine.url)
    db.engine.dispose()
    # --clean: empty tables (say, from `db upgrade`) and an empty public schema are replaced
    # by the backup's own definitions; the target was checked to hold no rows.
    command = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error"]
    command += ["--single-transaction", "--clean", "--if-exists"]
    _run(command + args + [str(dump)], env)


def check_restored(manifest: dict[str, Any]) -> None:
    """Raise BackupError unless the database now matches the manifest and its chain verifies."""
    from registry.audit.service import verify_stored_chain

    db.session.remove()
    db.engine.dispose()
    with db.engine.connect() as conn:
        snapshot = _snapshot(conn)
    if snapshot.tables != manifest["tables"]:
        differences = {
            table: (manifest["tables"].get(table), snapshot.tables.get(table))
            for table in set(manifest["tables"]) | set(snapshot.tables)
            if manifest["tables"].get(table) != snapshot.tables.get(table)
        }
        raise BackupError(f"row counts differ from the backup (expected, found): {differences}")
    result = verify_stored_chain()
    if not result.ok:
        raise BackupError(f"the restored audit chain is broken: {result.reason}")
    head = {"seq": result.head_seq, "hash": result.head_hash}
    if head != manifest["audit_head"]:
        raise BackupError(f"the restored audit chain ends at {head}, not {manifest['audit_head']}")


# ---- commands --------------------------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent backup (database, uploaded files, manifest.json) into PATH."""
    manifest = backup(path)
    rows = sum(manifest["tables"].values())
    click.echo(
        f"backup written to {path}: {manifest['engine']} database ({rows} rows in "
        f"{len(manifest['tables'])} tables), {len(manifest['files'])} files"
    )
    click.echo(
        f"audit chain head: seq {manifest['audit_head']['seq']} {manifest['audit_head']['hash']}"
    )
    for sha256 in manifest["missing_files"]:
        click.echo(f"warning: the database references {sha256}, which is not stored", err=True)


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path, exists=True, file_okay=False))
@with_appcontext
def restore_command(path: Path) -> None:
    """Restore the backup in PATH into an empty database, then verify rows, files and audit chain."""
    restore(path)
