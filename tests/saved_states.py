"""One app for a whole test module, whose tests each start from a saved database state.

A module with hundreds of cases over the same records (the permission matrix) would otherwise
build an app and those records for every case: most of its time. Here the records are built
once, saved, and put back before each case, with the uploads folder beside them:

- SQLite: the database file is copied (the saved copy is taken with SQLite's backup API, so a
  write-ahead log is included);
- PostgreSQL: every table is emptied and refilled from a binary COPY taken when the state was
  saved, and each sequence is set back to where it was, in one transaction.

Whatever the app keeps in memory and builds lazily (the login throttle's and the concern
guard's fallback counters) is dropped too, so nothing one case does is seen by the next.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask


class SavedStates:
    def __init__(self, app: Flask, root: Path, engine: str) -> None:
        self.app = app
        self.root = root
        self.engine = engine
        self.data: dict[str, Any] = {}
        self.uploads = Path(app.config["UPLOAD_FOLDER"])
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.extensions = set(app.extensions)
        self.tables: list[str] = []
        self.saved: dict[str, Any] = {}
        if engine == "postgresql":
            with app.app_context():
                from registry.extensions import db

                with db.engine.connect() as conn:
                    self.tables = [
                        row[0]
                        for row in conn.execute(
                            sa.text(
                                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                "AND tablename <> 'alembic_version' ORDER BY tablename"
                            )
                        )
                    ]
        self.save("empty")

    # -- what each case calls ------------------------------------------------------------------

    def state(self, name: str, build: Callable[[], Any], *, on: str | None = None) -> Any:
        """Put back the state saved as `name`, or build it and save it.

        A state is built on the empty database, or, with `on`, on that state, which the caller
        has just put back (a fixture building on another fixture's records). `build` runs
        inside an app context and returns plain data (ids, emails, tokens): ORM objects would
        not outlive the session that loaded them.
        """
        if name in self.saved:
            self.restore(name)
            return self.data[name]
        if on is None:
            self.reset()
        data = build()
        from registry.extensions import db

        db.session.commit()
        self.data[name] = data
        self.save(name)
        return data

    def reset(self) -> None:
        self.restore("empty")

    # -- saving and restoring ------------------------------------------------------------------

    def _quiet(self) -> None:
        """Wait for background work, close every connection and forget in-memory counters."""
        from assessments import job_heartbeat, jobs

        jobs.drain()
        job_heartbeat.wait_idle()
        with self.app.app_context():
            from registry.extensions import db

            db.session.remove()
            db.engine.dispose()
        for key in set(self.app.extensions) - self.extensions:
            del self.app.extensions[key]

    def close(self) -> None:
        self._quiet()

    def save(self, name: str) -> None:
        self._quiet()
        uploads = self.root / f"{name}-uploads"
        shutil.rmtree(uploads, ignore_errors=True)
        shutil.copytree(self.uploads, uploads)
        if self.engine == "sqlite":
            target = self.root / f"{name}.sqlite3"
            source = sqlite3.connect(self._sqlite_path())
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
            self.saved[name] = target
            return
        tables: dict[str, bytes] = {}
        with self._pg_connection() as conn, conn.cursor() as cursor:
            for table in self.tables:
                with cursor.copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                    tables[table] = b"".join(bytes(block) for block in copy)
            cursor.execute(
                "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public'"
            )
            sequences = cursor.fetchall()
        self.saved[name] = (tables, sequences)

    def restore(self, name: str) -> None:
        self._quiet()
        shutil.rmtree(self.uploads, ignore_errors=True)
        shutil.copytree(self.root / f"{name}-uploads", self.uploads)
        if self.engine == "sqlite":
            path = self._sqlite_path()
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.saved[name], path)
            return
        tables, sequences = self.saved[name]
        with self._pg_connection() as conn, conn.cursor() as cursor:
            # Foreign keys are not checked while the rows go, and come back, table by table in
            # any order (they held when the state was saved). DELETE, not TRUNCATE: on tables
            # this small it is several times faster, and it all commits once.
            cursor.execute("SET LOCAL session_replication_role = replica")
            for table, rows in tables.items():
                cursor.execute(f'DELETE FROM "{table}"')
                with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy:
                    copy.write(rows)
            for sequence, value in sequences:
                if value is None:  # never used: its next value is its first
                    cursor.execute(f"ALTER SEQUENCE {sequence} RESTART")
                else:
                    cursor.execute("SELECT setval(%s, %s)", (sequence, value))

    # -- engines -------------------------------------------------------------------------------

    def _sqlite_path(self) -> Path:
        url = sa.engine.make_url(self.app.config["SQLALCHEMY_DATABASE_URI"])
        return Path(url.database)

    def _pg_connection(self):
        import psycopg

        url = sa.engine.make_url(self.app.config["SQLALCHEMY_DATABASE_URI"])
        return psycopg.connect(url.set(drivername="postgresql").render_as_string(False))
