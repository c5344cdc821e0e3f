"""Sample-size honesty: how many rows a comparison needs, and the smallest gap the data shows.

For a comparison of two groups on a metric, with the usual two-sided test at the 5 % level and
80 % power (equal group sizes):

* a rate (a share of the people in the metric's denominator: positives for a true positive
  rate, everyone for a selection rate...) uses the two-proportion formula
  ``n = (z_a sqrt(2 p q) + z_b sqrt(p1 q1 + p2 q2))^2 / (p1 - p2)^2`` with ``p`` their mean;
* a mean (a regression metric: of the prediction, the error, the absolute error, the squared
  error) uses ``n = (z_a + z_b)^2 (s1^2 + s2^2) / delta^2`` with each group's row spread ``s``.

The gap to detect is the policy's: for a ratio bound ``r``, the best-off (highest) group's value
``v`` against ``r v``; for a difference bound ``d``, against ``v - d``. ``n`` counts the people
in the metric's denominator, so it is divided by the share of the group's rows that are in it
(for a true positive rate, the share of positives) to give rows.

The smallest detectable gap solves the same equations for the gap with the groups' actual
sizes. Score metrics (ROC AUC, balanced accuracy, macro F1) get no estimate.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

__all__ = ["ALPHA", "POWER", "detectable_gap", "required_rows"]

ALPHA = 0.05
POWER = 0.80
_Z_A = NormalDist().inv_cdf(1 - ALPHA / 2)
_Z_B = NormalDist().inv_cdf(POWER)


def _rate_n(p1: float, p2: float) -> float:
    """People per group to tell rates p1 and p2 apart (equal groups)."""
    if p1 == p2:
        return math.inf
    p = (p1 + p2) / 2
    top = _Z_A * math.sqrt(2 * p * (1 - p)) + _Z_B * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return top * top / (p1 - p2) ** 2


def _target(value: float, kind: str, bound: float) -> float:
    return value * bound if kind == "ratio_min" else value - bound


def required_rows(
    *,
    style: str,
    value: float,
    kind: str,
    bound: float,
    share: float = 1.0,
    spread: tuple[float, float] | None = None,
) -> int | None:
    """Rows per group needed to detect the policy's limit with 80 % power at the 5 % level.

    Parameters
    ----------
    style : str
        ``rate`` or ``quantity`` (others: None).
    value : float
        The best-off (highest) group's value.
    kind : str
        ``ratio_min`` or ``difference_max``.
    bound : float
        The policy's bound.
    share : float, default 1
        The share of a group's rows in the metric's denominator.
    spread : pair of float, optional
        For a quantity: the two groups' row standard deviations.

    Returns
    -------
    int or None
        None when no estimate applies (a score metric, a gap of 0, no spread, no share).
    """
    other = _target(value, kind, bound)
    if style == "rate":
        other = min(max(other, 0.0), 1.0)
        n = _rate_n(value, other)
    elif style == "quantity" and spread is not None:
        gap = value - other
        if gap <= 0:
            return None
        n = (_Z_A + _Z_B) ** 2 * (spread[0] ** 2 + spread[1] ** 2) / gap**2
    else:
        return None
    if not math.isfinite(n) or share <= 0:
        return None
    return math.ceil(n / share)


def detectable_gap(
    *,
    style: str,
    value: float,
    sizes: tuple[float, float],
    spread: tuple[float, float] | None = None,
) -> float | None:
    """The smallest gap below ``value`` that groups of ``sizes`` (people in the metric's
    denominator) detect with 80 % power at the 5 % level; None when no estimate applies."""
    n1, n2 = sizes
    if n1 <= 0 or n2 <= 0:
        return None
    if style == "quantity":
        if spread is None:
            return None
        return (_Z_A + _Z_B) * math.sqrt(spread[0] ** 2 / n1 + spread[1] ** 2 / n2)
    if style != "rate" or not 0 < value <= 1:
        return None

    def power_gap(gap: float) -> float:
        p1, p2 = value, value - gap
        p = (n1 * p1 + n2 * p2) / (n1 + n2)
        se0 = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        se1 = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        return _Z_A * se0 + _Z_B * se1 - gap  # <= 0 once the gap is detectable

    low, high = 0.0, value
    if power_gap(high) > 0:
        return None  # not even a rate of 0 could be told from this value
    for _ in range(60):
        mid = (low + high) / 2
        if power_gap(mid) > 0:
            low = mid
        else:
            high = mid
    return high


def power_note(
    result: dict[str, Any], key: str, style: str, kind: str, bound: float, min_group_size: int
) -> dict[str, Any] | None:
    """The sample-size figures of one judged metric of a result, or None.

    Uses the result's ``denominators`` (people in each group's denominator of the metric) and,
    for regression, ``row_sd``; compares the groups that give the disparity.
    """
    from assessments.metrics import group_value

    disparity = (result.get("disparities") or {}).get(key) or {}
    groups = result.get("by_group") or []
    denominators = (result.get("denominators") or {}).get(key)
    if not disparity.get("max_group") or denominators is None:
        return None
    index = {tuple(sorted(g["group"].items())): i for i, g in enumerate(groups)}
    hi = index.get(tuple(sorted(disparity["max_group"].items())))
    lo = index.get(tuple(sorted(disparity["min_group"].items())))
    if hi is None or lo is None:
        return None
    value = group_value(groups[hi], key)
    if value is None:
        return None
    spread = None
    if style == "quantity":
        sd = (result.get("row_sd") or {}).get(key)
        if sd is None:
            return None
        spread = (sd[hi], sd[lo])
    share_hi = denominators[hi] / groups[hi]["count"] if groups[hi]["count"] else 0.0
    share_lo = denominators[lo] / groups[lo]["count"] if groups[lo]["count"] else 0.0
    share = min(share_hi, share_lo)
    needed = required_rows(
        style=style, value=value, kind=kind, bound=bound, share=share, spread=spread
    )
    gap = detectable_gap(
        style=style, value=value, sizes=(denominators[hi], denominators[lo]), spread=spread
    )
    smaller = min(groups[hi]["count"], groups[lo]["count"])
    needed_rows = None if needed is None else max(needed, min_group_size)
    return {
        "rows_per_group": needed_rows,
        "more_rows": None if needed_rows is None else max(0, needed_rows - smaller),
        "smaller_group_rows": smaller,
        "detectable_difference": gap,
        "detectable_ratio": None if gap is None or value <= 0 else max(0.0, 1 - gap / value),
        "alpha": ALPHA,
        "power": POWER,
    }
