"""Group fairness of a multiclass classifier (triage, routing, sentiment), with intervals.

Rows are counted once into a confusion matrix per intersectional group: a (group, true class,
predicted class) cell table, with optional frequencies (aggregated input) that give exactly
the counts of the expanded rows. Everything follows from those cells:

* ``accuracy`` and, per class one-vs-rest, ``selection_rate`` (the share of the group routed to
  the class), ``true_positive_rate``, ``false_positive_rate`` and ``precision`` are ratios of
  cell counts (equal to fairlearn's ``MetricFrame`` with ``sklearn.metrics.accuracy_score`` and
  fairlearn's rate functions on the one-vs-rest labels);
* ``balanced_accuracy`` and ``macro_f1`` are computed at run time by fairlearn's
  ``MetricFrame`` with ``sklearn.metrics.balanced_accuracy_score`` and
  ``sklearn.metrics.f1_score(average="macro")`` on the collapsed cells, each weighted by its
  count (``sample_weight``), which gives the values of the raw rows. As in scikit-learn, a
  group's balanced accuracy averages the recall of the classes that occur among its true
  outcomes, and its macro F1 averages the F1 of the classes that occur among its true
  outcomes or predictions.

Undefined values are ``None`` with a reason, never 0 (scikit-learn and fairlearn report 0): the
true positive rate of a class the group has no cases of, the false positive rate of a class
every case of the group belongs to, the precision of a class no case of the group was routed to.

Bootstrap: the cells are drawn from ``Multinomial(n_rows, cells / n_rows)`` (the distribution of
the cell counts of rows drawn with replacement), in blocks of resamples; each resample's
metrics come from its confusion matrices by the same formulas as scikit-learn's (checked
against it in the tests). Percentile intervals and the 5 % undefined rule are those of
:mod:`assessments.metrics`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from assessments.metrics import (
    _Counter,
    _encode,
    _f,
    _frequency,
    _interval,
    disparity,
)
from policies.fairness import MULTICLASS, PER_CLASS_NAMES, metric_key, task_metrics

__all__ = [
    "GROUP_METRICS",
    "PER_CLASS_METRICS",
    "KindResult",
    "compute_multiclass_metrics",
    "metrics_from_confusion",
]

#: Metrics with one value per group, in report order (from the vocabulary).
GROUP_METRICS = tuple(m for m in task_metrics(MULTICLASS) if m not in PER_CLASS_NAMES)
#: One-vs-rest metrics with one value per group and class, in report order.
PER_CLASS_METRICS = tuple(m for m in task_metrics(MULTICLASS) if m in PER_CLASS_NAMES)

_UNDEFINED = {
    "true_positive_rate": "no case of the group has the true class “{cls}”",
    "false_positive_rate": "every case of the group has the true class “{cls}”",
    "precision": "no case of the group was predicted “{cls}”",
    "selection_rate": "the group has no rows",
}

# Cells drawn per block of resamples (bounds the bootstrap's memory).
_BLOCK_CELLS = 1 << 22


class KindResult:
    """A result of one of the newer check kinds; :meth:`to_dict` gives its public form."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        """Return the public, JSON-serialisable result (a deep copy)."""
        import copy

        return copy.deepcopy(self.data)


def metrics_from_confusion(conf: np.ndarray) -> dict[str, np.ndarray]:
    """Multiclass metrics from confusion matrices.

    Parameters
    ----------
    conf : numpy.ndarray, shape (..., n_classes, n_classes)
        Counts, ``conf[..., true, predicted]``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` of shape ``conf.shape[:-2]`` and the
        per-class metrics of shape ``conf.shape[:-1]``; NaN where undefined.
    """
    conf = np.asarray(conf, dtype=np.float64)
    n = conf.sum(axis=(-2, -1))
    diag = np.diagonal(conf, axis1=-2, axis2=-1)
    true_n = conf.sum(axis=-1)  # cases of each true class
    pred_n = conf.sum(axis=-2)  # cases predicted as each class
    nan = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(n > 0, diag.sum(axis=-1) / np.where(n > 0, n, 1), nan)
        recall = np.where(true_n > 0, diag / np.where(true_n > 0, true_n, 1), nan)
        n_true_classes = (true_n > 0).sum(axis=-1)
        balanced = np.where(
            n_true_classes > 0,
            np.nansum(recall, axis=-1) / np.where(n_true_classes > 0, n_true_classes, 1),
            nan,
        )
        present = (true_n + pred_n) > 0
        f1_den = true_n + pred_n  # 2 tp + fp + fn
        f1 = np.where(present, 2 * diag / np.where(present, f1_den, 1), 0.0)
        n_present = present.sum(axis=-1)
        macro_f1 = np.where(
            n_present > 0, f1.sum(axis=-1) / np.where(n_present > 0, n_present, 1), nan
        )
        n_b = n[..., None]
        selection = np.where(n_b > 0, pred_n / np.where(n_b > 0, n_b, 1), nan)
        negatives = n_b - true_n
        fpr = np.where(negatives > 0, (pred_n - diag) / np.where(negatives > 0, negatives, 1), nan)
        precision = np.where(pred_n > 0, diag / np.where(pred_n > 0, pred_n, 1), nan)
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "macro_f1": macro_f1,
        "selection_rate": selection,
        "true_positive_rate": recall,
        "false_positive_rate": fpr,
        "precision": precision,
    }


def _fairlearn_scores(cells: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Balanced accuracy and macro F1 per group and overall, by fairlearn's MetricFrame with
    scikit-learn's functions on the collapsed cells weighted by their counts."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import balanced_accuracy_score, f1_score

    def macro_f1(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        return f1_score(y_true, y_pred, average="macro", sample_weight=sample_weight)

    group, true, pred = np.nonzero(cells)
    weight = cells[group, true, pred].astype(np.float64)
    with warnings.catch_warnings():
        # scikit-learn warns when a group's predictions hold a class its true outcomes do not;
        # that class is left out of the balanced accuracy, as documented above
        warnings.filterwarnings(
            "ignore", message="y_pred contains classes not in y_true", category=UserWarning
        )
        # a group whose rows all hold one class (in truth and prediction): the confusion
        # matrix is 1 x 1, which is right here
        warnings.filterwarnings(
            "ignore",
            message="A single label was found in 'y_true' and 'y_pred'",
            category=UserWarning,
        )
        frame = MetricFrame(
            metrics={"balanced_accuracy": balanced_accuracy_score, "macro_f1": macro_f1},
            y_true=true,
            y_pred=pred,
            sensitive_features=pd.Series(group, name="group"),
            sample_params={
                "balanced_accuracy": {"sample_weight": weight},
                "macro_f1": {"sample_weight": weight},
            },
        )
    by_group = frame.by_group.reindex(range(cells.shape[0]))
    return (
        {name: by_group[name].to_numpy(dtype=np.float64) for name in frame.overall.index},
        {name: float(frame.overall[name]) for name in frame.overall.index},
    )


def compute_multiclass_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    classes: list[str],
    sensitive_features: pd.DataFrame,
    frequency: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> KindResult:
    """Compute multiclass fairness metrics per group and class, disparities and intervals.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_rows,)
        True and predicted classes as indices into ``classes``.
    classes : list of str
        The class labels, in report order.
    sensitive_features : pandas.DataFrame
        One to three columns; every observed combination is a group.
    frequency : array-like of int > 0, shape (n_rows,), optional
        Aggregated input: how many identical rows each row stands for.
    n_boot : int, default 1000
        Bootstrap resamples (0: no intervals).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    confidence : float, default 0.95
        Level of the percentile intervals.
    min_group_size : int, default 30
        Groups with fewer rows are marked ``small_group``.

    Returns
    -------
    KindResult
        ``to_dict()`` gives ``{"task", "n_rows", "sensitive_features", "classes", "overall",
        "by_group", "disparities", "bootstrap"}``. ``overall`` and each group hold
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and ``per_class: {class:
        {"selection_rate", "true_positive_rate", "false_positive_rate", "precision"}}``;
        a group also ``count``, ``small_group``, ``ci`` and ``undefined`` keyed by
        ``accuracy`` ... and ``"<metric>[<class>]"``. ``disparities`` is keyed the same way.

    Raises
    ------
    ValueError
        For inputs of different lengths, class indices out of range, or fewer than two classes.
    """
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    k = len(classes)
    n_rows = len(yt)
    if k < 2:
        raise ValueError("a multiclass check needs at least two classes")
    if n_rows == 0:
        raise ValueError("no rows")
    if len(yp) != n_rows or len(sensitive_features) != n_rows:
        raise ValueError("y_true, y_pred and sensitive_features must have the same length")
    for name, arr in (("y_true", yt), ("y_pred", yp)):
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= k:
            raise ValueError(f"{name} must hold class indices 0 .. {k - 1}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    weights = None if frequency is None else _frequency(frequency, n_rows)
    enc = _encode(sensitive_features, want_codes=True)
    assert enc.codes is not None
    n_groups = len(enc.groups)
    names = [str(c) for c in sensitive_features.columns]
    group_dicts = [dict(zip(names, g, strict=True)) for g in enc.groups]

    counter = _Counter(n_groups * k * k, weights)
    for start in range(0, n_rows, 1 << 16):
        stop = start + (1 << 16)
        idx = enc.codes[start:stop].astype(np.int64) * k
        idx += yt[start:stop]
        idx *= k
        idx += yp[start:stop]
        counter.add(idx, start, stop)
    cells = counter.total().reshape(n_groups, k, k)
    total = int(cells.sum())

    point = metrics_from_confusion(cells)
    overall_point = metrics_from_confusion(cells.sum(axis=0))
    mf_groups, mf_overall = _fairlearn_scores(cells)
    for name in ("balanced_accuracy", "macro_f1"):  # the product's numbers are fairlearn's
        point[name] = mf_groups[name]
        overall_point[name] = np.float64(mf_overall[name])

    keys = list(GROUP_METRICS) + [metric_key(m, c) for m in PER_CLASS_METRICS for c in classes]

    def flat(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {m: metrics[m] for m in GROUP_METRICS}
        for m in PER_CLASS_METRICS:
            for j, c in enumerate(classes):
                out[metric_key(m, c)] = metrics[m][..., j]
        return out

    values = flat(point)
    boot: dict[str, np.ndarray] = {}
    if n_boot:
        rng = np.random.default_rng(seed)
        observed = np.flatnonzero(cells.ravel())
        p = cells.ravel()[observed] / total
        parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        block = max(1, _BLOCK_CELLS // cells.size)
        for start in range(0, n_boot, block):
            size = min(block, n_boot - start)
            draws = rng.multinomial(total, p, size=size)
            dense = np.zeros((size, cells.size), dtype=np.int64)
            dense[:, observed] = draws
            resampled = flat(metrics_from_confusion(dense.reshape(size, n_groups, k, k)))
            for key in keys:
                parts[key].append(resampled[key])
        boot = {key: np.concatenate(parts[key]) for key in keys}

    alpha = 1.0 - confidence
    counts = cells.sum(axis=(1, 2))
    group_ci = {key: _interval(boot[key], alpha) if n_boot else [None] * n_groups for key in keys}
    by_group = []
    for g in range(n_groups):
        entry: dict[str, Any] = {
            "group": group_dicts[g],
            "count": int(counts[g]),
            "small_group": bool(counts[g] < min_group_size),
        }
        undefined: dict[str, str] = {}
        ci: dict[str, list[float] | None] = {}
        for m in GROUP_METRICS:
            entry[m] = _f(values[m][g])
            ci[m] = group_ci[m][g] if entry[m] is not None else None
        per_class: dict[str, dict[str, float | None]] = {}
        for c in classes:
            row: dict[str, float | None] = {}
            for m in PER_CLASS_METRICS:
                key = metric_key(m, c)
                value = _f(values[key][g])
                row[m] = value
                ci[key] = group_ci[key][g] if value is not None else None
                if value is None:
                    undefined[key] = _UNDEFINED[m].format(cls=c)
            per_class[c] = row
        entry["per_class"] = per_class
        entry["ci"] = ci
        entry["undefined"] = undefined
        by_group.append(entry)

    overall: dict[str, Any] = {m: _f(overall_point[m]) for m in GROUP_METRICS}
    overall["per_class"] = {
        c: {m: _f(overall_point[m][j]) for m in PER_CLASS_METRICS} for j, c in enumerate(classes)
    }
    overall["count"] = total

    disparities = {key: disparity(values[key], boot.get(key), group_dicts, alpha) for key in keys}
    true_n = cells.sum(axis=2)
    pred_n = cells.sum(axis=1)
    denominators = {m: counts.tolist() for m in GROUP_METRICS}
    for j, c in enumerate(classes):
        denominators[metric_key("selection_rate", c)] = counts.tolist()
        denominators[metric_key("true_positive_rate", c)] = true_n[:, j].tolist()
        denominators[metric_key("false_positive_rate", c)] = (counts - true_n[:, j]).tolist()
        denominators[metric_key("precision", c)] = pred_n[:, j].tolist()
    return KindResult(
        {
            "task": MULTICLASS,
            "n_rows": total,
            "sensitive_features": names,
            "classes": list(classes),
            "overall": overall,
            "by_group": by_group,
            "disparities": disparities,
            "denominators": {k: [int(v) for v in d] for k, d in denominators.items()},
            "bootstrap": {
                "n_boot": int(n_boot),
                "seed": int(seed),
                "confidence": float(confidence),
                "method": "multinomial resampling of the (group, true class, predicted class) "
                "cell counts: the distribution of resampling rows",
            },
        }
    )
