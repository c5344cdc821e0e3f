"""Judge bias-check results against a policy's fairness thresholds.

A threshold is ``{"metric": name, "ratio_min": r}`` (the smallest group value divided by the
largest must be at least ``r``) or ``{"metric": name, "difference_max": d}`` (the largest group
value minus the smallest must be at most ``d``). ``name`` is a metric of the result
(``selection_rate``, ``true_positive_rate``, ``false_positive_rate``, ``false_negative_rate``,
``true_negative_rate``, ``accuracy``, ``precision``, ``roc_auc``) or one of the fairlearn
names ``demographic_parity`` (selection rate), ``equal_opportunity`` (true positive rate) and
``equalized_odds`` (true positive rate and false positive rate, worst case); a ``_ratio`` or
``_difference`` suffix is ignored.

Rules for one threshold and one metric
--------------------------------------
* ``insufficient_data`` when fewer than two groups with at least ``min_group_size`` rows have a
  defined value, or when the groups that produce the disparity (the highest or the lowest
  group) have fewer than ``min_group_size`` rows: the comparison then rests on a group too small
  to judge, whatever the interval says. The text also gives the comparison among the large
  enough groups, as a point estimate.
* otherwise ``pass`` when the whole confidence interval of the ratio (or difference) lies within
  the limit (``ci_low >= ratio_min``; ``ci_high <= difference_max``), ``fail`` when it lies
  wholly beyond it (``ci_high < ratio_min``; ``ci_low > difference_max``), and
  ``inconclusive`` when it straddles the limit or could not be computed.

``equalized_odds`` takes the worse of its two components.

The overall verdict is ``fail`` if any finding fails; else ``inconclusive`` if any is
inconclusive; else ``insufficient_data`` if any is; else ``pass``. So a ``pass`` means every
threshold was shown to be met.

Texts phrase a ratio as "max / min times" (``1 / ratio``) against the bound
``1 / ratio_min``, e.g. "the policy allows at most 1.25" for ``ratio_min = 0.8``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from registry.errors import ValidationFailed

__all__ = ["METRIC_ALIASES", "VERDICT_ORDER", "group_name", "judge", "resolve_metric"]

#: Verdicts from worst to best; the overall verdict is the first one any finding has.
VERDICT_ORDER = ("fail", "inconclusive", "insufficient_data", "pass")

METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("true_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}

_KNOWN = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "accuracy",
    "precision",
    "roc_auc",
)

# context, what the rate measures (for "were ... at X times the rate of"), short label
_PHRASES: dict[str, tuple[str, str, str]] = {
    "selection_rate": ("", "predicted positive", "selection rate"),
    "false_positive_rate": (
        "Among people whose true outcome was negative (y_true = 0), ",
        "predicted positive",
        "false positive rate",
    ),
    "true_positive_rate": (
        "Among people whose true outcome was positive (y_true = 1), ",
        "predicted positive",
        "true positive rate",
    ),
    "false_negative_rate": (
        "Among people whose true outcome was positive (y_true = 1), ",
        "predicted negative",
        "false negative rate",
    ),
    "true_negative_rate": (
        "Among people whose true outcome was negative (y_true = 0), ",
        "predicted negative",
        "true negative rate",
    ),
    "accuracy": ("", "classified correctly", "accuracy"),
    "precision": (
        "Among people predicted positive (y_pred = 1), ",
        "truly positive",
        "precision",
    ),
    "roc_auc": ("", "", "ROC AUC"),
}


def group_name(group: Mapping[str, Any]) -> str:
    """Name a group in prose: ``race = Asian and sex = Female``.

    Parameters
    ----------
    group : mapping of str to value
        Feature values of the group.

    Returns
    -------
    str
    """
    return " and ".join(f"{k} = {v}" for k, v in group.items())


def _people(group: Mapping[str, Any]) -> str:
    return f"people with {group_name(group)}"


def _num(x: float) -> str:
    return f"{x:.2f}"


def resolve_metric(metric: str) -> tuple[str, ...]:
    """Result metrics behind a threshold's metric name.

    Parameters
    ----------
    metric : str
        A result metric or a fairlearn name (``demographic_parity``, ``equal_opportunity``,
        ``equalized_odds``, optionally with ``_ratio`` / ``_difference``).

    Returns
    -------
    tuple of str

    Raises
    ------
    KeyError
        If the name is unknown.
    """
    base = metric
    for suffix in ("_ratio", "_difference"):
        if base.endswith(suffix) and base[: -len(suffix)] in METRIC_ALIASES:
            base = base[: -len(suffix)]
    if base in METRIC_ALIASES:
        return METRIC_ALIASES[base]
    if base in _KNOWN:
        return (base,)
    raise KeyError(metric)


def _check_threshold(i: int, threshold: Mapping[str, Any]) -> tuple[str, str, float]:
    key = f"thresholds[{i}]"
    metric = threshold.get("metric") if isinstance(threshold, Mapping) else None
    if not isinstance(metric, str):
        raise ValidationFailed("A fairness threshold has no metric.", errors={key: "no metric"})
    kinds = [k for k in ("ratio_min", "difference_max") if threshold.get(k) is not None]
    if len(kinds) != 1:
        raise ValidationFailed(
            "A fairness threshold needs exactly one of ratio_min and difference_max.",
            errors={key: "give exactly one of ratio_min and difference_max"},
        )
    kind = kinds[0]
    bound = threshold[kind]
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
        raise ValidationFailed(
            "A fairness threshold is not a number.", errors={key: f"{kind} must be a number"}
        )
    if kind == "ratio_min" and not 0 < bound <= 1:
        raise ValidationFailed(
            "ratio_min must lie in (0, 1].", errors={key: "ratio_min must lie in (0, 1]"}
        )
    if kind == "difference_max" and bound < 0:
        raise ValidationFailed(
            "difference_max must not be negative.",
            errors={key: "difference_max must not be negative"},
        )
    try:
        resolve_metric(metric)
    except KeyError:
        raise ValidationFailed(
            f"Unknown fairness metric {metric!r}.",
            errors={key: f"unknown metric {metric!r}; known: {', '.join(_KNOWN)}"},
        ) from None
    return metric, kind, float(bound)


def judge(
    result: Mapping[str, Any],
    *,
    thresholds: Sequence[Mapping[str, Any]],
    min_group_size: int,
    policy_version: Any,
) -> dict[str, Any]:
    """Judge a bias-check result against fairness thresholds.

    Parameters
    ----------
    result : mapping
        ``BiasResult.to_dict()`` of :func:`assessments.metrics.compute_bias_metrics`.
    thresholds : sequence of mapping
        ``{"metric": str, "ratio_min": float}`` or ``{"metric": str, "difference_max": float}``.
    min_group_size : int
        Groups with fewer rows cannot decide a comparison.
    policy_version : str or int
        Recorded in the verdict.

    Returns
    -------
    dict
        ``{"verdict": "pass" | "fail" | "inconclusive" | "insufficient_data",
        "findings": [{"metric", "verdict", "text", "threshold", "value", "ci"}],
        "policy_version", "min_group_size", "confidence"}``: one finding per threshold, in
        order; ``value`` and ``ci`` are the ratio (or difference) and its interval as in the
        result's ``disparities`` (``None`` when not available).

    Raises
    ------
    registry.errors.ValidationFailed
        If there are no thresholds or a threshold is malformed (unknown metric, not exactly one
        of ``ratio_min`` / ``difference_max``, a bound out of range).
    """
    if not thresholds:
        raise ValidationFailed(
            "The policy has no fairness thresholds to judge against.",
            errors={"thresholds": "no fairness thresholds"},
        )
    checked = [_check_threshold(i, t) for i, t in enumerate(thresholds)]
    confidence = float(result.get("bootstrap", {}).get("confidence", 0.95))
    findings = []
    for (metric, kind, bound), threshold in zip(checked, thresholds, strict=True):
        parts = [
            _judge_metric(result, m, kind, bound, min_group_size, confidence)
            for m in resolve_metric(metric)
        ]
        worst = min(parts, key=lambda p: VERDICT_ORDER.index(p["verdict"]))
        findings.append(
            {
                "metric": metric,
                "verdict": worst["verdict"],
                "text": " ".join(p["text"] for p in parts),
                "threshold": dict(threshold),
                "value": worst["value"],
                "ci": worst["ci"],
            }
        )
    verdict = next(v for v in VERDICT_ORDER if any(f["verdict"] == v for f in findings))
    return {
        "verdict": verdict,
        "findings": findings,
        "policy_version": policy_version,
        "min_group_size": int(min_group_size),
        "confidence": confidence,
    }


def _judge_metric(
    result: Mapping[str, Any],
    metric: str,
    kind: str,
    bound: float,
    min_group_size: int,
    confidence: float,
) -> dict[str, Any]:
    context, verb, label = _PHRASES[metric]
    pct = f"{confidence * 100:g}%"
    disparity = result.get("disparities", {}).get(metric)
    if disparity is None:
        return _finding(
            "insufficient_data",
            f"The {label} was not computed for this data"
            + (" (it needs a score column)." if metric == "roc_auc" else "."),
        )
    value_key, ci_key = (
        ("ratio", "ci_ratio") if kind == "ratio_min" else ("difference", "ci_difference")
    )
    value = disparity.get(value_key)
    ci = disparity.get(ci_key)
    groups = result.get("by_group", [])
    eligible = [g for g in groups if g.get(metric) is not None and g["count"] >= min_group_size]
    if len(eligible) < 2:
        return _finding(
            "insufficient_data",
            f"Only {len(eligible)} group(s) have at least {min_group_size} people and a defined "
            f"{label}; at least two are needed to compare.",
            value,
            ci,
        )
    if disparity.get("difference") is None:
        return _finding(
            "insufficient_data",
            f"Fewer than two groups have a defined {label}.",
            value,
            ci,
        )
    hi = _find(groups, disparity["max_group"])
    lo = _find(groups, disparity["min_group"])
    hi_name, lo_name = _people(hi["group"]), _people(lo["group"])
    small = [g for g in (hi, lo) if g["count"] < min_group_size]
    if small:
        return _finding(
            "insufficient_data",
            _small_text(small, eligible, metric, kind, min_group_size),
            value,
            ci,
        )
    v_hi, v_lo = hi[metric], lo[metric]
    values = f"({label} {v_hi:.3f} vs {v_lo:.3f})"
    if kind == "ratio_min":
        if value is None:
            return _finding(
                "insufficient_data",
                f"The {label} is 0 for every group, so the ratio is undefined.",
                value,
                ci,
            )
        allowed = 1 / bound
        if metric == "roc_auc":
            sentence = (
                f"The ROC AUC of {hi_name} ({v_hi:.3f}) was {_times(value)} times that of "
                f"{lo_name} ({v_lo:.3f}) ({pct} CI {_times_ci(ci)}); the policy allows at "
                f"most {_num(allowed)}."
            )
        elif value == 0:
            sentence = (
                f"{context}{hi_name} were {verb} at a rate of {v_hi:.3f} while {lo_name} never "
                f"were, so the rate ratio has no upper limit ({pct} CI of min/max "
                f"{ci[0]:.2f}–{ci[1]:.2f}); the policy allows at most {_num(allowed)} times."
                if ci is not None
                else f"{context}{hi_name} were {verb} at a rate of {v_hi:.3f} while {lo_name} "
                f"never were; the policy allows at most {_num(allowed)} times."
            )
        else:
            sentence = (
                f"{context}{hi_name} were {verb} at {_times(value)} times the rate of "
                f"{lo_name} ({pct} CI {_times_ci(ci)}); the policy allows at most "
                f"{_num(allowed)}. {values[1:-1].capitalize()}."
            )
        if ci is None:
            verdict = "inconclusive"
        elif ci[0] >= bound:
            verdict = "pass"
        elif ci[1] < bound:
            verdict = "fail"
        else:
            verdict = "inconclusive"
    else:
        diff_text, ci_text, bound_text = _diff_texts(metric, value, ci, bound)
        if metric == "roc_auc":
            sentence = (
                f"The ROC AUC of {hi_name} ({v_hi:.3f}) was {diff_text} higher than that of "
                f"{lo_name} ({v_lo:.3f}) ({pct} CI {ci_text}); the policy allows at most "
                f"{bound_text}."
            )
        else:
            sentence = (
                f"{context}{hi_name} were {verb} at a rate {diff_text} higher than "
                f"{lo_name} ({pct} CI {ci_text}); the policy allows at most {bound_text}. "
                f"{values[1:-1].capitalize()}."
            )
        if ci is None:
            verdict = "inconclusive"
        elif ci[1] <= bound:
            verdict = "pass"
        elif ci[0] > bound:
            verdict = "fail"
        else:
            verdict = "inconclusive"
    sentence = sentence[0].upper() + sentence[1:]
    reason = {
        "pass": "Pass: the whole interval is within the limit.",
        "fail": "Fail: the whole interval is beyond the limit.",
        "inconclusive": (
            "Inconclusive: the interval includes the limit, so the data cannot show whether "
            "the policy is met."
            if ci is not None
            else "Inconclusive: no reliable interval could be computed (too many resamples "
            "left the value undefined)."
        ),
    }[verdict]
    return _finding(verdict, f"{sentence} {reason}", value, ci)


def _finding(
    verdict: str, text: str, value: float | None = None, ci: list[float] | None = None
) -> dict[str, Any]:
    return {"verdict": verdict, "text": text, "value": value, "ci": ci}


def _find(groups: Sequence[Mapping[str, Any]], group: Mapping[str, Any]) -> Mapping[str, Any]:
    for g in groups:
        if g["group"] == group:
            return g
    raise ValueError(f"group {group!r} is not in by_group")


def _times(ratio: float) -> str:
    return _num(1 / ratio)


def _times_ci(ci: list[float] | None) -> str:
    if ci is None:
        return "not available"
    low = _num(1 / ci[1]) if ci[1] > 0 else "∞"
    high = _num(1 / ci[0]) if ci[0] > 0 else "no upper limit"
    return f"{low}–{high}"


def _diff_texts(
    metric: str, value: float, ci: list[float] | None, bound: float
) -> tuple[str, str, str]:
    if metric == "roc_auc":

        def fmt(x: float) -> str:
            return f"{x:.3f}"

        unit = ""
    else:

        def fmt(x: float) -> str:
            return f"{x * 100:.1f}"

        unit = " percentage points"
    ci_text = "not available" if ci is None else f"{fmt(ci[0])}–{fmt(ci[1])}{unit}"
    return f"{fmt(value)}{unit}", ci_text, f"{fmt(bound)}{unit}"


def _small_text(
    small: list[Mapping[str, Any]],
    eligible: list[Mapping[str, Any]],
    metric: str,
    kind: str,
    min_group_size: int,
) -> str:
    label = _PHRASES[metric][2]
    names = "; ".join(f"{group_name(g['group'])} ({g['count']} people)" for g in small)
    hi = max(eligible, key=lambda g: g[metric])
    lo = min(eligible, key=lambda g: g[metric])
    if kind == "ratio_min":
        if lo[metric] > 0:
            among = f"{_num(hi[metric] / lo[metric])} times"
        else:
            among = "above 0, unlike"
    else:
        among = f"{hi[metric] - lo[metric]:.3f} above"
    return (
        f"The widest gap in {label} involves a group below the policy's minimum of "
        f"{min_group_size} people: {names}; a verdict cannot rest on it. Among the "
        f"{len(eligible)} groups with at least {min_group_size} people, the highest "
        f"({group_name(hi['group'])}, {hi[metric]:.3f}) is {among} the lowest "
        f"({group_name(lo['group'])}, {lo[metric]:.3f}) (point estimate, without an interval)."
    )
