"""Fixtures for the client: the raw rows, and real engines to aggregate them in.

PostgreSQL is the server at ``TEST_DATABASE_URL`` (a schema of our own, created and dropped
here); Spark runs in local mode on the machine's Java. Outside CI a missing one is skipped
with the reason; with CI=true it fails (``service_missing``).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import sqlalchemy as sa

from tests.client.data import raw_rows
from tests.conftest import pg_url, service_missing


@pytest.fixture(scope="session")
def raw():
    return raw_rows()


@pytest.fixture(scope="session")
def pg_source(raw):
    """The raw rows in a table of a fresh PostgreSQL schema: (engine, "schema.table")."""
    engine = sa.create_engine(pg_url())
    schema = f"registry_bias_client_{uuid.uuid4().hex[:10]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        engine.dispose()
        service_missing("PostgreSQL", str(error).splitlines()[0])
    try:
        raw.to_sql("decisions", engine, schema=schema, index=False, chunksize=1000)
        yield engine, f"{schema}.decisions"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def spark():
    """A local-mode SparkSession (one core, no UI), stopped at the end of the session."""
    java = shutil.which("java") or (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java")
        if os.environ.get("JAVA_HOME")
        else None
    )
    if not java or not os.path.exists(java):
        service_missing("Spark (Java runtime)", "no java on PATH or JAVA_HOME")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("registry-bias-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
