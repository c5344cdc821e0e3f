"""The command line without a registry: dry runs, aggregating to a file, refusals, exit codes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from registry_bias.cli import main

CLIENT_SRC = Path(__file__).resolve().parents[2] / "client" / "src" / "registry_bias"
SERVER_PACKAGES = {"registry", "assessments", "policies", "reports", "wsgi", "tests"}


@pytest.fixture(scope="module")
def parquet_file(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "decisions.parquet"
    raw.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def sqlite_url(raw, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-sqlite') / 'rows.sqlite3'}"
    engine = sa.create_engine(url)
    raw.to_sql("decisions", engine, index=False)
    engine.dispose()
    return url


CHECK = ["-s", "race,sex", "--y-true", "y_true", "--y-pred", "y_pred"]


def test_dry_run_prints_the_one_group_by_and_runs_nothing(capsys):
    code = main(
        ["submit", "--sql", "select * from no_such_table", "--db", "sqlite://", *CHECK, "--dry-run"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("GROUP BY") == 1
    assert "FROM (select * from no_such_table) AS source" in out
    assert "count(*) AS frequency" in out


def test_dry_run_for_files_prints_duckdbs_query(parquet_file, capsys):
    code = main(["submit", "--file", str(parquet_file), *CHECK, "--y-score", "score", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"read_parquet(['{parquet_file}']" in out
    assert "y_score_low" in out and "GROUP BY" in out


def test_no_submit_writes_the_aggregate_and_repeats_its_sha256(parquet_file, tmp_path, capsys):
    outputs = []
    for i in range(2):
        target = tmp_path / f"aggregate{i}.csv"
        assert (
            main(
                [
                    "submit",
                    "--file",
                    str(parquet_file),
                    *CHECK,
                    "--no-submit",
                    "--output",
                    str(target),
                ]
            )
            == 0
        )
        outputs.append(target.read_bytes())
    out = capsys.readouterr().out
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(b"race,sex,y_true,y_pred,frequency\n")
    assert "Aggregated 3,000 rows into" in out
    assert out.count("sha256") == 2


def test_sql_and_table_sources_give_the_file_that_duckdb_gives(parquet_file, sqlite_url, tmp_path):
    from_files, from_table, from_sql = (tmp_path / n for n in ("f.csv", "t.csv", "s.csv"))
    assert (
        main(
            [
                "submit",
                "--file",
                str(parquet_file),
                *CHECK,
                "--no-submit",
                "--output",
                str(from_files),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "submit",
                "--table",
                "decisions",
                "--db",
                sqlite_url,
                *CHECK,
                "--no-submit",
                "--output",
                str(from_table),
            ]
        )
        == 0
    )
    sql_file = tmp_path / "query.sql"
    sql_file.write_text("SELECT * FROM decisions WHERE 1 = 1;\n")
    assert (
        main(
            [
                "submit",
                "--sql-file",
                str(sql_file),
                "--db",
                sqlite_url,
                *CHECK,
                "--no-submit",
                "--output",
                str(from_sql),
            ]
        )
        == 0
    )
    assert from_files.read_bytes() == from_table.read_bytes() == from_sql.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "decisions", *CHECK, "--no-submit"], "--db"),
        (
            [
                "--file",
                "{parquet}",
                "-s",
                "race",
                "--y-true",
                "nope",
                "--y-pred",
                "y_pred",
                "--no-submit",
            ],
            "nope",
        ),
        (["--file", "{parquet}", *CHECK], "--url, --token, --pilot"),
        (["--file", "{parquet}", "-s", "race", "--y-true", "y_true", "--no-submit"], "y_pred"),
        (["--file", "/no/such/file.parquet", *CHECK, "--no-submit"], "no file or folder"),
        (
            ["--table", "decisions", "--db", "nosuchdriver://x", *CHECK, "--no-submit"],
            "database URL",
        ),
    ],
)
def test_refused_input_exits_2_and_says_why(args, message, parquet_file, capsys):
    args = [a.replace("{parquet}", str(parquet_file)) for a in args]
    assert main(["submit", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_registry_exits_3(parquet_file, capsys):
    code = main(
        [
            "submit",
            "--file",
            str(parquet_file),
            *CHECK,
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "--pilot",
            "1",
        ]
    )
    assert code == 3
    assert "could not be reached" in capsys.readouterr().err


def test_the_console_script_is_installed():
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "registry-bias"), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("registry-bias ")


def test_the_client_imports_nothing_from_the_server():
    for path in CLIENT_SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in SERVER_PACKAGES, f"{path.name} imports {name}"


def test_importing_the_client_loads_no_engine_and_no_server_package():
    code = (
        "import sys, registry_bias, registry_bias.cli\n"
        "heavy = {'pandas', 'polars', 'sqlalchemy', 'duckdb', 'pyspark'}\n"
        "server = {'registry', 'assessments', 'policies', 'reports'}\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & (heavy | server)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert result.stdout.strip() == "[]"
