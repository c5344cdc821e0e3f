"""Outcome rates per group: assistant evaluations and selection-only uses, without ground truth.

Each outcome column is a yes/no outcome per row (a conversation "resolved", "escalated",
"refused"; a resident "selected for outreach"). Its rate in a group is the share of the group's
rows with the outcome, which equals fairlearn's ``selection_rate`` (and the mean) of the column
within the group; differences and ratios are fairlearn's ``between_groups`` values.

Rows are counted once into (group, outcome) cells per column, with optional frequencies
(aggregated input) giving exactly the counts of the expanded rows. Intervals: for each column,
the cells are drawn from ``Multinomial(n_rows, cells / n_rows)`` (the distribution of resampling
rows) with ``numpy.random.default_rng(seed)``, one column after the other; as in
:mod:`assessments.metrics`, a rate of a group that a resample leaves empty is undefined there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assessments.metrics import _Counter, _encode, _f, _frequency, _interval, disparity
from assessments.metrics_multiclass import KindResult
from policies.fairness import OUTCOME_RATES, metric_key

__all__ = ["compute_outcome_rates"]


def compute_outcome_rates(
    *,
    outcomes: dict[str, Any],
    sensitive_features: pd.DataFrame,
    frequency: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> KindResult:
    """Compute the rate of each outcome per group, its disparities and intervals.

    Parameters
    ----------
    outcomes : dict of str to array-like of {0, 1}
        Each outcome column (1 = the outcome happened), in report order.
    sensitive_features : pandas.DataFrame
        One to three columns; every observed combination is a group.
    frequency : array-like of int > 0, optional
        Aggregated input: how many identical rows each row stands for.
    n_boot, seed, confidence, min_group_size
        As for :func:`assessments.metrics.compute_bias_metrics`.

    Returns
    -------
    KindResult
        ``to_dict()`` gives ``{"task", "n_rows", "sensitive_features", "outcomes", "overall",
        "by_group", "disparities", "bootstrap"}``; ``overall`` and each group hold
        ``rates: {column: rate}``; a group's ``ci`` and the disparities are keyed
        ``"rate[<column>]"``.

    Raises
    ------
    ValueError
        For no outcome, inputs of different lengths or values other than 0 and 1.
    """
    if not outcomes:
        raise ValueError("give at least one outcome column")
    n_rows = len(sensitive_features)
    if n_rows == 0:
        raise ValueError("no rows")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    columns = list(outcomes)
    values: dict[str, np.ndarray] = {}
    for col in columns:
        arr = np.asarray(outcomes[col])
        if arr.shape != (n_rows,):
            raise ValueError(f"outcome {col!r} must have one value per row")
        if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
            raise ValueError(f"outcome {col!r} must hold only 0 and 1")
        values[col] = arr.astype(np.int8, copy=False)
    weights = None if frequency is None else _frequency(frequency, n_rows)
    enc = _encode(sensitive_features, want_codes=True)
    assert enc.codes is not None
    n_groups = len(enc.groups)
    names = [str(c) for c in sensitive_features.columns]
    group_dicts = [dict(zip(names, g, strict=True)) for g in enc.groups]

    cells: dict[str, np.ndarray] = {}
    for col in columns:
        counter = _Counter(n_groups * 2, weights)
        for start in range(0, n_rows, 1 << 16):
            stop = start + (1 << 16)
            idx = enc.codes[start:stop].astype(np.int64) * 2
            idx += values[col][start:stop]
            counter.add(idx, start, stop)
        cells[col] = counter.total().reshape(n_groups, 2)
    counts = cells[columns[0]].sum(axis=1)
    total = int(counts.sum())

    def rates(c: np.ndarray) -> np.ndarray:
        n = c.sum(axis=-1).astype(np.float64)
        return np.divide(c[..., 1], n, out=np.full(n.shape, np.nan), where=n > 0)

    keys = [metric_key("rate", col) for col in columns]
    point = {key: rates(cells[col]) for key, col in zip(keys, columns, strict=True)}
    boot: dict[str, np.ndarray] = {}
    if n_boot:
        rng = np.random.default_rng(seed)
        for key, col in zip(keys, columns, strict=True):
            c = cells[col]
            draws = rng.multinomial(total, c.ravel() / total, size=n_boot)
            boot[key] = rates(draws.reshape(n_boot, n_groups, 2))

    alpha = 1.0 - confidence
    group_ci = {key: _interval(boot[key], alpha) if n_boot else [None] * n_groups for key in keys}
    by_group = []
    for g in range(n_groups):
        by_group.append(
            {
                "group": group_dicts[g],
                "count": int(counts[g]),
                "small_group": bool(counts[g] < min_group_size),
                "rates": {col: _f(point[key][g]) for key, col in zip(keys, columns, strict=True)},
                "ci": {key: group_ci[key][g] for key in keys},
                "undefined": {},
            }
        )
    overall = {
        "count": total,
        "rates": {col: _f(cells[col][:, 1].sum() / total) for col in columns},
    }
    disparities = {key: disparity(point[key], boot.get(key), group_dicts, alpha) for key in keys}
    return KindResult(
        {
            "task": OUTCOME_RATES,
            "n_rows": total,
            "sensitive_features": names,
            "outcomes": columns,
            "overall": overall,
            "by_group": by_group,
            "disparities": disparities,
            "denominators": {key: [int(c) for c in counts] for key in keys},
            "bootstrap": {
                "n_boot": int(n_boot),
                "seed": int(seed),
                "confidence": float(confidence),
                "method": "multinomial resampling of the (group, outcome) cell counts of each "
                "outcome column: the distribution of resampling rows",
            },
        }
    )
