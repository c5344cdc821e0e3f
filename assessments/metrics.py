"""Group fairness metrics computed from confusion counts, with bootstrap confidence intervals.

Rows are first aggregated into confusion counts per intersectional group (one ``np.bincount``
over ``cell * 4 + y_true * 2 + y_pred``, where ``cell`` combines the features' integer codes;
categorical columns are used through their codes, so no string is touched per row). The pass
runs in chunks of :data:`CHUNK_ROWS` rows, so its temporary memory stays small. Every
count-based metric, every between-group difference and ratio, and fairlearn's summary values
follow from those counts, so the work after the single pass does not depend on the number of
rows (about 10 ms for 10 groups and 1,000 resamples).

Relation to fairlearn
---------------------
Where a metric is defined, the values equal ``fairlearn.metrics.MetricFrame`` on the raw rows
(``selection_rate``, ``true_positive_rate``, ``false_positive_rate``, ``false_negative_rate``,
``true_negative_rate``, ``sklearn.metrics.accuracy_score``, ``sklearn.metrics.precision_score``,
``count``), and the differences, ratios and summary values equal ``MetricFrame.difference()`` /
``MetricFrame.ratio()`` (``method="between_groups"``) and
``demographic_parity_*``, ``equalized_odds_*`` (``agg="worst_case"``) and
``equal_opportunity_*``.

The one deliberate difference is **undefined values**. fairlearn (through scikit-learn)
returns 0 for a rate whose denominator is empty, e.g. the true positive rate of a group with no
positive outcomes, or the precision of a group with no positive predictions. Reporting 0 there
would show a disparity that does not exist, so this module reports ``None`` and says why in
the group's ``undefined`` mapping. Consequently:

* a group's undefined metric is left out of that metric's difference and ratio (fairlearn would
  count it as 0);
* a difference or ratio needs at least two groups where the metric is defined, otherwise it is
  ``None``; a ratio is also ``None`` when the largest value is 0 (fairlearn: NaN);
* ``equalized_odds_difference`` / ``_ratio`` are ``None`` when either of their true positive
  rate or false positive rate components lacks two defined groups; a component ratio that is
  undefined only because every group's value is 0 is left out of the worst case.

Bootstrap
---------
Confidence intervals are percentile intervals (linear interpolation, numpy's default) from
``n_boot`` resamples. A resample draws the ``n_groups * 4`` confusion counts from
``Multinomial(n_rows, counts / n_rows)``, which has exactly the distribution of the confusion
counts of ``n_rows`` rows drawn with replacement, so it is equivalent to resampling rows while
costing nothing per row. In a resample a group may lose every row of a metric's denominator;
the metric is then undefined *in that resample*:

* a group metric's interval uses the resamples where it is defined, and is ``None`` when more
  than ``MAX_UNDEFINED_FRACTION`` (5 %) of the resamples leave it undefined;
* a resample's difference and ratio are taken over the groups that are defined in that resample
  (as for the point estimate); the resample counts as undefined for the disparity when fewer
  than two groups are defined (or, for the ratio, the largest value is 0), with the same 5 %
  rule.

The generator is ``numpy.random.default_rng(seed)``, so the same inputs and seed give identical
intervals.

Scores
------
With ``y_score``, each group also gets ``roc_auc`` (equal to ``sklearn.metrics.roc_auc_score``;
``None`` when the group has only one outcome class) and a calibration table. AUC intervals
resample a (group, score bin, outcome) histogram the same multinomial way. With at most
``AUC_BOOT_BINS`` distinct scores the histogram is exact; otherwise scores are put in quantile
bins, and the binned resample distribution is shifted by the (small) difference between the
exact and the binned AUC of the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from policies.fairness import BINARY, split_key, task_metrics

__all__ = [
    "AUC_BOOT_BINS",
    "CELL_ORDER",
    "COUNT_METRICS",
    "MAX_GROUPS",
    "MAX_TOTAL_ROWS",
    "MAX_UNDEFINED_FRACTION",
    "CHUNK_ROWS",
    "SUMMARY_KEYS",
    "BiasResult",
    "chunked_bincount",
    "binary_denominators",
    "chunked_take",
    "compute_bias_metrics",
    "confusion_cells",
    "disparity",
    "encode_groups",
    "group_value",
    "metrics_from_cells",
    "observed_groups",
    "overlapping_bins",
    "small_int_dtype",
]

#: Column order of the confusion cells: index = ``y_true * 2 + y_pred``. Same as
#: ``sklearn.metrics.confusion_matrix(...).ravel()`` for labels ``[0, 1]``.
CELL_ORDER = ("tn", "fp", "fn", "tp")

#: Metrics computed from confusion counts, in report order (the binary metrics of the
#: vocabulary, :mod:`policies.fairness`, but for the score-based ROC AUC).
COUNT_METRICS = tuple(m for m in task_metrics(BINARY) if m != "roc_auc")

SUMMARY_KEYS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)

#: A confidence interval is ``None`` when more resamples than this leave the value undefined.
MAX_UNDEFINED_FRACTION = 0.05

#: At most this many intersectional groups (keeps the bootstrap small; an identifier column
#: chosen as a sensitive feature is a mistake, not a group).
MAX_GROUPS = 1000

#: Score bins used by the AUC bootstrap (its cost is n_boot x groups x bins x 2 draws).
AUC_BOOT_BINS = 128

#: Above this many (group, distinct score, outcome) bins, or above an eighth of the rows
#: (but at least _MIN_AUC_HIST_BINS), the exact AUC is computed per group by sorting instead
#: of from a histogram.
_MAX_AUC_HIST_BINS = 4_000_000
_MIN_AUC_HIST_BINS = 1 << 16

_CALIBRATION_BINS = 10

#: Resamples drawn at once in the AUC bootstrap (bounds its memory).
_AUC_BOOT_BLOCK = 50

#: Rows per chunk in the passes over rows (bounds temporary memory).
CHUNK_ROWS = 1 << 16

# Largest product of feature cardinalities (x 4 outcomes) counted with a dense bincount.
_MAX_DENSE_PRODUCT = 1 << 24

# numerator cells, denominator cells (indices into CELL_ORDER) and why the value is undefined
_DEFINITIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    "selection_rate": ((1, 3), (0, 1, 2, 3), "the group has no rows"),
    "true_positive_rate": ((3,), (2, 3), "no positive outcomes (y_true = 1) in the group"),
    "false_positive_rate": ((1,), (0, 1), "no negative outcomes (y_true = 0) in the group"),
    "false_negative_rate": ((2,), (2, 3), "no positive outcomes (y_true = 1) in the group"),
    "true_negative_rate": ((0,), (0, 1), "no negative outcomes (y_true = 0) in the group"),
    "accuracy": ((0, 3), (0, 1, 2, 3), "the group has no rows"),
    "precision": ((3,), (1, 3), "no positive predictions (y_pred = 1) in the group"),
}
_AUC_UNDEFINED = "the group has only one outcome class, so ROC AUC is undefined"
assert tuple(_DEFINITIONS) == COUNT_METRICS


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------


def confusion_cells(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    group_codes: np.ndarray,
    n_groups: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Count the confusion cells of each group.

    Parameters
    ----------
    y_true : numpy.ndarray of int or bool, shape (n_rows,)
        True outcomes, 1 = positive.
    y_pred : numpy.ndarray of int or bool, shape (n_rows,)
        Predictions, 1 = positive.
    group_codes : numpy.ndarray of int, shape (n_rows,)
        Group of each row, in ``range(n_groups)``.
    n_groups : int
        Number of groups.
    weights : numpy.ndarray of int, shape (n_rows,), optional
        How many identical rows each row stands for (aggregated input); 1 each by default.

    Returns
    -------
    numpy.ndarray of int64, shape (n_groups, 4)
        Counts in the order of :data:`CELL_ORDER`: ``[tn, fp, fn, tp]``.
    """
    codes = np.asarray(group_codes)
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    dtype = np.int64 if n_groups * 4 >= 2**31 else np.int32
    counts = _Counter(n_groups * 4, weights)
    for start in range(0, len(codes), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        idx = codes[start:stop].astype(dtype)
        idx *= 4
        idx += yt[start:stop]
        idx += yt[start:stop]
        idx += yp[start:stop]
        counts.add(idx, start, stop)
    return counts.total().reshape(n_groups, 4)


#: Largest total of frequencies (aggregated input): counts stay exact in float64 sums.
MAX_TOTAL_ROWS = 2**53 - 1


class _Counter:
    """Chunked ``np.bincount`` accumulator, with optional integer weights per row.

    Weighted chunks are summed by ``np.bincount(..., weights=...)`` in float64, which is exact
    while every sum is an integer below 2**53 (the total frequency is bounded by
    :data:`MAX_TOTAL_ROWS`), so a weighted count equals the count of the expanded rows.
    """

    def __init__(self, size: int, weights: np.ndarray | None) -> None:
        self.weights = weights
        self.counts = np.zeros(size, dtype=np.int64 if weights is None else np.float64)

    def add(self, idx: np.ndarray, start: int, stop: int) -> None:
        if self.weights is None:
            self.counts += np.bincount(idx, minlength=len(self.counts))
        else:
            self.counts += np.bincount(
                idx, weights=self.weights[start:stop], minlength=len(self.counts)
            )

    def total(self) -> np.ndarray:
        return self.counts if self.weights is None else self.counts.astype(np.int64)


def metrics_from_cells(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Compute the count-based metrics from confusion counts.

    Parameters
    ----------
    cells : numpy.ndarray, shape (..., 4)
        Confusion counts in the order of :data:`CELL_ORDER`; any leading shape (groups,
        resamples × groups).

    Returns
    -------
    dict of str to numpy.ndarray of float64, each of shape ``cells.shape[:-1]``
        One array per name in :data:`COUNT_METRICS`; NaN where the denominator is 0.
    """
    cells = np.asarray(cells)
    out: dict[str, np.ndarray] = {}
    for name, (num_idx, den_idx, _reason) in _DEFINITIONS.items():
        num = cells[..., list(num_idx)].sum(axis=-1).astype(np.float64)
        den = cells[..., list(den_idx)].sum(axis=-1).astype(np.float64)
        out[name] = np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)
    return out


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _sort_labels(labels: Sequence[str]) -> list[str]:
    uniq = set(labels)
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return sorted(uniq)


def small_int_dtype(n_values: int) -> type[np.signedinteger]:
    """Smallest signed integer type that holds codes ``-1 .. n_values - 1``."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_values <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def chunked_take(lookup: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``lookup[codes]`` in chunks, so that no row-sized ``intp`` index copy is made.

    Negative codes select from the end of ``lookup`` (append a sentinel for code -1).
    """
    out = np.empty(len(codes), dtype=lookup.dtype)
    for start in range(0, len(codes), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        out[start:stop] = lookup[codes[start:stop]]
    return out


def chunked_bincount(codes: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount(codes, minlength=minlength)`` in chunks (codes must be >= 0)."""
    counts = np.zeros(minlength, dtype=np.int64)
    for start in range(0, len(codes), CHUNK_ROWS):
        part = np.bincount(codes[start : start + CHUNK_ROWS], minlength=minlength)
        counts[: len(part)] += part
    return counts


@dataclass(frozen=True)
class _Encoded:
    codes: np.ndarray | None  # compact group index per row (when asked for)
    groups: list[tuple[str, ...]]  # one label tuple per compact group
    cells: np.ndarray | None  # (n_groups, 4) confusion counts (when labels were given)


def encode_groups(sensitive_features: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Integer-code the intersectional groups of one to three sensitive features.

    Categorical columns are used through their codes (no pass over strings); other columns are
    factorized with ``pandas.factorize``. Values are compared by their text (``1``, ``1.0`` and
    ``"1"`` are the same group). Groups are ordered by feature values (numerically when every
    value of a feature is a number, otherwise alphabetically), and only observed combinations
    get a code.

    Parameters
    ----------
    sensitive_features : pandas.DataFrame
        One column per sensitive feature, no missing values.

    Returns
    -------
    codes : numpy.ndarray of int8, int16 or int32, shape (n_rows,)
        Group of each row (the smallest integer type that fits).
    groups : list of tuple of str
        Feature values of each group, in code order.

    Raises
    ------
    ValueError
        If a column has missing values or there are more than :data:`MAX_GROUPS` groups.
    """
    enc = _encode(sensitive_features, want_codes=True)
    assert enc.codes is not None
    return enc.codes, enc.groups


def observed_groups(sensitive_features: pd.DataFrame) -> list[tuple[str, ...]]:
    """The groups of :func:`encode_groups`, without coding each row.

    Parameters
    ----------
    sensitive_features : pandas.DataFrame
        As for :func:`encode_groups`.

    Returns
    -------
    list of tuple of str
        Feature values of each observed group, in the order of :func:`encode_groups`.

    Raises
    ------
    ValueError
        As :func:`encode_groups`.
    """
    return _encode(sensitive_features).groups


def _raw_codes(col: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    """Codes as stored (categorical codes, or factorized) and the text of each code."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cat = col.array
        codes = cat.codes  # a view, no copy
        uniques: Sequence[Any] = list(cat.categories)
    else:
        codes, uniq_index = pd.factorize(col, use_na_sentinel=True)
        uniques = list(uniq_index)
        codes = codes.astype(small_int_dtype(len(uniques)))
    if len(codes) and codes.min() < 0:
        raise ValueError(f"sensitive feature {name!r} has missing values")
    return codes, [_label(u) for u in uniques]


def _combine(
    codes: list[np.ndarray], sizes: list[int], start: int, stop: int, dtype: Any
) -> np.ndarray:
    """Flat index into the product of the features' code ranges, for rows start:stop."""
    out = codes[0][start:stop].astype(dtype)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        out *= size
        out += c[start:stop]
    return out


def _encode(
    sensitive_features: pd.DataFrame,
    *,
    y_true: np.ndarray | None = None,
    y_pred: np.ndarray | None = None,
    want_codes: bool = False,
    weights: np.ndarray | None = None,
) -> _Encoded:
    """Find the observed groups; optionally count confusion cells and code each row.

    Rows are combined in the space of the stored codes (no per-row lookups) in chunks of
    :data:`CHUNK_ROWS`; labels are sorted and merged afterwards on the few observed groups.
    """
    names = [str(c) for c in sensitive_features.columns]
    raw = [_raw_codes(sensitive_features.iloc[:, i], names[i]) for i in range(len(names))]
    codes_list = [r[0] for r in raw]
    labels = [r[1] for r in raw]
    sizes = [max(len(lab), 1) for lab in labels]
    n_rows = len(sensitive_features)
    n_product = math.prod(sizes)
    with_labels = y_true is not None and y_pred is not None
    width = 4 if with_labels else 1
    row_flat: np.ndarray | None = None  # sparse path: observed-combination index per row
    if n_product * width <= _MAX_DENSE_PRODUCT:
        dtype = np.int32
        counter = _Counter(n_product * width, weights)
        for start in range(0, n_rows, CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            idx = _combine(codes_list, sizes, start, stop, dtype)
            if with_labels:
                idx *= 4
                idx += y_true[start:stop]  # type: ignore[index]
                idx += y_true[start:stop]  # type: ignore[index]
                idx += y_pred[start:stop]  # type: ignore[index]
            counter.add(idx, start, stop)
        counts = counter.total().reshape(n_product, width)
        present = np.flatnonzero(counts.sum(axis=1))
        present_counts = counts[present]
    else:  # huge product space (features with many values): factorize the flat index
        flat = _combine(codes_list, sizes, 0, n_rows, np.int64)
        fcodes, uniq = pd.factorize(flat)
        if len(uniq) > MAX_GROUPS:
            raise ValueError(_too_many(len(uniq)))
        present = np.asarray(uniq)
        row_flat = fcodes.astype(small_int_dtype(len(present)))
        if with_labels:
            present_counts = confusion_cells(y_true, y_pred, row_flat, len(present), weights)  # type: ignore[arg-type]
        else:
            counter = _Counter(len(present), weights)
            counter.add(row_flat, 0, n_rows)
            present_counts = counter.total().reshape(-1, 1)

    # label tuples of the observed combinations; merge equal ones and sort
    tuples = []
    for flat_index in present.tolist():
        digits = []
        for size in reversed(sizes):
            flat_index, rem = divmod(flat_index, size)
            digits.append(rem)
        digits.reverse()
        tuples.append(tuple(labels[i][d] for i, d in enumerate(digits)))
    rank = [{lab: r for r, lab in enumerate(_sort_labels(lab_list))} for lab_list in labels]
    groups = sorted(set(tuples), key=lambda t: tuple(rank[i][v] for i, v in enumerate(t)))
    if len(groups) > MAX_GROUPS:
        raise ValueError(_too_many(len(groups)))
    index_of = {g: i for i, g in enumerate(groups)}
    target = np.array([index_of[t] for t in tuples], dtype=np.int64)
    merged = np.zeros((len(groups), width), dtype=np.int64)
    np.add.at(merged, target, present_counts)
    codes = None
    if want_codes:
        dtype_out = small_int_dtype(len(groups))
        if row_flat is not None:
            codes = chunked_take(target.astype(dtype_out), row_flat)
        else:
            compact = np.full(n_product, -1, dtype=dtype_out)
            compact[present] = target
            codes = np.empty(n_rows, dtype=dtype_out)
            for start in range(0, n_rows, CHUNK_ROWS):
                stop = start + CHUNK_ROWS
                codes[start:stop] = compact[_combine(codes_list, sizes, start, stop, np.int32)]
    return _Encoded(codes=codes, groups=groups, cells=merged if with_labels else None)


def _too_many(n: int) -> str:
    return f"the sensitive features define {n:,} groups; at most {MAX_GROUPS:,} are supported"


def _binary(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.dtype == np.bool_:
        return arr.view(np.int8)
    if np.issubdtype(arr.dtype, np.integer):
        ok = not len(arr) or (arr.min() >= 0 and arr.max() <= 1)
    elif np.issubdtype(arr.dtype, np.floating):
        ok = bool(np.isin(arr, (0.0, 1.0)).all())
    else:
        raise ValueError(f"{name} must hold 0/1 numbers or booleans, not {arr.dtype}")
    if not ok:
        raise ValueError(f"{name} must hold only 0 and 1")
    return arr.astype(np.int8, copy=False)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class BiasResult:
    """Result of :func:`compute_bias_metrics`.

    Attributes hold JSON-safe values (``int``, ``float``, ``str``, ``bool``, ``None``, lists and
    dicts) in the shape that :meth:`to_dict` returns; ``cells`` and ``groups`` keep the raw
    confusion counts for further computation.
    """

    n_rows: int
    sensitive_features: list[str]
    overall: dict[str, Any]
    by_group: list[dict[str, Any]]
    disparities: dict[str, dict[str, Any]]
    summary: dict[str, float | None]
    bootstrap: dict[str, Any]
    calibration: dict[str, Any] | None = None
    cells: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64), repr=False)
    groups: list[tuple[str, ...]] = field(default_factory=list, repr=False)
    auc_binned: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the public, JSON-serialisable result.

        Returns
        -------
        dict
            ``{"n_rows", "sensitive_features", "overall", "by_group", "disparities",
            "summary", "calibration" (only with scores), "bootstrap"}``; see the module and
            :func:`compute_bias_metrics` documentation.
        """
        import copy

        out: dict[str, Any] = {
            "n_rows": self.n_rows,
            "sensitive_features": list(self.sensitive_features),
            "overall": dict(self.overall),
            "by_group": copy.deepcopy(self.by_group),
            "disparities": copy.deepcopy(self.disparities),
            "summary": dict(self.summary),
        }
        if self.calibration is not None:
            out["calibration"] = copy.deepcopy(self.calibration)
        if self.auc_binned:
            out["auc_binned"] = True
        out["bootstrap"] = dict(self.bootstrap)
        return out


def group_value(entry: Mapping[str, Any], key: str) -> float | None:
    """A metric's value in a result's group (or ``overall``) entry, whatever the task.

    ``key`` is a plain metric (``"accuracy"``), a per-class metric ``"<metric>[<class>]"``
    (held under ``per_class``) or an outcome rate ``"rate[<column>]"`` (under ``rates``).
    Missing and undefined values are None.
    """
    if key in entry:
        return entry[key]
    name, arg = split_key(key)
    if arg is None:
        return None
    if name == "rate":
        return (entry.get("rates") or {}).get(arg)
    return ((entry.get("per_class") or {}).get(arg) or {}).get(name)


def _f(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _interval(samples: np.ndarray, alpha: float) -> list[list[float] | None]:
    """Percentile intervals of each column of ``samples`` (n_boot, k); NaN = undefined.

    Same as ``np.quantile(..., method="linear")`` over each column's defined values, but
    vectorised over the columns.
    """
    samples = samples.reshape(samples.shape[0], -1)
    n_boot, k = samples.shape
    n_valid = (~np.isnan(samples)).sum(axis=0)
    ok = (n_valid > 0) & ((1.0 - n_valid / n_boot) <= MAX_UNDEFINED_FRACTION)
    out: list[list[float] | None] = [None] * k
    if not ok.any():
        return out
    ordered = np.sort(samples[:, ok], axis=0)  # NaN sorts last
    valid = n_valid[ok]
    cols = np.arange(ordered.shape[1])
    bounds = []
    for q in (alpha / 2, 1 - alpha / 2):
        pos = q * (valid - 1)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, valid - 1)
        t = pos - below
        a, b = ordered[below, cols], ordered[above, cols]
        diff = b - a
        bounds.append(np.where(t >= 0.5, b - diff * (1 - t), a + diff * t))  # numpy's lerp
    for j, col in enumerate(np.flatnonzero(ok)):
        out[col] = [float(bounds[0][j]), float(bounds[1][j])]
    return out


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Max, min, difference and ratio over the last axis, ignoring NaN; NaN if < 2 defined.

    The ratio is fairlearn's ``group_min / group_max``, undefined (NaN) when the maximum is 0.
    """
    defined = ~np.isnan(values)
    n_defined = defined.sum(axis=-1)
    hi = np.where(defined, values, -np.inf).max(axis=-1)
    lo = np.where(defined, values, np.inf).min(axis=-1)
    enough = n_defined >= 2
    diff = np.where(enough, hi - lo, np.nan)
    safe_hi = np.where(enough & (hi != 0), hi, 1.0)
    ratio = np.where(enough & (hi != 0), lo / safe_hi, np.nan)
    return hi, lo, diff, ratio


def disparity(
    values: np.ndarray,
    boot: np.ndarray | None,
    group_dicts: list[dict[str, str]],
    alpha: float,
) -> dict[str, Any]:
    """fairlearn's between-groups difference and ratio of one metric, with their intervals.

    Parameters
    ----------
    values : numpy.ndarray of float, shape (n_groups,)
        The metric per group; NaN where it is undefined (left out, see the module notes).
    boot : numpy.ndarray of float, shape (n_boot, n_groups), or None
        The metric per resample and group (None: no intervals).
    group_dicts : list of dict
        Each group's feature values.
    alpha : float
        1 - the confidence level.

    Returns
    -------
    dict
        ``{"difference", "ratio", "ci_difference", "ci_ratio", "max_group", "min_group"}``.
    """
    _hi, _lo, diff, ratio = _spread(values)
    entry: dict[str, Any] = {
        "difference": _f(diff),
        "ratio": _f(ratio),
        "ci_difference": None,
        "ci_ratio": None,
        "max_group": None,
        "min_group": None,
    }
    if entry["difference"] is not None:
        masked = np.where(np.isnan(values), -np.inf, values)
        entry["max_group"] = group_dicts[int(np.argmax(masked))]
        masked = np.where(np.isnan(values), np.inf, values)
        entry["min_group"] = group_dicts[int(np.argmin(masked))]
        if boot is not None:
            _, _, bdiff, bratio = _spread(boot)
            entry["ci_difference"] = _interval(bdiff, alpha)[0]
            if entry["ratio"] is not None:
                entry["ci_ratio"] = _interval(bratio, alpha)[0]
    return entry


# --------------------------------------------------------------------------------------------
# Scores: ROC AUC and calibration
# --------------------------------------------------------------------------------------------


def _auc_from_hist(hist: np.ndarray) -> np.ndarray:
    """AUC from a histogram (..., n_bins, 2) ordered by score; [..., 0] negatives, 1 positives.

    Ties (same bin) count one half, as in the Mann-Whitney statistic that
    ``roc_auc_score`` equals.
    """
    neg = hist[..., 0].astype(np.float64)
    pos = hist[..., 1].astype(np.float64)
    neg_below = np.cumsum(neg, axis=-1) - neg
    u = (pos * (neg_below + 0.5 * neg)).sum(axis=-1)
    n_pos = pos.sum(axis=-1)
    n_neg = neg.sum(axis=-1)
    den = n_pos * n_neg
    return np.divide(u, den, out=np.full(u.shape, np.nan), where=den > 0)


def _sorted_keys_auc(keys: np.ndarray) -> float:
    """AUC of rows whose sorted ``keys`` are ``score bits << 1 | y`` (see :func:`_score_keys`).

    In that order every negative with a lower or equal score comes before a positive, so
    ``below + ties`` of a positive is the count of negatives before it, and its ties are the
    negatives holding its key with y = 0. Counting in integers makes the result exact (and
    independent of chunking): the Mann-Whitney U, as ``roc_auc_score``.
    """
    n_neg_before = 0
    before_sum = 0  # sum over positives of the negatives before them (below + ties)
    tie_sum = 0
    n_pos = 0
    for start in range(0, len(keys), CHUNK_ROWS):
        part = keys[start : start + CHUNK_ROWS]
        is_pos = (part & 1).astype(bool)
        neg_before = np.cumsum(~is_pos, dtype=np.int64)
        neg_before += n_neg_before
        n_neg_before = int(neg_before[-1])
        pos_keys = part[is_pos]
        n_pos += len(pos_keys)
        before_sum += int(neg_before[is_pos].sum())
        neg_keys = pos_keys - 1
        ties = np.searchsorted(keys, neg_keys, side="right")
        ties -= np.searchsorted(keys, neg_keys, side="left")
        tie_sum += int(ties.sum())
    n_neg = len(keys) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    return (float(before_sum) - 0.5 * float(tie_sum)) / (n_pos * n_neg)


def _score_keys(
    score: np.ndarray, y_true: np.ndarray, codes: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys ``score bits << 1 | y`` laid out group by group, and each group's start.

    For scores in [0, 1] (-0 made +0) the IEEE bits order like the numbers and take 62 bits,
    so a key fits an int64. Rows are placed by a counting sort on the group, in chunks; the
    only row-sized array is the keys themselves.
    """
    sizes = chunked_bincount(codes, n_groups)
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    keys = np.empty(len(score), dtype=np.int64)
    fill = starts[:-1].copy()
    for start in range(0, len(score), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        part = (score[start:stop] + 0.0).view(np.int64) << 1
        part |= y_true[start:stop]
        group = codes[start:stop]
        order = np.argsort(group, kind="stable")
        in_part = np.bincount(group, minlength=n_groups)
        first = np.cumsum(in_part) - in_part  # where each group starts within the part
        sorted_groups = group[order]
        where = fill[sorted_groups] + (np.arange(len(order)) - first[sorted_groups])
        keys[where] = part[order]
        fill += in_part
    return keys, starts


def _distinct_scores(score: np.ndarray, limit: int) -> np.ndarray | None:
    """The sorted distinct scores, or None as soon as there are more than ``limit``."""
    seen = np.empty(0, dtype=np.float64)
    for start in range(0, len(score), CHUNK_ROWS):
        part = pd.unique(score[start : start + CHUNK_ROWS])
        if len(part) > limit:
            return None
        seen = np.union1d(seen, part)
        if len(seen) > limit:
            return None
    return seen


def _score_hist(
    score: np.ndarray,
    y_true: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    edges: np.ndarray,
    side: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(group, score bin, outcome) counts; bin = ``searchsorted(edges, score, side)``."""
    n_bins = len(edges) + (1 if side == "right" else 0)
    counts = _Counter(n_groups * n_bins * 2, weights)
    for start in range(0, len(score), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        idx = codes[start:stop].astype(np.int64)
        idx *= n_bins
        idx += np.searchsorted(edges, score[start:stop], side=side)
        idx *= 2
        idx += y_true[start:stop]
        counts.add(idx, start, stop)
    return counts.total().reshape(n_groups, n_bins, 2)


def _weighted_sorted_auc(keys: np.ndarray, weights: np.ndarray) -> float:
    """AUC of weighted rows from their sort keys (see :func:`_score_keys`), exact.

    Equals :func:`_sorted_keys_auc` of the expanded rows (each row repeated ``weight`` times):
    the same integer sums, turned into a float the same way.
    """
    order = np.argsort(keys, kind="stable")
    keys, weights = keys[order], weights[order]
    is_pos = (keys & 1).astype(bool)
    neg_w = np.where(is_pos, 0, weights)
    cum_neg = np.concatenate([[0], np.cumsum(neg_w)])
    pos_keys, pos_w = keys[is_pos], weights[is_pos]
    # negatives with the same score have key - 1 and sort just before
    below = cum_neg[np.searchsorted(keys, pos_keys - 1, side="left")]
    upto = cum_neg[np.searchsorted(keys, pos_keys - 1, side="right")]
    n_pos, n_neg = int(pos_w.sum()), int(neg_w.sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    if n_pos * n_neg < 2**62:
        before_sum = int((pos_w * upto).sum())
        tie_sum = int((pos_w * (upto - below)).sum())
    else:  # products beyond int64: Python integers
        before_sum = sum(int(w) * int(u) for w, u in zip(pos_w, upto, strict=True))
        tie_sum = sum(int(w) * int(u - b) for w, u, b in zip(pos_w, upto, below, strict=True))
    return (float(before_sum) - 0.5 * float(tie_sum)) / (n_pos * n_neg)


def _expanded_sample(score: np.ndarray, weights: np.ndarray, step: int) -> np.ndarray:
    """``sorted(expanded scores)[::step]`` without expanding (for quantile bin edges)."""
    order = np.argsort(score, kind="stable")
    cum = np.cumsum(weights[order])
    positions = np.arange(0, int(cum[-1]), step, dtype=np.int64)
    return score[order][np.searchsorted(cum, positions, side="right")]


def _score_stats(
    score: np.ndarray,
    y_true: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    rng: np.random.Generator,
    n_boot: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Exact AUC per group and overall, and AUC bootstrap samples (n_boot, n_groups).

    With few distinct scores the exact AUCs come from a (group, distinct score, outcome)
    histogram; otherwise from sorted keys (:func:`_score_keys`). Every pass over the rows runs
    in chunks, so the row-sized memory is at most one int64 a row (the keys). With
    ``weights`` (aggregated rows) every count, and so every result, equals that of the
    expanded rows.
    """
    n_total = len(score) if weights is None else int(weights.sum())
    # a histogram cell costs ~40 bytes in all, a sort key 8 bytes a row
    max_bins = min(_MAX_AUC_HIST_BINS, max(n_total // 8, _MIN_AUC_HIST_BINS))
    distinct = _distinct_scores(score, max_bins // (2 * n_groups))
    fine = None
    if distinct is not None:
        fine = _score_hist(score, y_true, codes, n_groups, distinct, "left", weights)
        exact_groups = _auc_from_hist(fine)
        exact_overall = float(_auc_from_hist(fine.sum(axis=0)))
    else:
        keys, starts = _score_keys(score, y_true, codes, n_groups)
        exact_groups = np.full(n_groups, np.nan)
        if weights is not None:
            order = np.argsort(codes, kind="stable")
            w_sorted = weights[order]  # the keys are laid out group by group, rows in order
            for g in range(n_groups):
                part = slice(starts[g], starts[g + 1])
                exact_groups[g] = _weighted_sorted_auc(keys[part], w_sorted[part])
            exact_overall = _weighted_sorted_auc(keys, w_sorted)
        else:
            for g in range(n_groups):
                group_keys = keys[starts[g] : starts[g + 1]]
                group_keys.sort()
                exact_groups[g] = _sorted_keys_auc(group_keys)
            keys.sort()
            exact_overall = _sorted_keys_auc(keys)
        del keys

    # bootstrap histogram
    if distinct is not None and len(distinct) <= AUC_BOOT_BINS:
        coarse = fine
    else:
        step = max(1, n_total // 200_000)
        sample = score[::step] if weights is None else _expanded_sample(score, weights, step)
        edges = np.unique(np.quantile(sample, np.linspace(0, 1, AUC_BOOT_BINS + 1)[1:-1]))
        coarse = _score_hist(score, y_true, codes, n_groups, edges, "right", weights)
    assert coarse is not None
    total = int(coarse.sum())
    p = coarse.ravel() / total
    boot_groups = np.empty((n_boot, n_groups))
    # in blocks of resamples (the same draws as all at once): a block's histograms take
    # block x groups x bins x 2 int64s
    for start in range(0, n_boot, _AUC_BOOT_BLOCK):
        size = min(_AUC_BOOT_BLOCK, n_boot - start)
        draws = rng.multinomial(total, p, size=size).reshape((size, *coarse.shape))
        boot_groups[start : start + size] = _auc_from_hist(draws)
    # shift by the binning bias (zero when the histogram is exact)
    boot_groups += exact_groups - _auc_from_hist(coarse)
    return exact_groups, exact_overall, boot_groups


# Scores are summed exactly as integers in units of 2**-62 (three 21-bit limbs), so that a sum
# does not depend on the order or grouping of its terms: aggregated rows give the same mean
# score as the expanded rows. Scores below 2**-10 are truncated to that unit (an error below
# 2**-62 per row).
_SCORE_UNIT_BITS = 62
_LIMB_BITS = 21
_LIMB_MASK = (1 << _LIMB_BITS) - 1


def _score_limbs(part: np.ndarray) -> list[np.ndarray]:
    q = np.floor(part * float(2**_SCORE_UNIT_BITS)).astype(np.int64)
    return [(q >> (_LIMB_BITS * i)) & _LIMB_MASK for i in range(3)]


def _exact_score_sums(
    score: np.ndarray, idx_of: Any, size: int, weights: np.ndarray | None
) -> list[int]:
    """Exact sums of ``score`` (times ``weights``) per bin ``idx_of(start, stop)``, in units
    of 2**-62, as Python integers."""
    limb_sums = [np.zeros(size, dtype=np.int64) for _ in range(3)]
    small = weights is None or (int(weights.max(initial=0)) < 2**_LIMB_BITS)
    chunk = CHUNK_ROWS if weights is None else 1 << 10
    objects: list[int] | None = None if small else [0] * size
    for start in range(0, len(score), chunk):
        stop = start + chunk
        idx = idx_of(start, stop)
        limbs = _score_limbs(score[start:stop])
        if objects is not None:  # weights too large for exact float sums: Python integers
            w = weights[start:stop]  # type: ignore[index]
            for i, q, wt in zip(
                idx.tolist(),
                sum(limb << (_LIMB_BITS * k) for k, limb in enumerate(limbs)).tolist(),
                w.tolist(),
                strict=True,
            ):
                objects[i] += q * wt
            continue
        for k in range(3):
            # a chunk's sums stay below 2**53 (exact in float64): limbs < 2**21, and at most
            # 2**16 rows of weight 1 or 2**10 rows of weight < 2**21
            values = limbs[k] if weights is None else limbs[k] * weights[start:stop]
            limb_sums[k] += np.bincount(idx, weights=values, minlength=size).astype(np.int64)
    if objects is not None:
        return objects
    return [
        int(a) + (int(b) << _LIMB_BITS) + (int(c) << (2 * _LIMB_BITS))
        for a, b, c in zip(*limb_sums, strict=True)
    ]


def _calibration(
    score: np.ndarray,
    y_true: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    group_dicts: list[dict[str, str]],
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    k = _CALIBRATION_BINS
    size = n_groups * k

    def bin_index(start: int, stop: int) -> np.ndarray:
        part = score[start:stop]
        idx = np.minimum((part * k).astype(np.int64), k - 1)
        idx += codes[start:stop].astype(np.int64) * k
        return idx

    count = _Counter(size, weights)
    positives = _Counter(size + 1, weights)  # the last bin collects the negatives
    for start in range(0, len(score), CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        idx = bin_index(start, stop)
        count.add(idx, start, stop)
        positives.add(np.where(y_true[start:stop] == 1, idx, size), start, stop)
    count_g = count.total().reshape(n_groups, k)
    pos_g = positives.total()[:size].reshape(n_groups, k)
    sums = _exact_score_sums(score, bin_index, size, weights)
    sum_g = [sums[g * k : (g + 1) * k] for g in range(n_groups)]
    sum_all = [sum(sum_g[g][b] for g in range(n_groups)) for b in range(k)]
    unit = 1 << _SCORE_UNIT_BITS

    def rows(c: np.ndarray, s: list[int], p: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for b in range(k):
            n = int(c[b])
            out.append(
                {
                    "bin": [b / k, (b + 1) / k],
                    "count": n,
                    "mean_score": s[b] / (n * unit) if n else None,
                    "observed_rate": float(p[b] / n) if n else None,
                }
            )
        return out

    return {
        "n_bins": k,
        "binning": "equal width on [0, 1]; the last bin includes 1",
        "overall": rows(count_g.sum(0), sum_all, pos_g.sum(0)),
        "by_group": [
            {"group": group_dicts[g], "bins": rows(count_g[g], sum_g[g], pos_g[g])}
            for g in range(n_groups)
        ],
    }


# --------------------------------------------------------------------------------------------
# Main entry point
# --------------------------------------------------------------------------------------------


def compute_bias_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    sensitive_features: pd.DataFrame,
    y_score: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
    frequency: Any = None,
    y_score_bins: tuple[Any, Any] | None = None,
) -> BiasResult:
    """Compute disaggregated fairness metrics, disparities and bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of {0, 1} or bool, shape (n_rows,)
        True outcomes, 1 = positive.
    y_pred : array-like of {0, 1} or bool, shape (n_rows,)
        Predictions, 1 = positive.
    sensitive_features : pandas.DataFrame
        One to three columns; every observed combination of their values is a group.
        Categorical columns are fastest. No missing values (see
        :func:`assessments.bias_input.prepare`).
    y_score : array-like of float in [0, 1], shape (n_rows,), optional
        Scores; adds ``roc_auc`` and a calibration table.
    n_boot : int, default 1000
        Number of bootstrap resamples (0 disables intervals).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives the same intervals.
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_group_size : int, default 30
        Groups with fewer rows are reported with ``small_group: true``. They still take part
        in the disparities (as in fairlearn); :func:`assessments.verdicts.judge` decides what
        that means for a verdict.
    frequency : array-like of int > 0, shape (n_rows,), optional
        Aggregated input: how many identical rows each row stands for. The result (every
        value and, under the same seed, every interval) is identical to that of the rows
        repeated that many times. ``n_rows`` and the counts are then sums of frequencies.
    y_score_bins : pair of array-like of float, optional
        Binned scores instead of ``y_score``: each row's score bin ``[low, high)``. Two bins
        are identical or disjoint. ROC AUC then counts pairs in the same bin as ties (as the
        rows would with ``y_score = low``), the result says ``"auc_binned": true``, and the
        calibration table is by the given bins.

    Returns
    -------
    BiasResult
        ``to_dict()`` gives::

            {"n_rows": int, "sensitive_features": [str],
             "overall": {metric: float | None, "count": int},
             "by_group": [{"group": {feature: str}, "count": int, "small_group": bool,
                           metric: float | None, ..., "ci": {metric: [lo, hi] | None},
                           "undefined": {metric: reason}}],
             "disparities": {metric: {"difference", "ratio", "ci_difference", "ci_ratio",
                                      "max_group", "min_group"}},
             "summary": {"demographic_parity_difference", "demographic_parity_ratio",
                         "equalized_odds_difference", "equalized_odds_ratio",
                         "equal_opportunity_difference", "equal_opportunity_ratio"},
             "calibration": {...},  # only with y_score
             "bootstrap": {"n_boot": int, "seed": int, "confidence": float}}

        Metrics are :data:`COUNT_METRICS`, plus ``roc_auc`` with scores. Group values are
        strings. Undefined values are ``None`` (never NaN).

    Raises
    ------
    ValueError
        If the inputs have different lengths, labels are not 0/1, scores are outside [0, 1],
        there are no rows, a sensitive feature has missing values, or there are not one to
        three sensitive features.
    """
    if not isinstance(sensitive_features, pd.DataFrame):
        raise ValueError("sensitive_features must be a pandas DataFrame")
    names = [str(c) for c in sensitive_features.columns]
    if not 1 <= len(names) <= 3:
        raise ValueError("give one to three sensitive features")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    if n_boot < 0:
        raise ValueError("n_boot must not be negative")
    yt = _binary(y_true, "y_true")
    yp = _binary(y_pred, "y_pred")
    n_rows = len(yt)
    if n_rows == 0:
        raise ValueError("no rows")
    if len(yp) != n_rows or len(sensitive_features) != n_rows:
        raise ValueError("y_true, y_pred and sensitive_features must have the same length")
    weights = None
    if frequency is not None:
        weights = _frequency(frequency, n_rows)
    score = None
    bins = None
    if y_score is not None and y_score_bins is not None:
        raise ValueError("give y_score or y_score_bins, not both")
    if y_score_bins is not None:
        bins = _score_bins(y_score_bins, n_rows)
        score = bins[0]  # AUC: rows in one bin tie, ordered by the bins' lower edges
    elif y_score is not None:
        score = np.asarray(y_score, dtype=np.float64)
        if score.shape != (n_rows,):
            raise ValueError("y_score must have one value per row")
        if len(score) and not (score.min() >= 0 and score.max() <= 1):  # NaN fails too
            raise ValueError("y_score must hold numbers between 0 and 1")

    enc = _encode(
        sensitive_features, y_true=yt, y_pred=yp, want_codes=score is not None, weights=weights
    )
    n_rows = n_rows if weights is None else int(weights.sum())
    n_groups = len(enc.groups)
    cells = enc.cells
    assert cells is not None
    rng = np.random.default_rng(seed)
    alpha = 1.0 - confidence

    group_metrics = metrics_from_cells(cells)  # metric -> (G,)
    overall_metrics = metrics_from_cells(cells.sum(axis=0))
    metric_names = list(COUNT_METRICS)
    boot: dict[str, np.ndarray] = {}
    if n_boot:
        total = int(cells.sum())
        draws = rng.multinomial(total, cells.ravel() / total, size=n_boot).reshape(
            n_boot, n_groups, 4
        )
        boot = metrics_from_cells(draws)  # metric -> (B, G)

    calibration = None
    if score is not None:
        auc_g, auc_all, auc_boot_g = _score_stats(
            score, yt, enc.codes, n_groups, rng, max(n_boot, 1), weights
        )
        group_metrics["roc_auc"] = auc_g
        overall_metrics["roc_auc"] = np.float64(auc_all)
        if n_boot:
            boot["roc_auc"] = auc_boot_g
        metric_names.append("roc_auc")

    group_dicts = [dict(zip(names, g, strict=True)) for g in enc.groups]
    counts = cells.sum(axis=1)
    reasons = {name: _DEFINITIONS[name][2] for name in COUNT_METRICS}
    reasons["roc_auc"] = _AUC_UNDEFINED

    # per-group intervals
    group_ci: dict[str, list[list[float] | None]] = {}
    for name in metric_names:
        group_ci[name] = _interval(boot[name], alpha) if n_boot else [None] * n_groups

    by_group: list[dict[str, Any]] = []
    for g in range(n_groups):
        entry: dict[str, Any] = {
            "group": group_dicts[g],
            "count": int(counts[g]),
            "small_group": bool(counts[g] < min_group_size),
        }
        undefined: dict[str, str] = {}
        ci: dict[str, list[float] | None] = {}
        for name in metric_names:
            value = _f(group_metrics[name][g])
            entry[name] = value
            if value is None:
                undefined[name] = reasons[name]
                ci[name] = None
            else:
                ci[name] = group_ci[name][g]
        entry["ci"] = ci
        entry["undefined"] = undefined
        by_group.append(entry)

    overall: dict[str, Any] = {name: _f(overall_metrics[name]) for name in metric_names}
    overall["count"] = n_rows

    disparities = {
        name: disparity(group_metrics[name], boot.get(name), group_dicts, alpha)
        for name in metric_names
    }

    def worst(kind: str, pick: Any) -> float | None:
        # None when a component lacks two defined groups; a ratio that is undefined only
        # because every group's value is 0 (perfect parity) is left out of the worst case
        eo = [disparities[m] for m in ("true_positive_rate", "false_positive_rate")]
        if any(d["difference"] is None for d in eo):
            return None
        parts = [d[kind] for d in eo if d[kind] is not None]
        return pick(parts) if parts else None

    summary = {
        "demographic_parity_difference": disparities["selection_rate"]["difference"],
        "demographic_parity_ratio": disparities["selection_rate"]["ratio"],
        "equalized_odds_difference": worst("difference", max),
        "equalized_odds_ratio": worst("ratio", min),
        "equal_opportunity_difference": disparities["true_positive_rate"]["difference"],
        "equal_opportunity_ratio": disparities["true_positive_rate"]["ratio"],
    }

    if bins is not None:
        calibration = _binned_calibration(bins, yt, enc.codes, n_groups, group_dicts, weights)
    elif score is not None:
        calibration = _calibration(score, yt, enc.codes, n_groups, group_dicts, weights)

    return BiasResult(
        n_rows=n_rows,
        sensitive_features=names,
        overall=overall,
        by_group=by_group,
        disparities=disparities,
        summary=summary,
        bootstrap={"n_boot": int(n_boot), "seed": int(seed), "confidence": float(confidence)},
        calibration=calibration,
        cells=cells,
        groups=enc.groups,
        auc_binned=bins is not None,
    )


def binary_denominators(cells: np.ndarray) -> dict[str, list[int]]:
    """People in each group's denominator of every count metric (for sample-size figures).

    Parameters
    ----------
    cells : numpy.ndarray, shape (n_groups, 4)
        Confusion counts (``BiasResult.cells``).

    Returns
    -------
    dict of str to list of int
    """
    return {
        name: [int(v) for v in cells[:, list(den)].sum(axis=1)]
        for name, (_num, den, _why) in _DEFINITIONS.items()
    }


def _frequency(frequency: Any, n_rows: int) -> np.ndarray:
    """Validated frequencies: positive integers, one per row, a total within the limit."""
    w = np.asarray(frequency)
    if w.shape != (n_rows,):
        raise ValueError("frequency must have one value per row")
    if not np.issubdtype(w.dtype, np.integer):
        if not np.issubdtype(w.dtype, np.floating) or not np.all(np.floor(w) == w):
            raise ValueError("frequency must hold whole numbers")
    if len(w) and w.min() <= 0:
        raise ValueError("frequency must be positive (leave out rows that stand for no row)")
    w = w.astype(np.int64)
    if float(w.sum(dtype=np.float64)) > MAX_TOTAL_ROWS:
        raise ValueError(f"the frequencies add up to more than {MAX_TOTAL_ROWS:,} rows")
    return w


def _score_bins(bins: tuple[Any, Any], n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated score bins ``(low, high)``: low in [0, 1], high above low, bins disjoint."""
    low = np.asarray(bins[0], dtype=np.float64)
    high = np.asarray(bins[1], dtype=np.float64)
    if low.shape != (n_rows,) or high.shape != (n_rows,):
        raise ValueError("y_score_bins must hold one (low, high) pair per row")
    if len(low) and not (low.min() >= 0 and low.max() <= 1 and np.all(high > low)):
        raise ValueError("score bins must have 0 <= low <= 1 and high > low")
    pair = overlapping_bins(low, high)
    if pair is not None:
        raise ValueError(f"score bins of rows {pair[0] + 1} and {pair[1] + 1} overlap")
    return low, high


#: Score bins may overlap by this much (rounding in computed edges) and still count as disjoint.
BIN_EDGE_TOLERANCE = 1e-9


def overlapping_bins(low: np.ndarray, high: np.ndarray) -> tuple[int, int] | None:
    """The first two rows (0-based) whose score bins overlap without being identical, or None.

    Two bins overlap when one ends more than :data:`BIN_EDGE_TOLERANCE` after the next begins.

    Parameters
    ----------
    low, high : numpy.ndarray of float
        Each row's bin ``[low, high)``.

    Returns
    -------
    tuple of int or None
    """
    frame = pd.DataFrame({"low": low, "high": high})
    distinct = frame.drop_duplicates().sort_values(["low", "high"], kind="stable")
    lo, hi = distinct["low"].to_numpy(), distinct["high"].to_numpy()
    # edges computed in floating point (low + width) may pass the next bin's low by a hair
    clash = np.flatnonzero(hi[:-1] > lo[1:] + BIN_EDGE_TOLERANCE)
    if not len(clash):
        return None
    first, second = distinct.index[clash[0]], distinct.index[clash[0] + 1]
    return (int(min(first, second)), int(max(first, second)))


#: Above this many distinct score bins, the binned calibration table merges them into tenths.
_MAX_CALIBRATION_BINS = 50


def _binned_calibration(
    bins: tuple[np.ndarray, np.ndarray],
    y_true: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    group_dicts: list[dict[str, str]],
    weights: np.ndarray | None,
) -> dict[str, Any]:
    """Calibration by the submitted score bins (their mean score is not known: None)."""
    low, high = bins
    edges = pd.DataFrame({"low": low, "high": high}).drop_duplicates()
    edges = edges.sort_values(["low", "high"]).to_numpy()
    merged = len(edges) > _MAX_CALIBRATION_BINS
    if merged:  # tenths of [0, 1], each submitted bin counted where its lower edge lies
        table = np.array([[b / 10, (b + 1) / 10] for b in range(10)])
        index = np.minimum((low * 10).astype(np.int64), 9)
    else:
        table = edges
        index = np.searchsorted(edges[:, 0], low, side="left")
    k = len(table)
    size = n_groups * k
    idx = codes.astype(np.int64) * k + index
    count = _Counter(size, weights)
    count.add(idx, 0, len(idx))
    positives = _Counter(size + 1, weights)
    positives.add(np.where(y_true == 1, idx, size), 0, len(idx))
    count_g = count.total().reshape(n_groups, k)
    pos_g = positives.total()[:size].reshape(n_groups, k)

    def rows(c: np.ndarray, p: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "bin": [float(table[b, 0]), float(table[b, 1])],
                "count": int(c[b]),
                "mean_score": None,
                "observed_rate": float(p[b] / c[b]) if c[b] else None,
            }
            for b in range(k)
        ]

    return {
        "n_bins": k,
        "binning": (
            "tenths of [0, 1]; each submitted score bin is counted in the tenth holding its "
            "lower edge"
            if merged
            else "the submitted score bins (their mean score is not known)"
        ),
        "overall": rows(count_g.sum(0), pos_g.sum(0)),
        "by_group": [
            {"group": group_dicts[g], "bins": rows(count_g[g], pos_g[g])} for g in range(n_groups)
        ],
    }
