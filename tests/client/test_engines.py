"""Every engine's aggregate equals a pandas groupby of the raw rows, for every task.

The engines are real: pandas, Polars, DuckDB over Parquet and CSV files, SQLite and DuckDB
databases through SQLAlchemy, the PostgreSQL server the suite uses, and Spark in local mode.
For the count-only tasks the aggregate file is byte for byte the same whichever engine made
it, so its sha256 is too.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from registry_bias import aggregate_files, aggregate_pandas, aggregate_polars, aggregate_sql
from registry_bias.spark import aggregate_spark

from tests.client.data import SPECS, assert_matches, expected, records

SPARK_SCHEMA = (
    "race string, sex string, y_true long, y_pred double, score double, level_true string, "
    "level_pred string, approved long, flagged long, amount double, estimate double"
)
COUNT_ONLY = [name for name, spec in SPECS.items() if spec.task != "regression"]


@pytest.fixture(scope="module")
def parquet_dir(raw, tmp_path_factory):
    """The rows split over three Parquet files in nested folders."""
    root = tmp_path_factory.mktemp("parquet")
    third = len(raw) // 3
    for i, part in enumerate((raw[:third], raw[third : 2 * third], raw[2 * third :])):
        folder = root / f"part={i}"
        folder.mkdir()
        part.to_parquet(folder / "rows.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def csv_file(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    raw.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def sqlite_url(raw, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'rows.sqlite3'}"
    engine = sa.create_engine(url)
    raw.to_sql("decisions", engine, index=False)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def duckdb_url(parquet_dir, tmp_path_factory):
    url = f"duckdb:///{tmp_path_factory.mktemp('duckdb') / 'rows.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE decisions AS SELECT * FROM read_parquet('{parquet_dir}/**/*.parquet')"
            )
        )
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def spark_frame(spark, raw):
    return spark.createDataFrame(records(raw), SPARK_SCHEMA)


def run(engine, spec, request):
    """Aggregate with one engine."""
    raw = request.getfixturevalue("raw")
    if engine == "pandas":
        return aggregate_pandas(spec, raw)
    if engine == "polars":
        import polars as pl

        return aggregate_polars(spec, pl.from_pandas(raw))
    if engine == "polars-lazy":
        import polars as pl

        return aggregate_polars(spec, pl.from_pandas(raw).lazy())
    if engine == "duckdb-parquet":
        return aggregate_files(spec, request.getfixturevalue("parquet_dir"))
    if engine == "duckdb-csv":
        return aggregate_files(spec, request.getfixturevalue("csv_file"))
    if engine == "sqlite":
        return aggregate_sql(spec, request.getfixturevalue("sqlite_url"), table="decisions")
    if engine == "duckdb-sql":
        return aggregate_sql(
            spec, request.getfixturevalue("duckdb_url"), sql="SELECT * FROM decisions;"
        )
    if engine == "postgresql":
        pg_engine, table = request.getfixturevalue("pg_source")
        return aggregate_sql(spec, pg_engine, table=table)
    if engine == "postgresql-query":
        pg_engine, table = request.getfixturevalue("pg_source")
        return aggregate_sql(spec, pg_engine, sql=f"select * from {table} where true")
    if engine == "spark":
        return aggregate_spark(spec, request.getfixturevalue("spark_frame"))
    raise AssertionError(engine)


ENGINES = [
    "pandas",
    "polars",
    "polars-lazy",
    "duckdb-parquet",
    "duckdb-csv",
    "sqlite",
    "duckdb-sql",
    "postgresql",
    "postgresql-query",
    "spark",
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("check", list(SPECS))
def test_engine_aggregate_equals_pandas_groupby_of_raw_rows(engine, check, raw, request):
    spec = SPECS[check]
    aggregate = run(engine, spec, request)
    assert_matches(aggregate, expected(spec, raw))
    assert aggregate.total_rows == sum(v[0] for v in expected(spec, raw).values())
    assert aggregate.engine.split()[0] in engine.replace("-", " ") + " sqlite postgresql duckdb"


@pytest.mark.parametrize("check", COUNT_ONLY)
def test_count_aggregates_are_the_same_bytes_from_every_engine(check, request):
    spec = SPECS[check]
    digests = {engine: run(engine, spec, request).sha256 for engine in ENGINES}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("engine", ["duckdb-parquet", "postgresql", "spark", "pandas"])
def test_the_same_query_at_the_same_data_gives_the_same_sha256(engine, request):
    for spec in SPECS.values():
        first, second = run(engine, spec, request), run(engine, spec, request)
        assert first.to_csv() == second.to_csv()
        assert first.query == second.query


def test_postgresql_runs_one_group_by_and_records_it(pg_source):
    engine, table = pg_source
    aggregate = aggregate_sql(SPECS["binary_scores"], engine, table=table)
    assert aggregate.engine.startswith("postgresql ")
    assert aggregate.query.count("GROUP BY") == 1
    assert f"FROM {table}" in aggregate.query
    assert "CASE WHEN" in aggregate.query and "y_score_low" in aggregate.query


def test_file_aggregate_records_the_files_sha256(parquet_dir, csv_file):
    import hashlib

    from registry_bias.files import files_sha256, list_files

    single = aggregate_files(SPECS["binary"], csv_file)
    assert single.source_sha256 == hashlib.sha256(csv_file.read_bytes()).hexdigest()
    folder = aggregate_files(SPECS["binary"], parquet_dir)
    assert folder.source_sha256 == files_sha256(list_files(parquet_dir))
    assert len(list_files(parquet_dir)) == 3
