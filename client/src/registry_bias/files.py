"""CSV and Parquet files or folders, aggregated by DuckDB without loading them into memory.

DuckDB scans the files in parallel and streams them through the same portable ``GROUP BY``
as any SQL database (:mod:`registry_bias.sql`); only the aggregate comes back to Python. CSV
columns are read as text, as the registry reads an uploaded CSV, so ``01`` stays ``01``. The
files' sha256 is computed alongside and recorded with the check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry_bias.aggregate import Aggregate, AggregateError
from registry_bias.spec import CheckSpec

__all__ = ["aggregate_files", "files_sha256", "list_files"]

_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".txt": "csv"}
_HASH_BLOCK = 1 << 20


def list_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The data files named, folders expanded to every CSV or Parquet file under them, sorted."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise AggregateError(f"There is no file or folder at {path}.")
    if not found:
        raise AggregateError("No CSV or Parquet files were found there.")
    return found


def _format(files: list[Path]) -> str:
    kinds = set()
    for path in files:
        with path.open("rb") as fh:
            head = fh.read(4)
        kinds.add("parquet" if head == b"PAR1" else _SUFFIXES.get(path.suffix.lower(), "csv"))
    if len(kinds) > 1:
        raise AggregateError("The files mix CSV and Parquet; aggregate one format at a time.")
    return kinds.pop()


def files_sha256(files: Sequence[Path]) -> str:
    """sha256 of one file's bytes; of several, of their ``sha256  path`` lines (sorted paths)."""
    digests = []
    for path in files:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                h.update(block)
        digests.append((path, h.hexdigest()))
    if len(digests) == 1:
        return digests[0][1]
    root = Path(os.path.commonpath([p.resolve().parent for p, _ in digests]))
    lines = sorted(f"{d}  {p.resolve().relative_to(root).as_posix()}\n" for p, d in digests)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_sql(files: Sequence[Path], kind: str) -> str:
    """The DuckDB ``SELECT`` that reads the files."""
    listing = "[" + ", ".join(_literal(str(p)) for p in files) + "]"
    if kind == "parquet":
        return f"SELECT * FROM read_parquet({listing}, union_by_name = true)"
    return (
        f"SELECT * FROM read_csv({listing}, header = true, all_varchar = true, "
        "union_by_name = true)"
    )


def aggregate_files(
    spec: CheckSpec,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    max_groups: int | None = None,
    max_classes: int | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    hash_files: bool = True,
) -> Aggregate:
    """Aggregate CSV or Parquet files (or folders of them) with DuckDB.

    Parameters
    ----------
    spec : CheckSpec
        The check.
    paths : path or paths
        Files, or folders searched recursively for ``.csv`` and ``.parquet`` files.
    max_groups, max_classes : int, optional
        The registry's limits (see :func:`registry_bias.aggregate.collect`).
    threads, memory_limit : optional
        DuckDB's ``threads`` and ``memory_limit`` settings (default: DuckDB's own).
    hash_files : bool
        Record the files' sha256 (read once more, in a thread beside DuckDB's scan).

    Returns
    -------
    Aggregate
        ``engine`` is ``duckdb <version>``; ``query`` the SQL DuckDB ran.
    """
    import duckdb
    import sqlalchemy as sa

    from registry_bias.sql import aggregate_sql

    files = list_files(paths)
    kind = _format(files)
    config: dict[str, object] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    engine = sa.create_engine("duckdb:///:memory:", connect_args={"config": config})

    @sa.event.listens_for(engine, "connect")
    def _quiet(dbapi_connection: object, _record: object) -> None:
        # A library prints nothing of its own: no progress bar on long scans.
        dbapi_connection.execute("SET enable_progress_bar = false")  # type: ignore[attr-defined]

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            digest = pool.submit(files_sha256, files) if hash_files else None
            aggregate = aggregate_sql(
                spec,
                engine,
                sql=source_sql(files, kind),
                max_groups=max_groups,
                max_classes=max_classes,
                engine_name=f"duckdb {duckdb.__version__}",
            )
            if digest is not None:
                aggregate.source_sha256 = digest.result()
    finally:
        engine.dispose()
    aggregate.notes.append(f"read {len(files)} {kind} file{'s' if len(files) != 1 else ''}")
    return aggregate
