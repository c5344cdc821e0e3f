"""Group fairness of a regression model (wait times, caseloads, amounts), with intervals.

Metrics per group (and overall), with error = prediction − truth:

* ``mean_prediction`` (needs no ground truth);
* ``mean_error``: signed, so that systematic under- or over-estimation for a group shows;
* ``mean_absolute_error`` and ``root_mean_squared_error``.

From up to :data:`METRICFRAME_MAX_ROWS` rows, the values are computed at run time by fairlearn's
``MetricFrame`` with
``fairlearn.metrics.mean_prediction``, ``sklearn.metrics.mean_absolute_error``,
``sklearn.metrics.root_mean_squared_error`` and the mean of ``y_pred - y_true`` (weighted by the
frequencies of aggregated rows, ``sample_weight``). From more rows, and from aggregated
moments (one row per cell: count, Σ prediction, Σ prediction², Σ truth, Σ error, Σ |error|,
Σ error², Σ error⁴), they are the corresponding means of the per-group sums; the result's
``point_estimates`` says which. Both equal MetricFrame on the rows up to rounding (tested to
1e-9).

Intervals (``bootstrap.method``): each group's metric is a mean over its rows (of the
prediction, the error, the absolute error, or the squared error for the RMSE), so its bootstrap
distribution, with the group's size fixed (a stratified bootstrap), has the group's mean and
variance / n and, by the central limit theorem, is close to normal. The resamples are therefore
drawn as ``mean + sqrt(variance / n) * Z`` with ``Z ~ N(0, 1)`` from
``numpy.random.default_rng(seed)``, where the variance comes from the group's moments (the
plug-in variance, dividing by n: the variance of a row drawn from the group); the RMSE is the
square root of the resampled mean squared error (0 if that is negative). Differences and
ratios of each resample follow as for the other kinds. Rows are first reduced to the same
per-group moments, so a check from rows and one from their aggregates give the same intervals
(up to rounding in the sums). A group with a single row has no interval. The coverage of these
intervals is tested by simulation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assessments.metrics import CHUNK_ROWS, _encode, _f, _frequency, _interval, disparity
from assessments.metrics_multiclass import KindResult
from policies.fairness import REGRESSION, task_metrics

__all__ = [
    "METRICFRAME_MAX_ROWS",
    "METRICS",
    "MOMENT_COLUMNS",
    "compute_regression_metrics",
    "moments_from_rows",
]

#: The sums of an aggregated regression cell, by their column names in the file.
MOMENT_COLUMNS = (
    "sum_pred",
    "sum_sq_pred",
    "sum_true",
    "sum_error",
    "sum_abs_error",
    "sum_sq_error",
    "sum_quad_error",
)

#: Metrics in report order.
METRICS = task_metrics(REGRESSION)

#: Up to this many rows, the values are computed by fairlearn's MetricFrame on the rows. Above,
#: from the per-group sums (the same means; MetricFrame costs about a second per 100,000 rows
#: and metric in fairlearn 0.15, which converts every value to an array of its own).
METRICFRAME_MAX_ROWS = 50_000

_FROM_FAIRLEARN = (
    "fairlearn MetricFrame on the rows (fairlearn mean_prediction, scikit-learn "
    "mean_absolute_error and root_mean_squared_error, the mean of y_pred - y_true)"
)
_FROM_MOMENTS = "the means of the per-group sums (sufficient statistics)"

_METHOD = (
    "normal approximation to the stratified bootstrap of each group's mean (mean + "
    "sqrt(variance / n) * Z), the variance from the group's moments; the same for rows and "
    "aggregates"
)


def moments_from_rows(
    y_pred: np.ndarray,
    y_true: np.ndarray | None,
    codes: np.ndarray,
    n_groups: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per-group moments ``(count, *MOMENT_COLUMNS)`` of rows, in chunks.

    Parameters
    ----------
    y_pred, y_true : numpy.ndarray of float
        Predictions and (optionally) true values.
    codes : numpy.ndarray of int
        Group of each row.
    n_groups : int
        Number of groups.
    weights : numpy.ndarray of int, optional
        Frequencies of aggregated rows.

    Returns
    -------
    numpy.ndarray of float64, shape (n_groups, 8)
        Without ``y_true`` the error sums are 0.
    """
    out = np.zeros((n_groups, 8))
    for start in range(0, len(y_pred), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        idx = codes[start:stop]
        w = None if weights is None else weights[start:stop].astype(np.float64)
        p = y_pred[start:stop]
        columns = [np.ones(len(p)), p, p * p]
        if y_true is not None:
            t = y_true[start:stop]
            e = p - t
            e2 = e * e
            columns += [t, e, np.abs(e), e2, e2 * e2]
        for j, values in enumerate(columns):
            if w is not None:
                values = values * w
            out[:, j] += np.bincount(idx, weights=values, minlength=n_groups)
    return out


def _mean_error(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The mean of ``y_pred - y_true`` (signed)."""
    return float(np.average(np.asarray(y_pred) - np.asarray(y_true), weights=sample_weight))


def _fairlearn_values(
    y_pred: np.ndarray,
    y_true: np.ndarray | None,
    codes: np.ndarray,
    n_groups: int,
    weights: np.ndarray | None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The metrics per group and overall by fairlearn's MetricFrame on the rows."""
    from fairlearn.metrics import MetricFrame, mean_prediction
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    functions: dict[str, Any] = {"mean_prediction": mean_prediction}
    if y_true is not None:
        functions.update(
            {
                "mean_error": _mean_error,
                "mean_absolute_error": mean_absolute_error,
                "root_mean_squared_error": root_mean_squared_error,
            }
        )
    params = None
    if weights is not None:
        w = weights.astype(np.float64)
        params = {name: {"sample_weight": w} for name in functions}
    frame = MetricFrame(
        metrics=functions,
        y_true=y_pred if y_true is None else y_true,
        y_pred=y_pred,
        sensitive_features=pd.Series(codes, name="group"),
        sample_params=params,
    )
    by_group = frame.by_group.reindex(range(n_groups))
    return (
        {name: by_group[name].to_numpy(dtype=np.float64) for name in functions},
        {name: float(frame.overall[name]) for name in functions},
    )


def _from_moments(m: np.ndarray, with_truth: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(mean, plug-in variance of a row) of each metric's per-row quantity, from moments."""
    n = m[..., 0]
    safe = np.where(n > 0, n, 1.0)
    nan = np.full(n.shape, np.nan)

    def stats(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.where(n > 0, first / safe, nan)
        var = np.maximum(np.where(n > 0, second / safe - mean * mean, nan), 0.0)
        return mean, var

    out = {"mean_prediction": stats(m[..., 1], m[..., 2])}
    if with_truth:
        out["mean_error"] = stats(m[..., 4], m[..., 6])
        out["mean_absolute_error"] = stats(m[..., 5], m[..., 6])
        out["mean_squared_error"] = stats(m[..., 6], m[..., 7])
    return out


def _point_from_moments(
    group_m: np.ndarray, with_truth: bool
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The metrics per group and overall as means from the per-group sums."""
    stats = _from_moments(group_m, with_truth)
    total = _from_moments(group_m.sum(axis=0), with_truth)
    point = {name: stats[name][0] for name in stats if name != "mean_squared_error"}
    overall = {name: float(total[name][0]) for name in point}
    if with_truth:
        point["root_mean_squared_error"] = np.sqrt(stats["mean_squared_error"][0])
        overall["root_mean_squared_error"] = math.sqrt(float(total["mean_squared_error"][0]))
    return point, overall


def compute_regression_metrics(
    *,
    sensitive_features: pd.DataFrame,
    y_pred: Any = None,
    y_true: Any = None,
    moments: Any = None,
    frequency: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> KindResult:
    """Compute regression fairness metrics per group, disparities and intervals.

    Parameters
    ----------
    sensitive_features : pandas.DataFrame
        One to three columns; every observed combination is a group.
    y_pred : array-like of float, shape (n_rows,)
        Predictions (rows); or give ``moments``.
    y_true : array-like of float, shape (n_rows,), optional
        True values; without them only ``mean_prediction`` is computed.
    moments : array-like of float, shape (n_rows, 7), optional
        Aggregated input instead of rows: each row's sums in the order of
        :data:`MOMENT_COLUMNS`; ``frequency`` is then its count.
    frequency : array-like of int > 0, shape (n_rows,), optional
        How many rows each row stands for.
    n_boot, seed, confidence, min_group_size
        As for :func:`assessments.metrics.compute_bias_metrics`.

    Returns
    -------
    KindResult
        ``to_dict()`` gives ``{"task", "n_rows", "sensitive_features", "ground_truth",
        "overall", "by_group", "disparities", "bootstrap"}``; ``overall`` and each group hold
        the metrics (:data:`METRICS`, or ``mean_prediction`` alone without truth); a group
        also ``count``, ``small_group``, ``ci`` and ``undefined``.

    Raises
    ------
    ValueError
        For inputs of different lengths, values that are not finite numbers, or moments
        without frequencies.
    """
    n_rows = len(sensitive_features)
    if n_rows == 0:
        raise ValueError("no rows")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    weights = None if frequency is None else _frequency(frequency, n_rows)
    enc = _encode(sensitive_features, want_codes=True)
    assert enc.codes is not None
    n_groups = len(enc.groups)
    names = [str(c) for c in sensitive_features.columns]
    group_dicts = [dict(zip(names, g, strict=True)) for g in enc.groups]

    if moments is not None:
        if weights is None:
            raise ValueError("aggregated moments need their counts (frequency)")
        sums = np.asarray(moments, dtype=np.float64)
        if sums.shape != (n_rows, len(MOMENT_COLUMNS)) or not np.isfinite(sums).all():
            raise ValueError("moments must hold seven finite sums per row")
        group_m = np.zeros((n_groups, 8))
        np.add.at(group_m[:, 0], enc.codes, weights.astype(np.float64))
        for j in range(len(MOMENT_COLUMNS)):
            np.add.at(group_m[:, j + 1], enc.codes, sums[:, j])
        with_truth = True
        stats = _from_moments(group_m, True)
        point, overall_point = _point_from_moments(group_m, True)
        source = _FROM_MOMENTS
    else:
        yp = _finite(y_pred, "y_pred", n_rows)
        yt = None if y_true is None else _finite(y_true, "y_true", n_rows)
        with_truth = yt is not None
        group_m = moments_from_rows(yp, yt, enc.codes, n_groups, weights)
        stats = _from_moments(group_m, with_truth)
        if n_rows <= METRICFRAME_MAX_ROWS:
            point, overall_point = _fairlearn_values(yp, yt, enc.codes, n_groups, weights)
            source = _FROM_FAIRLEARN
        else:
            point, overall_point = _point_from_moments(group_m, with_truth)
            source = _FROM_MOMENTS

    metrics = [m for m in METRICS if m in point]
    counts = group_m[:, 0]
    boot: dict[str, np.ndarray] = {}
    if n_boot:
        rng = np.random.default_rng(seed)
        se_scale = np.sqrt(1.0 / np.where(counts > 0, counts, 1.0))
        for name in metrics:
            source = "mean_squared_error" if name == "root_mean_squared_error" else name
            mean, var = stats[source]
            draws = mean + np.sqrt(var) * se_scale * rng.standard_normal((n_boot, n_groups))
            if name == "root_mean_squared_error":
                draws = np.sqrt(np.maximum(draws, 0.0))
            boot[name] = draws

    alpha = 1.0 - confidence
    group_ci = {
        name: _interval(boot[name], alpha) if n_boot else [None] * n_groups for name in metrics
    }
    by_group = []
    for g in range(n_groups):
        entry: dict[str, Any] = {
            "group": group_dicts[g],
            "count": int(round(counts[g])),
            "small_group": bool(counts[g] < min_group_size),
        }
        ci: dict[str, list[float] | None] = {}
        for name in metrics:
            entry[name] = _f(point[name][g])
            ci[name] = None if counts[g] < 2 else group_ci[name][g]  # no spread from one row
        entry["ci"] = ci
        entry["undefined"] = {}
        by_group.append(entry)
    overall: dict[str, Any] = {name: _f(overall_point[name]) for name in metrics}
    overall["count"] = int(round(counts.sum()))
    disparities = {
        name: disparity(point[name], boot.get(name), group_dicts, alpha) for name in metrics
    }
    return KindResult(
        {
            "task": REGRESSION,
            "n_rows": int(round(counts.sum())),
            "sensitive_features": names,
            "ground_truth": with_truth,
            "overall": overall,
            "by_group": by_group,
            "disparities": disparities,
            "denominators": {name: [int(round(c)) for c in counts] for name in metrics},
            "row_sd": {
                name: [
                    float(v)
                    for v in np.sqrt(
                        stats["mean_squared_error" if name == "root_mean_squared_error" else name][
                            1
                        ]
                    )
                ]
                for name in metrics
            },
            "bootstrap": {
                "n_boot": int(n_boot),
                "seed": int(seed),
                "confidence": float(confidence),
                "method": _METHOD,
            },
            "point_estimates": source,
        }
    )


def _finite(values: Any, name: str, n_rows: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n_rows,):
        raise ValueError(f"{name} must have one value per row")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers")
    return arr
