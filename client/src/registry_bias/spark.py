"""Spark DataFrames, aggregated by Spark's own ``groupBy`` where the data lives.

The grouping runs on the cluster (or in local mode); only the aggregate's rows travel to the
driver, read one partition at a time (``toLocalIterator``) so that a result beyond the
registry's group limit is refused before it is all collected.
"""

from __future__ import annotations

import time
from typing import Any

from registry_bias.aggregate import Aggregate, AggregateError, collect
from registry_bias.spec import FREQUENCY, MOMENTS, SCORE_HIGH, SCORE_LOW, CheckSpec

__all__ = ["aggregate_spark", "spark_aggregation"]


def spark_aggregation(spec: CheckSpec, frame: Any) -> tuple[Any, list[Any]]:
    """The aggregated Spark DataFrame (lazy) and the aggregate expressions it uses."""
    from pyspark.sql import functions as F

    have = set(frame.columns)
    for column in spec.source_columns:
        if column not in have:
            raise AggregateError(f"The data has no column named {column!r}.", column)
    keys = list(spec.key_columns)
    measures = [F.count(F.lit(1)).alias(FREQUENCY)]
    if spec.task == "regression":
        assert spec.y_true and spec.y_pred
        true = F.col(spec.y_true).cast("double")
        pred = F.col(spec.y_pred).cast("double")
        # NaN is not NULL in Spark: a row with either is left out, as the registry drops it.
        cells = frame.where(true.isNotNull() & pred.isNotNull() & ~F.isnan(true) & ~F.isnan(pred))
        error = pred - true
        measures += [
            F.sum(pred).alias("sum_pred"),
            F.sum(pred * pred).alias("sum_sq_pred"),
            F.sum(true).alias("sum_true"),
            F.sum(error).alias("sum_error"),
            F.sum(F.abs(error)).alias("sum_abs_error"),
            F.sum(error * error).alias("sum_sq_error"),
            F.sum(error * error * error * error).alias("sum_quad_error"),
        ]
    else:
        cells = frame
        if spec.binned:
            assert spec.y_score
            score = F.col(spec.y_score).cast("double")
            edges = list(spec.score_edges or ())
            missing = score.isNull() | F.isnan(score)
            low = F.when(missing, F.lit(None).cast("double"))
            high = F.when(missing, F.lit(None).cast("double"))
            for lo, hi in zip(edges[:-2], edges[1:-1], strict=True):
                low = low.when(score < F.lit(hi), F.lit(lo))
                high = high.when(score < F.lit(hi), F.lit(hi))
            cells = cells.withColumns(
                {
                    SCORE_LOW: low.otherwise(F.lit(edges[-2])),
                    SCORE_HIGH: high.otherwise(F.lit(edges[-1])),
                }
            )
    aggregated = cells.groupBy(*keys).agg(*measures)
    return aggregated.select(
        *keys, FREQUENCY, *(MOMENTS if spec.task == "regression" else ())
    ), measures


def aggregate_spark(
    spec: CheckSpec, frame: Any, *, max_groups: int | None = None, max_classes: int | None = None
) -> Aggregate:
    """Aggregate a Spark DataFrame with ``groupBy(...).agg(...)``.

    Parameters
    ----------
    spec : CheckSpec
        The check.
    frame : pyspark.sql.DataFrame
        One row per person or decision, on any cluster (or local mode).
    max_groups, max_classes : int, optional
        The registry's limits (see :func:`registry_bias.aggregate.collect`).

    Returns
    -------
    Aggregate
        ``engine`` is ``spark <version>``; ``query`` lists the grouping and aggregates.
    """
    import pyspark

    started = time.perf_counter()
    aggregated, measures = spark_aggregation(spec, frame)
    query = (
        f"groupBy({', '.join(spec.key_columns)}).agg("
        + ", ".join(str(m).removeprefix("Column<'").removesuffix("'>") for m in measures)
        + ")"
    )
    if spec.binned:
        query += f"; {spec.y_score} binned at edges {list(spec.score_edges or ())}"
    aggregate = collect(
        spec,
        aggregated.toLocalIterator(),
        engine=f"spark {pyspark.__version__}",
        query=query,
        max_groups=max_groups,
        max_classes=max_classes,
    )
    aggregate.seconds = time.perf_counter() - started
    return aggregate
