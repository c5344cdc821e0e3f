"""pandas and Polars DataFrames, aggregated by their own ``groupby``.

Missing values in a cell column form their own group (``dropna=False`` in pandas; Polars keeps
null keys), so the registry sees them, drops them and counts them as it does for rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from registry_bias.aggregate import Aggregate, AggregateError, collect
from registry_bias.spec import FREQUENCY, MOMENTS, SCORE_HIGH, SCORE_LOW, CheckSpec

__all__ = ["aggregate_frame", "aggregate_pandas", "aggregate_polars"]


def _check_columns(spec: CheckSpec, available: Iterable[str]) -> None:
    have = set(available)
    for column in spec.source_columns:
        if column not in have:
            raise AggregateError(f"The data has no column named {column!r}.", column)


def _numbers(pd: Any, series: Any, column: str | None) -> Any:
    try:
        return pd.to_numeric(series, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise AggregateError(f"The column {column} must hold numbers ({exc}).", column) from exc


def _describe(engine: str, spec: CheckSpec) -> str:
    sums = f", sums of {', '.join(MOMENTS)}" if spec.task == "regression" else ""
    bins = ""
    if spec.binned:
        bins = f"; {spec.y_score} binned at edges {list(spec.score_edges or ())}"
    return f"{engine}: group by {', '.join(spec.key_columns)}; count rows{sums}{bins}"


def aggregate_pandas(
    spec: CheckSpec, frame: Any, *, max_groups: int | None = None, max_classes: int | None = None
) -> Aggregate:
    """Aggregate a pandas DataFrame with ``DataFrame.groupby``.

    Parameters
    ----------
    spec : CheckSpec
        The check.
    frame : pandas.DataFrame
        One row per person or decision.
    max_groups, max_classes : int, optional
        The registry's limits (see :func:`registry_bias.aggregate.collect`).

    Returns
    -------
    Aggregate
        ``engine`` is ``pandas <version>``; ``query`` describes the grouping.
    """
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    _check_columns(spec, frame.columns)
    work = frame.loc[:, list(spec.source_columns)]
    keys = list(spec.key_columns)
    if spec.task == "regression":
        true = _numbers(pd, work[spec.y_true], spec.y_true)
        pred = _numbers(pd, work[spec.y_pred], spec.y_pred)
        keep = true.notna() & pred.notna()
        error = pred - true
        measures = pd.DataFrame(
            {
                "sum_pred": pred,
                "sum_sq_pred": pred * pred,
                "sum_true": true,
                "sum_error": error,
                "sum_abs_error": error.abs(),
                "sum_sq_error": error * error,
                "sum_quad_error": error**4,
            }
        )[keep]
        grouped = pd.concat([work.loc[keep, keys], measures], axis=1).groupby(
            keys, dropna=False, observed=True, sort=False
        )
        sums = grouped[list(MOMENTS)].sum()
        sizes = grouped.size()
        table = sums.assign(**{FREQUENCY: sizes})[[FREQUENCY, *MOMENTS]].reset_index()
    else:
        if spec.binned:
            score = _numbers(pd, work[spec.y_score], spec.y_score).to_numpy(
                dtype="float64", na_value=np.nan
            )
            edges = np.asarray(spec.score_edges, dtype="float64")
            index = np.searchsorted(edges[1:-1], score, side="right")
            missing = np.isnan(score)
            low = np.where(missing, np.nan, edges[index])
            high = np.where(missing, np.nan, edges[np.minimum(index + 1, len(edges) - 1)])
            work = work.assign(**{SCORE_LOW: low, SCORE_HIGH: high})
        table = (
            work.groupby(keys, dropna=False, observed=True, sort=False)
            .size()
            .rename(FREQUENCY)
            .reset_index()
        )
    records = table.itertuples(index=False, name=None)
    aggregate = collect(
        spec,
        records,
        engine=f"pandas {pd.__version__}",
        query=_describe("pandas DataFrame.groupby(dropna=False)", spec),
        max_groups=max_groups,
        max_classes=max_classes,
    )
    aggregate.seconds = time.perf_counter() - started
    return aggregate


def aggregate_polars(
    spec: CheckSpec, frame: Any, *, max_groups: int | None = None, max_classes: int | None = None
) -> Aggregate:
    """Aggregate a Polars DataFrame or LazyFrame with ``group_by`` (a LazyFrame stays lazy).

    Parameters
    ----------
    spec : CheckSpec
        The check.
    frame : polars.DataFrame or polars.LazyFrame
        One row per person or decision.
    max_groups, max_classes : int, optional
        The registry's limits (see :func:`registry_bias.aggregate.collect`).

    Returns
    -------
    Aggregate
        ``engine`` is ``polars <version>``; ``query`` describes the grouping.
    """
    import polars as pl

    started = time.perf_counter()
    lazy = frame.lazy()
    _check_columns(spec, lazy.collect_schema().names())
    keys = list(spec.key_columns)
    if spec.task == "regression":
        assert spec.y_true and spec.y_pred
        true = pl.col(spec.y_true).cast(pl.Float64)
        pred = pl.col(spec.y_pred).cast(pl.Float64)
        error = pred - true
        cells = lazy.filter(
            true.is_not_null() & pred.is_not_null() & true.is_not_nan() & pred.is_not_nan()
        )
        measures = [
            pl.len().alias(FREQUENCY),
            pred.sum().alias("sum_pred"),
            (pred * pred).sum().alias("sum_sq_pred"),
            true.sum().alias("sum_true"),
            error.sum().alias("sum_error"),
            error.abs().sum().alias("sum_abs_error"),
            (error * error).sum().alias("sum_sq_error"),
            (error * error * error * error).sum().alias("sum_quad_error"),
        ]
    else:
        cells = lazy
        if spec.binned:
            assert spec.y_score
            score = pl.col(spec.y_score).cast(pl.Float64)
            edges = list(spec.score_edges or ())
            missing = score.is_null() | score.is_nan()
            low: Any = pl.when(missing).then(None)
            high: Any = pl.when(missing).then(None)
            for lo, hi in zip(edges[:-2], edges[1:-1], strict=True):
                low = low.when(score < hi).then(pl.lit(lo))
                high = high.when(score < hi).then(pl.lit(hi))
            cells = cells.with_columns(
                low.otherwise(pl.lit(edges[-2])).alias(SCORE_LOW),
                high.otherwise(pl.lit(edges[-1])).alias(SCORE_HIGH),
            )
        measures = [pl.len().alias(FREQUENCY)]
    table = cells.group_by(keys).agg(measures).collect()
    aggregate = collect(
        spec,
        table.select(
            [*keys, FREQUENCY, *(MOMENTS if spec.task == "regression" else ())]
        ).iter_rows(),
        engine=f"polars {pl.__version__}",
        query=_describe("polars group_by", spec),
        max_groups=max_groups,
        max_classes=max_classes,
    )
    aggregate.seconds = time.perf_counter() - started
    return aggregate


def aggregate_frame(
    spec: CheckSpec,
    frame: Any,
    *,
    max_groups: int | None = None,
    max_classes: int | None = None,
) -> Aggregate:
    """Aggregate a pandas, Polars or Spark DataFrame with its own engine."""
    module = type(frame).__module__.split(".")[0]
    if module == "pandas":
        return aggregate_pandas(spec, frame, max_groups=max_groups, max_classes=max_classes)
    if module == "polars":
        return aggregate_polars(spec, frame, max_groups=max_groups, max_classes=max_classes)
    if module == "pyspark":
        from registry_bias.spark import aggregate_spark

        return aggregate_spark(spec, frame, max_groups=max_groups, max_classes=max_classes)
    raise TypeError(
        f"Cannot aggregate a {type(frame).__name__}: pass a pandas, Polars or Spark DataFrame."
    )
