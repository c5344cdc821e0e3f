"""``registry-bias``: aggregate where the data lives, submit, print the verdict, gate CI on it.

Exit status: 0 when the check's verdict is better than ``--fail-on`` (default ``fail``);
1 when it is that bad or worse; 2 when the input or the request was refused (a bad column, too
many groups, a 4xx from the registry); 3 when the registry could not be reached, the check
itself failed to run, or it did not finish within ``--wait`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from registry_bias import __version__
from registry_bias.aggregate import Aggregate, AggregateError
from registry_bias.api import RegistryClient, RegistryError
from registry_bias.spec import TASKS, CheckSpec, SpecError

EXIT_OK, EXIT_VERDICT, EXIT_INPUT, EXIT_REGISTRY = 0, 1, 2, 3
#: Verdicts from worst to best, as the registry orders them.
VERDICT_ORDER = ("fail", "inconclusive", "insufficient_data", "pass")


class _Refused(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry-bias",
        description="Check a model for bias without sending its data: aggregate the rows "
        "where they are and send only counts per group to the AI Oversight Registry.",
    )
    parser.add_argument("--version", action="version", version=f"registry-bias {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser(
        "submit",
        help="aggregate and submit a bias check",
        description="Aggregate the data, submit the aggregate as a bias check of a pilot, "
        "wait for the verdict and exit non-zero when it fails.",
    )
    source = submit.add_argument_group("where the rows are (choose one)")
    exclusive = source.add_mutually_exclusive_group(required=True)
    exclusive.add_argument("--sql", help="a SELECT that returns the rows (run with --db)")
    exclusive.add_argument("--sql-file", type=Path, help="a file holding that SELECT")
    exclusive.add_argument("--table", help="a table or view, schema.table allowed (with --db)")
    exclusive.add_argument(
        "--file", type=Path, action="append", help="a CSV or Parquet file (repeatable)"
    )
    exclusive.add_argument("--parquet-dir", type=Path, help="a folder of Parquet files")
    exclusive.add_argument("--csv-dir", type=Path, help="a folder of CSV files")
    source.add_argument(
        "--db",
        default=os.environ.get("REGISTRY_BIAS_DB"),
        help="SQLAlchemy database URL for --sql/--table (default: $REGISTRY_BIAS_DB)",
    )
    source.add_argument("--threads", type=int, help="DuckDB threads for files")
    source.add_argument("--memory-limit", help="DuckDB memory limit for files, e.g. 1GB")

    check = submit.add_argument_group("the check")
    check.add_argument(
        "--task",
        default="binary_classification",
        choices=[*TASKS, "binary", "multiclass"],
        help="default: binary_classification",
    )
    check.add_argument(
        "--sensitive-features",
        "-s",
        action="append",
        required=True,
        help="sensitive feature columns (repeat, or separate with commas; 1 to 3)",
    )
    check.add_argument("--y-true", help="the column of true outcomes")
    check.add_argument("--y-pred", help="the column of predictions")
    check.add_argument("--outcomes", action="append", help="outcome columns (outcome_rates)")
    check.add_argument("--y-score", help="a score column to bin (binary classification)")
    check.add_argument("--score-bins", type=int, help="equal-width bins over [0, 1] (default 10)")
    check.add_argument("--score-edges", help="bin edges instead, e.g. 0,0.2,0.5,0.8,1")
    check.add_argument("--positive-label", help="the positive label (the registry's default: 1)")
    check.add_argument("--name", help="a name for the check")

    registry = submit.add_argument_group("the registry")
    registry.add_argument(
        "--url",
        default=os.environ.get("REGISTRY_URL"),
        help="the registry's URL (default: $REGISTRY_URL)",
    )
    registry.add_argument(
        "--token",
        default=os.environ.get("REGISTRY_TOKEN"),
        help="an API token with write access (default: $REGISTRY_TOKEN)",
    )
    registry.add_argument("--pilot", type=int, help="the pilot's number")
    registry.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for a queued check (default 600)"
    )
    registry.add_argument(
        "--fail-on",
        choices=VERDICT_ORDER[:3],
        default="fail",
        help="exit 1 on this verdict or a worse one (default: fail)",
    )

    run = submit.add_argument_group("what to do")
    run.add_argument(
        "--dry-run", action="store_true", help="print the query that would run, and stop"
    )
    run.add_argument(
        "--no-submit", action="store_true", help="aggregate (and --output) without submitting"
    )
    run.add_argument("--output", type=Path, help="also write the aggregate file here")
    return parser


def _spec(args: argparse.Namespace) -> CheckSpec:
    edges = None
    if args.score_edges:
        try:
            edges = [float(e) for e in args.score_edges.split(",") if e.strip()]
        except ValueError as exc:
            raise SpecError(
                "score_edges", "Score bin edges must be numbers separated by commas."
            ) from exc
    return CheckSpec(
        args.sensitive_features,
        task=args.task,
        y_true=args.y_true,
        y_pred=args.y_pred,
        outcomes=args.outcomes,
        y_score=args.y_score,
        score_bins=args.score_bins,
        score_edges=edges,
        positive_label=args.positive_label,
        name=args.name,
    )


def _sql_text(args: argparse.Namespace) -> str | None:
    if args.sql_file:
        return args.sql_file.read_text(encoding="utf-8")
    return args.sql


def _dry_run(args: argparse.Namespace, spec: CheckSpec) -> str:
    import sqlalchemy as sa

    from registry_bias.sql import aggregate_statement, compile_sql, source_query, source_table

    if args.sql or args.sql_file or args.table:
        if not args.db:
            raise _Refused("Give the database with --db (a SQLAlchemy URL).", EXIT_INPUT)
        dialect = sa.create_engine(args.db).dialect  # builds no connection
        source = (
            source_table(args.table, spec.source_columns)
            if args.table
            else source_query(_sql_text(args) or "", spec.source_columns)
        )
    else:
        from registry_bias.files import _format, list_files, source_sql

        files = list_files(_paths(args))
        dialect = sa.create_engine("duckdb:///:memory:").dialect
        source = source_query(source_sql(files, _format(files)), spec.source_columns)
    return compile_sql(aggregate_statement(spec, source), dialect)


def _paths(args: argparse.Namespace) -> list[Path]:
    return list(args.file or []) or [args.parquet_dir or args.csv_dir]


def _aggregate(args: argparse.Namespace, spec: CheckSpec, limits: dict[str, int]) -> Aggregate:
    import sqlalchemy as sa

    try:
        return _run_engine(args, spec, limits)
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise _Refused(f"The database refused the query: {reason}", EXIT_INPUT) from exc
    except sa.exc.ArgumentError as exc:
        raise _Refused(f"The database URL is not usable: {exc}", EXIT_INPUT) from exc


def _run_engine(args: argparse.Namespace, spec: CheckSpec, limits: dict[str, int]) -> Aggregate:
    max_groups, max_classes = limits.get("max_groups"), limits.get("max_classes")
    if args.sql or args.sql_file or args.table:
        if not args.db:
            raise _Refused("Give the database with --db (a SQLAlchemy URL).", EXIT_INPUT)
        from registry_bias.sql import aggregate_sql

        return aggregate_sql(
            spec,
            args.db,
            sql=_sql_text(args),
            table=args.table,
            max_groups=max_groups,
            max_classes=max_classes,
        )
    from registry_bias.files import aggregate_files

    return aggregate_files(
        spec,
        _paths(args),
        threads=args.threads,
        memory_limit=args.memory_limit,
        max_groups=max_groups,
        max_classes=max_classes,
    )


def _say(text: str) -> None:
    print(text, flush=True)


def _print_check(check: dict[str, Any]) -> None:
    verdict = check.get("verdict") or "none"
    policy = check.get("policy_version")
    _say(f"Verdict: {verdict}" + (f" (policy {policy})" if policy else ""))
    for finding in check.get("findings") or []:
        _say(f"  - {finding.get('verdict')}: {finding.get('text')}")
    if check.get("input_sha256"):
        _say(f"Registry's sha256 of the aggregate: {check['input_sha256']}")


def _submit(args: argparse.Namespace) -> int:
    spec = _spec(args)
    if args.dry_run:
        _say(_dry_run(args, spec))
        return EXIT_OK
    client = None
    limits: dict[str, int] = {}
    if not args.no_submit:
        missing = [name for name in ("url", "token", "pilot") if not getattr(args, name)]
        if missing:
            raise _Refused(
                "Give " + ", ".join(f"--{m}" for m in missing) + " to submit "
                "(or --no-submit to aggregate only).",
                EXIT_INPUT,
            )
        client = RegistryClient(args.url, args.token)
        limits = client.limits()
        _say(
            f"Registry at {client.url}: at most {limits.get('max_groups', '?'):,} groups"
            + (f", {limits['max_classes']:,} classes" if "max_classes" in limits else "")
        )
    _say(f"Aggregating {', '.join(spec.key_columns)} ...")
    aggregate = _aggregate(args, spec, limits)
    _say(
        f"Aggregated {aggregate.total_rows:,} rows into {len(aggregate.cells):,} cells "
        f"({aggregate.n_groups:,} groups) with {aggregate.engine} in {aggregate.seconds:.2f} s"
    )
    for note in aggregate.notes:
        _say(f"  {note}")
    body = aggregate.to_csv()
    _say(f"Aggregate: {len(body):,} bytes, sha256 {aggregate.sha256}")
    if args.output:
        args.output.write_bytes(body)
        _say(f"Wrote {args.output}")
    if client is None:
        return EXIT_OK
    max_bytes = limits.get("max_upload_bytes")
    if max_bytes and len(body) > max_bytes:
        raise _Refused(
            f"The aggregate is {len(body):,} bytes; the registry accepts at most {max_bytes:,}.",
            EXIT_INPUT,
        )
    check, _ = client.submit(args.pilot, aggregate)
    _say(f"Submitted bias check {check.get('id')} of pilot {args.pilot}: {check.get('status')}")
    if check.get("status") not in ("succeeded", "failed"):
        check = client.wait(
            check, timeout=args.wait, progress=lambda c: _say(f"  {c.get('status')}")
        )
    if check.get("status") == "failed":
        raise _Refused(f"The check could not be run: {check.get('error')}", EXIT_REGISTRY)
    _print_check(check)
    verdict = check.get("verdict")
    if verdict in VERDICT_ORDER and VERDICT_ORDER.index(verdict) <= VERDICT_ORDER.index(
        args.fail_on
    ):
        return EXIT_VERDICT
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _submit(args)
    except SpecError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return EXIT_INPUT
    except AggregateError as exc:
        where = f"{exc.column}: " if exc.column else ""
        print(f"error: {where}{exc.message}", file=sys.stderr)
        return EXIT_INPUT
    except RegistryError as exc:
        status = f" (HTTP {exc.status})" if exc.status else ""
        print(f"error: {exc.message}{status}", file=sys.stderr)
        for key, value in (exc.errors or {}).items():
            print(f"  {key}: {value}", file=sys.stderr)
        unreachable = exc.status is None or exc.status >= 500
        return EXIT_REGISTRY if unreachable else EXIT_INPUT
    except _Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except ImportError as exc:
        print(
            f"error: {exc.name or exc} is not installed; install the extra it belongs to, "
            "e.g. pip install 'registry-bias[duckdb]' or 'registry-bias[sql]'.",
            file=sys.stderr,
        )
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
