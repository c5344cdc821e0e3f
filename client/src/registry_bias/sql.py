"""One portable ``GROUP BY`` for any SQL database SQLAlchemy reaches, built with SQLAlchemy Core.

The statement is built from Core constructs (``select``, ``case``, ``cast``, ``func.count``,
``func.sum``, ``func.abs``) so that the database's own dialect compiles it: PostgreSQL,
DuckDB, SQLite, MySQL, SQL Server, Oracle, and the warehouses whose SQLAlchemy dialects
(BigQuery, Snowflake, Redshift, Databricks...) are installed. It has two levels:

``cells``
    reads the needed columns from the source (a table, or the team's own ``SELECT`` as a
    subquery), casts regression values to double precision and puts each score in its bin;
``GROUP BY``
    groups ``cells`` by the named columns and counts (and, for regression, sums the moments).

Grouping by plain column names rather than expressions keeps the query valid where bound
parameters in ``GROUP BY`` expressions are not recognised as the same expression.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from registry_bias.aggregate import Aggregate, collect
from registry_bias.spec import FREQUENCY, SCORE_HIGH, SCORE_LOW, CheckSpec

__all__ = [
    "aggregate_sql",
    "aggregate_statement",
    "compile_sql",
    "source_query",
    "source_table",
]

_FETCH_ROWS = 1000


def source_query(sql: str, columns: Iterable[str]) -> sa.Subquery:
    """The team's own ``SELECT`` as a subquery named ``source`` with the columns it must have."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise ValueError("The query is empty.")
    return sa.text(text).columns(*(sa.column(c) for c in columns)).subquery("source")


def source_table(name: str, columns: Iterable[str]) -> sa.TableClause:
    """A table (or view) by name, ``schema.table`` allowed, with the columns it must have."""
    schema, _, table = name.rpartition(".")
    return sa.table(table, *(sa.column(c) for c in columns), schema=schema or None)


def _score_bins(score: sa.ColumnElement[Any], edges: Sequence[float]) -> tuple[Any, Any]:
    """CASE expressions giving each score's bin edges; NULL for a missing score."""
    value: sa.ColumnElement[float] = sa.cast(score, sa.Double())
    inner = list(zip(edges[:-2], edges[1:-1], strict=True))

    def edge(e: float) -> sa.ColumnElement[Any]:
        return sa.literal(float(e), sa.Double())

    low = sa.case(
        (value.is_(None), sa.null()),
        *[(value < edge(high), edge(low)) for low, high in inner],
        else_=edge(edges[-2]),
    )
    high = sa.case(
        (value.is_(None), sa.null()),
        *[(value < edge(high), edge(high)) for _, high in inner],
        else_=edge(edges[-1]),
    )
    return low, high


def aggregate_statement(spec: CheckSpec, source: sa.FromClause) -> sa.Select[Any]:
    """The ``GROUP BY`` statement for ``spec`` over ``source``.

    Parameters
    ----------
    spec : CheckSpec
        The check: its task, columns and score bins.
    source : FromClause
        Where the rows are: :func:`source_table` or :func:`source_query`.

    Returns
    -------
    Select
        Its columns are ``spec.columns``: the cells, ``frequency``, then any moments.
    """
    c = source.c
    picked: list[sa.ColumnElement[Any]] = [c[f].label(f) for f in spec.sensitive_features]
    conditions: list[sa.ColumnElement[bool]] = []
    if spec.task == "regression":
        assert spec.y_true and spec.y_pred
        picked.append(sa.cast(c[spec.y_true], sa.Double()).label(spec.y_true))
        picked.append(sa.cast(c[spec.y_pred], sa.Double()).label(spec.y_pred))
        # A row without both values has no error; the registry would drop it as missing.
        conditions += [c[spec.y_true].is_not(None), c[spec.y_pred].is_not(None)]
    elif spec.task == "outcome_rates":
        picked += [c[o].label(o) for o in spec.outcomes]
    else:
        assert spec.y_true and spec.y_pred
        picked += [c[spec.y_true].label(spec.y_true), c[spec.y_pred].label(spec.y_pred)]
        if spec.binned:
            assert spec.y_score and spec.score_edges
            low, high = _score_bins(c[spec.y_score], spec.score_edges)
            picked += [low.label(SCORE_LOW), high.label(SCORE_HIGH)]
    cells_query = sa.select(*picked).select_from(source)
    if conditions:
        cells_query = cells_query.where(*conditions)
    cells = cells_query.subquery("cells")
    keys = [cells.c[k] for k in spec.key_columns]
    measures: list[sa.ColumnElement[Any]] = [sa.func.count().label(FREQUENCY)]
    if spec.task == "regression":
        pred, true = cells.c[spec.y_pred], cells.c[spec.y_true]  # type: ignore[index]
        error = pred - true
        measures += [
            sa.func.sum(pred).label("sum_pred"),
            sa.func.sum(pred * pred).label("sum_sq_pred"),
            sa.func.sum(true).label("sum_true"),
            sa.func.sum(error).label("sum_error"),
            sa.func.sum(sa.func.abs(error)).label("sum_abs_error"),
            sa.func.sum(error * error).label("sum_sq_error"),
            sa.func.sum(error * error * error * error).label("sum_quad_error"),
        ]
    return sa.select(*keys, *measures).group_by(*keys)


def compile_sql(statement: sa.Select[Any], dialect: sa.Dialect) -> str:
    """The statement as the database sees it, values written in (for ``--dry-run`` and records)."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled).strip()


def aggregate_sql(
    spec: CheckSpec,
    bind: sa.Engine | sa.Connection | str,
    *,
    sql: str | None = None,
    table: str | None = None,
    max_groups: int | None = None,
    max_classes: int | None = None,
    engine_name: str | None = None,
    source_sha256: str | None = None,
) -> Aggregate:
    """Run the ``GROUP BY`` in the database and collect its result.

    Parameters
    ----------
    spec : CheckSpec
        The check.
    bind : Engine, Connection or str
        Where to run it: an engine, an open connection, or a SQLAlchemy database URL.
    sql, table : str
        The rows: the team's own ``SELECT``, or a table or view name (exactly one).
    max_groups, max_classes : int, optional
        The registry's limits; the result is read in batches and refused as soon as it has
        more groups (or classes).
    engine_name : str, optional
        What to record as the engine (default: the dialect's name, e.g. ``postgresql``).
    source_sha256 : str, optional
        A hash of the source to record (the files aggregated, for example).

    Returns
    -------
    Aggregate
        With ``query`` the SQL that ran, values written in.
    """
    if (sql is None) == (table is None):
        raise ValueError("Give either a query or a table name.")
    source = (
        source_query(sql, spec.source_columns)
        if sql is not None
        else source_table(table, spec.source_columns)  # type: ignore[arg-type]
    )
    statement = aggregate_statement(spec, source)
    owned = isinstance(bind, str)
    engine_or_conn = sa.create_engine(bind) if isinstance(bind, str) else bind
    started = time.perf_counter()
    try:
        dialect = engine_or_conn.dialect
        query = compile_sql(statement, dialect)
        if isinstance(engine_or_conn, sa.Connection):
            aggregate = _run(
                engine_or_conn,
                statement,
                spec,
                query,
                max_groups,
                max_classes,
                engine_name,
                source_sha256,
            )
        else:
            with engine_or_conn.connect() as conn:
                aggregate = _run(
                    conn,
                    statement,
                    spec,
                    query,
                    max_groups,
                    max_classes,
                    engine_name,
                    source_sha256,
                )
    finally:
        if owned:
            engine_or_conn.dispose()  # type: ignore[union-attr]
    aggregate.seconds = time.perf_counter() - started
    return aggregate


def _run(
    conn: sa.Connection,
    statement: sa.Select[Any],
    spec: CheckSpec,
    query: str,
    max_groups: int | None,
    max_classes: int | None,
    engine_name: str | None,
    source_sha256: str | None,
) -> Aggregate:
    if engine_name is None:
        version = conn.dialect.server_version_info
        engine_name = conn.dialect.name
        if version:
            engine_name += " " + ".".join(str(part) for part in version)
    options: dict[str, Any] = {}
    if conn.dialect.supports_server_side_cursors:
        # A result too large for the registry is refused after a few batches, not held whole.
        options = {"stream_results": True, "max_row_buffer": _FETCH_ROWS}
    result = conn.execution_options(**options).execute(statement)
    try:
        return collect(
            spec,
            _batches(result),
            engine=engine_name,
            query=query,
            source_sha256=source_sha256,
            max_groups=max_groups,
            max_classes=max_classes,
        )
    finally:
        result.close()


def _batches(result: sa.CursorResult[Any]) -> Iterable[Sequence[Any]]:
    while True:
        rows = result.fetchmany(_FETCH_ROWS)
        if not rows:
            return
        yield from rows
