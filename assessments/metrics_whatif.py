"""What-if analysis for a failing binary check with scores: per-group thresholds, and their cost.

For each failing threshold on a rate that fairlearn's ``ThresholdOptimizer`` can equalise
(selection rate, true or false positive or negative rate, equalized odds), the optimizer is fit
on the check's scores and outcomes (the model's scores are the "estimator": prefit, used as
they are) with accuracy as the objective, at several tolerances (the largest difference it may
leave between groups, ``tol``; equalized odds only exactly). Each fit gives per-group,
possibly randomised, thresholds; their expected rates and accuracy on the check's data are
computed from fairlearn's interpolation (the probability of a positive decision for each row),
so the figures do not depend on a random draw. The option reported is the most accurate one
that meets the policy's bound on these data; the others make the trade-off curve.

This is analysis, never a recommendation: it says what per-group thresholds would do to these
data, not whether using them is lawful, fair or wise. Scores are rounded to 0.01 (101 levels,
which bounds the optimizer's cost), and at most :data:`MAX_ROWS` rows are used (a seeded sample
beyond that, drawn by frequency for aggregated rows).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CONSTRAINTS", "MAX_ROWS", "what_if"]

#: The fairlearn constraint that equalises each metric.
CONSTRAINTS = {
    "selection_rate": "demographic_parity",
    "demographic_parity": "demographic_parity",
    "true_positive_rate": "true_positive_rate_parity",
    "equal_opportunity": "true_positive_rate_parity",
    "false_positive_rate": "false_positive_rate_parity",
    "false_negative_rate": "false_negative_rate_parity",
    "true_negative_rate": "true_negative_rate_parity",
    "equalized_odds": "equalized_odds",
}
#: The result metrics each constraint equalises.
_EQUALISED = {
    "demographic_parity": ("selection_rate",),
    "true_positive_rate_parity": ("true_positive_rate",),
    "false_positive_rate_parity": ("false_positive_rate",),
    "false_negative_rate_parity": ("false_negative_rate",),
    "true_negative_rate_parity": ("true_negative_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}
MAX_ROWS = 500_000
_TOLERANCES = 6
NOTE = (
    "Analysis only, not a recommendation: what per-group decision thresholds computed by "
    "fairlearn's ThresholdOptimizer would do on these data. Whether different thresholds per "
    "group are lawful, fair or wise is a decision for the people accountable for the system."
)


def _base_name(metric: str) -> str:
    for suffix in ("_ratio", "_difference"):
        if metric.endswith(suffix) and metric[: -len(suffix)] in CONSTRAINTS:
            return metric[: -len(suffix)]
    return metric


def _scores_estimator() -> Any:
    """The model's scores as a prefit scikit-learn estimator: ``predict`` returns them."""
    from sklearn.base import BaseEstimator

    class Scores(BaseEstimator):
        def fit(self, X: Any, y: Any) -> Any:  # noqa: N803 - scikit-learn's names
            return self

        def predict(self, X: Any) -> np.ndarray:  # noqa: N803
            return np.asarray(X)[:, 0]

        def __sklearn_is_fitted__(self) -> bool:
            return True

    return Scores()


def _rows(
    y_true: np.ndarray,
    score: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    total = len(y_true) if weights is None else int(weights.sum())
    if weights is not None and total <= MAX_ROWS:
        index = np.repeat(np.arange(len(y_true)), weights)
        how = f"all {total:,} rows"
    elif weights is not None:
        index = rng.choice(len(y_true), size=MAX_ROWS, p=weights / weights.sum())
        how = f"a seeded sample of {MAX_ROWS:,} of the {total:,} rows"
    elif total > MAX_ROWS:
        index = np.sort(rng.choice(total, size=MAX_ROWS, replace=False))
        how = f"a seeded sample of {MAX_ROWS:,} of the {total:,} rows"
    else:
        index = np.arange(total)
        how = f"all {total:,} rows"
    return y_true[index].astype(np.int64), np.round(score[index], 2), codes[index], how


def _positive_probability(
    interpolation: dict[Any, Any], score: np.ndarray, codes: np.ndarray
) -> np.ndarray:
    """Each row's probability of a positive decision under the fitted per-group thresholds."""
    p = np.zeros(len(score))
    for group, rule in interpolation.items():
        rows = codes == group
        s = score[rows]
        chance = np.zeros(len(s))
        for weight, operation in ((rule.p0, rule.operation0), (rule.p1, rule.operation1)):
            if weight == 0:
                continue
            hit = s > operation.threshold if operation.operator == ">" else s < operation.threshold
            chance += weight * hit
        p[rows] = chance
    return p


def _rates(p: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    def mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        num = np.bincount(codes[mask], weights=values[mask], minlength=n_groups)
        den = np.bincount(codes[mask], minlength=n_groups).astype(float)
        return np.divide(num, den, out=np.full(n_groups, np.nan), where=den > 0)

    everyone = np.ones(len(y), dtype=bool)
    tpr = mean(p, y == 1)
    fpr = mean(p, y == 0)
    return {
        "selection_rate": mean(p, everyone),
        "true_positive_rate": tpr,
        "false_positive_rate": fpr,
        "false_negative_rate": 1 - tpr,
        "true_negative_rate": 1 - fpr,
    }


def _spread(values: np.ndarray) -> tuple[float, float | None]:
    defined = values[~np.isnan(values)]
    hi, lo = float(defined.max()), float(defined.min())
    return hi - lo, (lo / hi if hi > 0 else None)


def what_if(
    *,
    y_true: np.ndarray,
    y_score: np.ndarray,
    group_codes: np.ndarray,
    groups: list[dict[str, str]],
    findings: list[dict[str, Any]],
    disparities: dict[str, Any],
    current_accuracy: float | None,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Per-group thresholds that would meet each failing threshold, and what they cost.

    Parameters
    ----------
    y_true : numpy.ndarray of {0, 1}
        True outcomes.
    y_score : numpy.ndarray of float
        The model's scores (for binned scores, the bins' lower edges).
    group_codes : numpy.ndarray of int
        Each row's group, an index into ``groups``.
    groups : list of dict
        Each group's feature values.
    findings : list of dict
        The check's findings (:func:`assessments.verdicts.judge`); the failing ones on a metric
        in :data:`CONSTRAINTS` are analysed.
    disparities : dict
        The check's disparities (the tolerances of the curve reach the current difference).
    current_accuracy : float or None
        The accuracy of the model's own decisions (``y_pred``), for comparison.
    weights : numpy.ndarray of int, optional
        Frequencies of aggregated rows.
    seed : int
        Seed of the sample (beyond :data:`MAX_ROWS` rows).

    Returns
    -------
    dict or None
        ``{"note", "rows", "score_resolution", "current_accuracy", "options": [...]}``, or None
        when no failing finding can be analysed.
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    wanted = []
    for finding in findings:
        metric = _base_name(finding.get("metric") or "")
        if finding.get("verdict") == "fail" and metric in CONSTRAINTS and finding.get("threshold"):
            wanted.append((metric, finding["threshold"]))
    if not wanted:
        return None
    y, score, codes, how = _rows(y_true, y_score, group_codes, weights, seed)
    n_groups = len(groups)
    X = score.reshape(-1, 1)  # noqa: N806
    labels = [", ".join(f"{k} = {v}" for k, v in g.items()) for g in groups]
    options = []
    for metric, threshold in wanted:
        constraint = CONSTRAINTS[metric]
        kind = "ratio_min" if threshold.get("ratio_min") is not None else "difference_max"
        bound = float(threshold[kind])
        equalised = _EQUALISED[constraint]
        if constraint == "equalized_odds":  # fairlearn relaxes no equalized-odds constraint
            tolerances: list[float | None] = [None]
        else:
            now = (disparities.get(equalised[0]) or {}).get("difference") or 0.0
            widest = max(now, bound, 0.01)
            tolerances = [None, *np.linspace(widest / _TOLERANCES, widest, _TOLERANCES).tolist()]
        curve = []
        for tol in tolerances:
            optimizer = ThresholdOptimizer(
                estimator=_scores_estimator(),
                constraints=constraint,
                objective="accuracy_score",
                prefit=True,
                predict_method="predict",
                tol=tol,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                optimizer.fit(X, y, sensitive_features=pd.Series(codes))
            interpolation = optimizer.interpolated_thresholder_.interpolation_dict
            p = _positive_probability(interpolation, score, codes)
            rates = _rates(p, y, codes, n_groups)
            accuracy = float(np.mean(y * p + (1 - y) * (1 - p)))
            spreads = [_spread(rates[m]) for m in equalised]
            difference = max(s[0] for s in spreads)
            ratios = [s[1] for s in spreads if s[1] is not None]
            ratio = min(ratios) if ratios else None
            meets = (
                ratio is not None and ratio >= bound
                if kind == "ratio_min"
                else difference <= bound + 1e-12
            )
            curve.append(
                {
                    "tolerance": tol,
                    "accuracy": accuracy,
                    "difference": difference,
                    "ratio": ratio,
                    "meets_policy": bool(meets),
                    "thresholds": {
                        labels[int(g)]: [
                            {
                                "probability": float(w),
                                "rule": f"score {op.operator} {op.threshold:.2f}",
                            }
                            for w, op in ((r.p0, r.operation0), (r.p1, r.operation1))
                            if w > 0
                        ]
                        for g, r in interpolation.items()
                    },
                    "rates": {
                        m: [None if np.isnan(v) else float(v) for v in rates[m]] for m in equalised
                    },
                }
            )
        meeting = [c for c in curve if c["meets_policy"]]
        best = max(meeting, key=lambda c: c["accuracy"]) if meeting else None
        options.append(
            {
                "metric": metric,
                "constraint": constraint,
                "threshold": dict(threshold),
                "meets_policy": best is not None,
                "accuracy": None if best is None else best["accuracy"],
                "accuracy_cost": (
                    None
                    if best is None or current_accuracy is None
                    else current_accuracy - best["accuracy"]
                ),
                "difference": None if best is None else best["difference"],
                "ratio": None if best is None else best["ratio"],
                "thresholds": None if best is None else best["thresholds"],
                "curve": [
                    {
                        k: c[k]
                        for k in ("tolerance", "accuracy", "difference", "ratio", "meets_policy")
                    }
                    for c in curve
                ],
            }
        )
    return {
        "note": NOTE,
        "rows": how,
        "score_resolution": 0.01,
        "current_accuracy": current_accuracy,
        "groups": labels,
        "options": options,
    }
