"""Benchmark the bias check end to end: parse + validate + metrics + bootstrap CIs + verdict.

Usage::

    python benchmarks/bias_check.py            # 100k, 1M and 10M rows, CSV and Parquet
    python benchmarks/bias_check.py --quick    # 100k rows only
    python benchmarks/bias_check.py --arrow-pool pyarrow  # workers on pyarrow's own allocator
    python benchmarks/bias_check.py --score    # also a continuous y_score (AUC, calibration)

Synthetic data (binary labels; race with 5 values x sex with 2, plus an int64 id column that
is not read) is written to a temporary directory. Each case runs in a fresh subprocess so that
its peak memory (the RSS high-water mark, ``VmHWM``, which counts every resident page: heap,
Arrow buffers and the shared-library code first touched by the work) is its own. Memory is
reported three ways, each as a multiple of the file size:

``peak/file``
    the whole process's peak: the interpreter, numpy, pandas and pyarrow alone take about
    120 MB before any work, which dominates at small sizes;
``work/file``
    the peak above the process's RSS after its imports, in a fresh process: **the memory goal
    is judged on this figure**;
``warm/file``
    the same in a process that has already run one 1,000-row check of the same format and had
    its high-water mark reset (``/proc/self/clear_refs``): what one more check costs a
    long-running worker, without the one-time costs (library code paged in, allocator arenas).
    For information only.

fairlearn's ``MetricFrame`` on the raw rows (7 metrics on [race, sex], plus difference() and
ratio(); data already in memory, no intervals) is timed at 100k and 1M rows for comparison
(not with ``--score``, where our check also computes ROC AUC and calibration).
The machine's load average is printed before and after: timings on a shared machine are noisy.

Goals: 1M rows <= 1 s end to end; 10M rows <= 6 s; memory of the work (``work/file``) <= 3x
the file size at 1M and 10M rows; >= 100x faster than MetricFrame on raw rows.

The other kinds of check and aggregated input (``--kinds``)::

    python benchmarks/bias_check.py --kinds            # all of the below
    python benchmarks/bias_check.py --kinds --no-fairlearn

* multiclass, 12 classes x 10 groups, 1M rows (Parquet), and regression, 1M rows (Parquet):
  read + validate + metrics + 1,000-resample intervals + verdict, each in a fresh process
  (goal <= 2 s each);
* the same kinds on 100k rows against fairlearn's MetricFrame with ``n_boot=100``
  (``ci_quantiles`` 2.5 % / 97.5 %) on the rows, data in memory (goal >= 20x faster);
* a check from aggregates (a binary check with 10 groups: 40 cells with a frequency column)
  standing for 1M and for 1 billion rows, with 1,000 resamples: the server's time from the file
  to the verdict (goal <= 0.1 s, the same whatever the row count).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RACES = ["African-American", "Asian", "Caucasian", "Hispanic", "Other"]
RACE_P = [0.35, 0.05, 0.4, 0.15, 0.05]
SEXES = ["Female", "Male"]
COLUMNS = ["race", "sex", "y_true", "y_pred"]
THRESHOLDS = [
    {"metric": "false_positive_rate", "ratio_min": 0.8},
    {"metric": "selection_rate", "difference_max": 0.1},
    {"metric": "equalized_odds", "ratio_min": 0.8},
]
FAIRLEARN_MAX_ROWS = 1_000_000
CASE_TIMEOUT = 600
WARM_ROWS = 1_000
MEMORY_GOAL = 3.0


def _rss_now() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_rss() -> int:
    """This process's RSS high-water mark (VmHWM: reset at exec, unlike ru_maxrss, which a
    forked child inherits from its parent)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def generate(n_rows: int, directory: Path, seed: int = 1, score: bool = False) -> dict[str, Path]:
    """Write n_rows synthetic rows as CSV and Parquet; return the paths.

    With ``score``, add a column ``score`` of continuous scores in [0, 1] (float64, every
    value distinct in practice: the exact AUC then sorts rather than counts).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    race = rng.choice(len(RACES), size=n_rows, p=RACE_P).astype(np.int32)
    sex = rng.integers(0, 2, size=n_rows, dtype=np.int32)
    base = np.array([0.45, 0.3, 0.38, 0.35, 0.3])[race] + 0.05 * sex
    y_true = (rng.random(n_rows) < base).astype(np.int8)
    flip = np.array([0.3, 0.2, 0.22, 0.25, 0.2])[race]
    y_pred = np.where(rng.random(n_rows) < flip, 1 - y_true, y_true).astype(np.int8)
    table = pa.table(
        {
            "id": pa.array(np.arange(n_rows, dtype=np.int64)),
            "race": pa.DictionaryArray.from_arrays(pa.array(race), pa.array(RACES)),
            "sex": pa.DictionaryArray.from_arrays(pa.array(sex), pa.array(SEXES)),
            "y_true": pa.array(y_true),
            "y_pred": pa.array(y_pred),
        }
    )
    if score:
        values = np.clip(0.3 * y_true + 0.7 * rng.random(n_rows), 0.0, 1.0)
        table = table.append_column("score", pa.array(values))
    stem = f"bias_{n_rows}" + ("_score" if score else "")
    paths = {"csv": directory / f"{stem}.csv", "parquet": directory / f"{stem}.pq"}
    text = table.set_column(1, "race", table.column("race").cast(pa.string())).set_column(
        2, "sex", table.column("sex").cast(pa.string())
    )
    pacsv.write_csv(text, paths["csv"])
    pq.write_table(table, paths["parquet"])
    return paths


def worker_ours(path: str, warm_path: str | None = None, score: bool = False) -> dict[str, float]:
    """Run the whole bias check on one file (inside the subprocess).

    With ``warm_path``, first run the check on that (small) file and reset the high-water
    mark, so that the figures are those of a process that has already run a check.
    """
    import assessments.bias_input
    import assessments.metrics
    import assessments.verdicts  # noqa: F401 - imported before the baseline is measured

    if warm_path:
        _check(warm_path, score)
        if not _reset_peak():
            return {"error": "cannot reset the high-water mark"}
    baseline = _rss_now()
    times, result, verdict = _check(path, score)
    return {
        **times,
        "peak_rss": _peak_rss(),
        "baseline_rss": baseline,
        "n_groups": len(result["by_group"]),
        "outcome": verdict["verdict"],
    }


def _check(path: str, score: bool) -> tuple[dict[str, float], dict, dict]:
    """Read, prepare, compute and judge one file: timings, result and verdict."""
    from assessments.bias_input import prepare, read_table
    from assessments.metrics import compute_bias_metrics
    from assessments.verdicts import judge

    y_score = "score" if score else None
    t0 = time.perf_counter()
    frame = read_table(
        path, columns=COLUMNS + ([y_score] if y_score else []), numeric=[y_score] if y_score else []
    )
    t1 = time.perf_counter()
    prepared = prepare(
        frame,
        y_true="y_true",
        y_pred="y_pred",
        sensitive_features=["race", "sex"],
        y_score=y_score,
    )
    del frame
    t2 = time.perf_counter()
    result = compute_bias_metrics(
        y_true=prepared.y_true,
        y_pred=prepared.y_pred,
        sensitive_features=prepared.features,
        y_score=prepared.y_score,
        n_boot=1000,
        seed=0,
    ).to_dict()
    t3 = time.perf_counter()
    verdict = judge(result, thresholds=THRESHOLDS, min_group_size=30, policy_version="bench")
    t4 = time.perf_counter()
    json.dumps(result, allow_nan=False)
    times = {
        "seconds": t4 - t0,
        "read": t1 - t0,
        "prepare": t2 - t1,
        "metrics": t3 - t2,
        "verdict": t4 - t3,
    }
    return times, result, verdict


def worker_fairlearn(path: str) -> dict[str, float]:
    """Time fairlearn's MetricFrame on the raw rows (inside the subprocess)."""
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    frame = pd.read_parquet(path, columns=COLUMNS)
    t0 = time.perf_counter()
    mf = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
            "true_negative_rate": true_negative_rate,
            "accuracy": accuracy_score,
            "precision": precision_score,
            "count": count,
        },
        y_true=frame["y_true"],
        y_pred=frame["y_pred"],
        sensitive_features=frame[["race", "sex"]],
    )
    mf.difference()
    mf.ratio()
    return {"seconds": time.perf_counter() - t0, "peak_rss": _peak_rss()}


# --------------------------------------------------------------------------------------------
# Other kinds of check, and checks from aggregates (--kinds)
# --------------------------------------------------------------------------------------------

KIND_GROUPS = [f"group_{i:02d}" for i in range(10)]
KIND_CLASSES = [f"queue_{i:02d}" for i in range(12)]
KIND_THRESHOLDS = {
    "multiclass_classification": [{"metric": "true_positive_rate", "ratio_min": 0.8}],
    "regression": [{"metric": "mean_absolute_error", "ratio_min": 0.8}],
}


def generate_kind(kind: str, n_rows: int, directory: Path, seed: int = 3) -> Path:
    """Write n_rows of a multiclass (12 classes, 10 groups) or regression data set as Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    group = rng.integers(0, len(KIND_GROUPS), n_rows).astype(np.int32)
    columns = {"group": pa.DictionaryArray.from_arrays(pa.array(group), pa.array(KIND_GROUPS))}
    if kind == "multiclass_classification":
        truth = rng.integers(0, len(KIND_CLASSES), n_rows).astype(np.int32)
        wrong = rng.random(n_rows) < 0.2 + 0.02 * group
        pred = np.where(wrong, rng.integers(0, len(KIND_CLASSES), n_rows), truth).astype(np.int32)
        labels = pa.array(KIND_CLASSES)
        columns["y_true"] = pa.DictionaryArray.from_arrays(pa.array(truth), labels)
        columns["y_pred"] = pa.DictionaryArray.from_arrays(pa.array(pred), labels)
    else:
        truth = rng.gamma(3.0, 10.0, n_rows)
        columns["y_true"] = pa.array(truth)
        columns["y_pred"] = pa.array(truth + rng.normal(0.0, 3.0 + 0.2 * group, n_rows))
    path = directory / f"{kind}_{n_rows}.pq"
    pq.write_table(pa.table(columns), path)
    return path


def worker_kind(kind: str, path: str) -> dict[str, float]:
    """One check of another kind end to end (inside the subprocess)."""
    import fairlearn.metrics  # noqa: F401 - a server has these imported: not timed
    import sklearn.metrics  # noqa: F401

    from assessments import bias_input_kinds
    from assessments.bias_input import read_table
    from assessments.verdicts import judge

    t0 = time.perf_counter()
    numeric = ["y_true", "y_pred"] if kind == "regression" else []
    frame = read_table(path, columns=["group", "y_true", "y_pred"], numeric=numeric)
    t1 = time.perf_counter()
    if kind == "regression":
        prepared = bias_input_kinds.prepare_regression(
            frame, y_true="y_true", y_pred="y_pred", sensitive_features=["group"]
        )
    else:
        prepared = bias_input_kinds.prepare_multiclass(
            frame, y_true="y_true", y_pred="y_pred", sensitive_features=["group"]
        )
    del frame
    t2 = time.perf_counter()
    result = prepared.compute(n_boot=1000, seed=0).to_dict()
    t3 = time.perf_counter()
    verdict = judge(result, thresholds=KIND_THRESHOLDS[kind], min_group_size=30, policy_version="b")
    t4 = time.perf_counter()
    json.dumps(result, allow_nan=False)
    return {
        "seconds": t4 - t0,
        "read": t1 - t0,
        "prepare": t2 - t1,
        "metrics": t3 - t2,
        "verdict": t4 - t3,
        "outcome": verdict["verdict"],
        "peak_rss": _peak_rss(),
    }


def worker_kind_fairlearn(kind: str, path: str) -> dict[str, float]:
    """fairlearn's MetricFrame with n_boot=100 on the rows, data in memory (subprocess)."""
    import warnings

    import pandas as pd
    from fairlearn.metrics import MetricFrame, mean_prediction
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        mean_absolute_error,
        root_mean_squared_error,
    )

    frame = pd.read_parquet(path)
    if kind == "regression":
        metrics = {
            "mean_prediction": mean_prediction,
            "mean_error": lambda t, p: float((p - t).mean()),
            "mean_absolute_error": mean_absolute_error,
            "root_mean_squared_error": root_mean_squared_error,
        }
        y_true, y_pred = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
    else:
        metrics = {
            "accuracy": accuracy_score,
            "balanced_accuracy": balanced_accuracy_score,
            "macro_f1": lambda t, p: f1_score(t, p, average="macro"),
        }
        y_true = frame["y_true"].astype(str).to_numpy()
        y_pred = frame["y_pred"].astype(str).to_numpy()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics=metrics,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=frame["group"].astype(str),
            n_boot=100,
            ci_quantiles=[0.025, 0.975],
            random_state=0,
        )
        mf.difference()
        mf.ratio()
    return {"seconds": time.perf_counter() - t0}


def worker_aggregate(n_rows: int) -> dict[str, float]:
    """A binary check from aggregates: 10 groups x 4 cells standing for n_rows rows."""
    import numpy as np
    import pandas as pd

    from assessments.bias_input import prepare, read_table
    from assessments.verdicts import judge

    rng = np.random.default_rng(5)
    cells = pd.DataFrame(
        [(g, t, p) for g in KIND_GROUPS for t in (0, 1) for p in (0, 1)],
        columns=["group", "y_true", "y_pred"],
    )
    shares = rng.dirichlet(np.ones(len(cells)))
    counts = np.floor(shares * n_rows).astype(np.int64)
    counts[0] += n_rows - counts.sum()
    cells["frequency"] = counts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.csv"
        cells.to_csv(path, index=False)
        read_table(path, columns=["group", "y_true", "y_pred", "frequency"], numeric=["frequency"])
        timings = []
        for _ in range(5):  # the median of five (the first also pays for imports and caches)
            t0 = time.perf_counter()
            frame = read_table(
                path, columns=["group", "y_true", "y_pred", "frequency"], numeric=["frequency"]
            )
            prepared = prepare(
                frame,
                y_true="y_true",
                y_pred="y_pred",
                sensitive_features=["group"],
                frequency="frequency",
                total_rows=n_rows,
            )
            result = prepared.compute(n_boot=1000, seed=0).to_dict()
            judge(result, thresholds=THRESHOLDS, min_group_size=30, policy_version="b")
            timings.append(time.perf_counter() - t0)
    timings.sort()
    return {"seconds": timings[len(timings) // 2], "n_rows": result["n_rows"]}


def _run_worker(args: list[str]) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True, timeout=CASE_TIMEOUT * 2, env=env
        )
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr)
        raise
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_kinds(no_fairlearn: bool) -> int:
    print(f"load average before: {_load()}")
    goals = []
    with tempfile.TemporaryDirectory(prefix="bias_kinds_") as tmp:
        for kind in ("multiclass_classification", "regression"):
            path = generate_kind(kind, 1_000_000, Path(tmp))
            res = _run_worker([f"kind:{kind}", str(path)])
            if res is None:
                print(f"{kind}, 1M rows: timed out")
                continue
            print(
                f"{kind}, 1,000,000 rows, Parquet: {res['seconds']:.3f} s end to end (read "
                f"{res['read']:.3f}, prepare {res['prepare']:.3f}, metrics + 1,000 resamples "
                f"{res['metrics']:.3f}, verdict {res['verdict']:.3f}); peak RSS "
                f"{res['peak_rss'] / 2**20:.0f} MB; verdict {res['outcome']}"
            )
            goals.append(
                f"{kind} 1M rows: {res['seconds']:.2f} s (goal <= 2 s: "
                f"{_mark(res['seconds'] <= 2)})"
            )
            small = generate_kind(kind, 100_000, Path(tmp))
            ours = _run_worker([f"kind:{kind}", str(small)])
            print(f"{kind}, 100,000 rows: {ours['seconds']:.3f} s end to end (1,000 resamples)")
            if not no_fairlearn:
                fl = _run_worker([f"fairlearn:{kind}", str(small)])
                if fl is None:
                    print("  MetricFrame n_boot=100 on 100,000 rows: timed out")
                else:
                    speed = fl["seconds"] / ours["seconds"]
                    print(
                        f"  MetricFrame n_boot=100 on 100,000 rows: {fl['seconds']:.2f} s; "
                        f"ours {speed:.0f}x faster"
                    )
                    goals.append(
                        f"{kind} vs MetricFrame n_boot=100, 100k rows: {speed:.0f}x "
                        f"(goal >= 20x: {_mark(speed >= 20)})"
                    )
    for n_rows in (1_000_000, 1_000_000_000):
        res = _run_worker(["aggregate", str(n_rows)])
        print(
            f"check from aggregates (10 groups, 40 cells) standing for {res['n_rows']:,} rows, "
            f"1,000 resamples: {res['seconds'] * 1000:.1f} ms (median of 5)"
        )
        goals.append(
            f"aggregates, {n_rows:,} rows: {res['seconds'] * 1000:.0f} ms "
            f"(goal <= 100 ms: {_mark(res['seconds'] <= 0.1)})"
        )
    print(f"load average after: {_load()}")
    print()
    for line in goals:
        print(" -", line)
    return 0


def run_case(
    kind: str,
    path: Path,
    *,
    warm: Path | None = None,
    arrow_pool: str | None = None,
    score: bool = False,
) -> dict[str, float] | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(path)]
    if warm is not None:
        cmd += ["--warm", str(warm)]
    if score:
        cmd += ["--score"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    if arrow_pool and arrow_pool != "pyarrow":
        env["ARROW_DEFAULT_MEMORY_POOL"] = arrow_pool
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True, timeout=CASE_TIMEOUT, env=env
        )
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr)
        raise
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    try:
        one, five, _fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _mark(ok: bool) -> str:
    return "ok" if ok else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows only")
    parser.add_argument("--sizes", type=int, nargs="*", help="row counts (default: all)")
    parser.add_argument("--no-fairlearn", action="store_true", help="skip the MetricFrame runs")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-process runs")
    parser.add_argument(
        "--score",
        action="store_true",
        help="add a continuous score column and map it (ROC AUC and calibration too)",
    )
    parser.add_argument(
        "--arrow-pool",
        choices=["system", "jemalloc", "mimalloc", "pyarrow"],
        default="system",
        help="ARROW_DEFAULT_MEMORY_POOL for the workers: system (the default, as wsgi.py sets it "
        "for the app's processes), another allocator, or pyarrow (unset: pyarrow's own choice)",
    )
    parser.add_argument(
        "--kinds",
        action="store_true",
        help="multiclass and regression checks, and checks from aggregates (see above)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker and ":" in args.worker[0] or (args.worker and args.worker[0] == "aggregate"):
        what, path = args.worker
        if what == "aggregate":
            result = worker_aggregate(int(path))
        elif what.startswith("kind:"):
            result = worker_kind(what.split(":", 1)[1], path)
        else:
            result = worker_kind_fairlearn(what.split(":", 1)[1], path)
        print(json.dumps(result))
        return 0
    if args.kinds:
        return main_kinds(args.no_fairlearn)
    if args.worker:
        kind, path = args.worker
        result = (
            worker_ours(path, args.warm, args.score) if kind == "ours" else worker_fairlearn(path)
        )
        print(json.dumps(result))
        return 0

    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000, 10_000_000])
    mb = 1024 * 1024
    print(f"load average before: {_load()}")
    print(
        "workers run with ARROW_DEFAULT_MEMORY_POOL="
        + ("(unset)" if args.arrow_pool == "pyarrow" else args.arrow_pool)
    )
    if args.score:
        print("with a continuous score column (y_score mapped: ROC AUC and calibration too)")
    header = (
        f"{'rows':>11} {'format':>7} {'file MB':>8} {'e2e s':>7} {'read':>6} {'prep':>6} "
        f"{'metrics':>7} {'peak MB':>8} {'peak/file':>9} {'work MB':>8} {'work/file':>9} "
        f"{'warm/file':>9} {'MetricFrame s':>13} {'speedup':>8}"
    )
    print(header)
    print("-" * len(header))
    goals: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bias_bench_") as tmp:
        warm_paths = None
        if not args.no_warm:
            (Path(tmp) / "warm").mkdir()
            warm_paths = generate(WARM_ROWS, Path(tmp) / "warm", seed=2, score=args.score)
        for n_rows in sizes:
            t = time.perf_counter()
            paths = generate(n_rows, Path(tmp), score=args.score)
            gen_s = time.perf_counter() - t
            fl = None
            if not (args.no_fairlearn or args.score) and n_rows <= FAIRLEARN_MAX_ROWS:
                fl = run_case("fairlearn", paths["parquet"])
            for fmt in ("csv", "parquet"):
                res = run_case("ours", paths[fmt], arrow_pool=args.arrow_pool, score=args.score)
                size = paths[fmt].stat().st_size
                if res is None:
                    print(f"{n_rows:>11,} {fmt:>7} {size / mb:>8.1f}  timed out")
                    continue
                warm = None
                if warm_paths is not None:
                    warm = run_case(
                        "ours",
                        paths[fmt],
                        warm=warm_paths[fmt],
                        arrow_pool=args.arrow_pool,
                        score=args.score,
                    )
                warm_x = (
                    (warm["peak_rss"] - warm["baseline_rss"]) / size
                    if warm and "peak_rss" in warm
                    else None
                )
                peak, work = res["peak_rss"], res["peak_rss"] - res["baseline_rss"]
                fl_s = fl["seconds"] if fl else None
                speed = f"{fl_s / res['seconds']:>7.0f}x" if fl_s else f"{'-':>8}"
                print(
                    f"{n_rows:>11,} {fmt:>7} {size / mb:>8.1f} {res['seconds']:>7.3f} "
                    f"{res['read']:>6.3f} {res['prepare']:>6.3f} {res['metrics']:>7.3f} "
                    f"{peak / mb:>8.0f} {peak / size:>9.2f} {work / mb:>8.1f} {work / size:>9.2f} "
                    f"{(f'{warm_x:.2f}' if warm_x is not None else '-'):>9} "
                    f"{(f'{fl_s:.2f}' if fl_s else '-'):>13} {speed}"
                )
                limit = {1_000_000: 1.0, 10_000_000: 6.0}.get(n_rows)
                if limit is not None:
                    goals.append(
                        f"{n_rows:,} {fmt}: {res['seconds']:.2f} s (goal <= {limit:g} s: "
                        f"{_mark(res['seconds'] <= limit)}); work {work / size:.2f}x the file "
                        f"(goal <= {MEMORY_GOAL:g}x: {_mark(work / size <= MEMORY_GOAL)}); "
                        f"total peak {peak / size:.2f}x"
                        + (f"; warm {warm_x:.2f}x" if warm_x is not None else "")
                    )
                if fl_s:
                    goals.append(
                        f"{n_rows:,} {fmt}: {fl_s / res['seconds']:.0f}x faster than MetricFrame "
                        f"end to end ({fl_s / res['metrics']:.0f}x on metrics alone; goal >= 100x)"
                    )
            print(f"{'':>11} (generated {n_rows:,} rows in {gen_s:.1f} s)")
    print(f"load average after: {_load()}")
    print(
        "peak/file: whole process; work/file: above the RSS after imports, fresh process (the "
        "memory goal's figure); warm/file: the same after one small check in the process."
    )
    if goals:
        print()
        for line in goals:
            print(" -", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
