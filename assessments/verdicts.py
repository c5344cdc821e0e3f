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
* a bootstrap cannot see the uncertainty of a rate that is 0 or 1 in a group (every resample
  of "0 of 30" is 0 again), so its interval would collapse onto a point and a verdict could rest
  on a zero count. When the highest or the lowest group of a rate metric has no event or only
  events, the interval is widened to cover the exact (Clopper–Pearson) one of the comparison:
  each of the two groups' rates gets its exact interval at level ``1 - alpha/2`` (Bonferroni, so
  that both hold together with probability at least ``1 - alpha``), and the ratio or difference
  takes its extreme values over them. The finding says so.

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

from scipy.stats import beta

from assessments.metrics import group_value
from assessments.metrics_power import power_note
from policies.fairness import (
    BINARY,
    METRIC_ALIASES,
    MULTICLASS,
    OUTCOME_RATES,
    PER_CLASS_NAMES,
    THRESHOLD_METRICS,
    FairnessMetric,
    definition,
    metric_key,
    split_key,
)
from registry.errors import ValidationFailed

__all__ = [
    "METRIC_ALIASES",
    "VERDICT_ORDER",
    "group_name",
    "judge",
    "metric_phrase",
    "resolve_metric",
    "without_thresholds",
]

#: Verdicts from worst to best; the overall verdict is the first one any finding has.
VERDICT_ORDER = ("fail", "inconclusive", "insufficient_data", "pass")


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


def metric_phrase(key: str, task: str = BINARY) -> tuple[str, str, str, FairnessMetric]:
    """How a result metric is phrased: (context, verb, label in a sentence, its definition).

    ``"false_positive_rate"`` gives ("Among people whose true outcome was negative (y_true =
    0), ", "predicted positive", "false positive rate", ...); a per-class or outcome key names
    its class or column (``"true positive rate of class “A”"``).
    """
    metric = definition(key, task)
    _base, arg = split_key(key)
    label = metric.label
    if not label.split()[0].isupper():  # keep acronyms (ROC AUC)
        label = label[0].lower() + label[1:]
    if arg is not None:
        label = f"{label} “{arg}”" if metric.scope == "per_class" else f"rate of “{arg}”"
    context = metric.context.format(cls=arg, col=arg)
    verb = metric.verb.format(cls=arg, col=arg)
    return context, verb, label, metric


def resolve_metric(
    metric: str, *, task: str = BINARY, result: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Result metrics behind a threshold's metric name.

    Parameters
    ----------
    metric : str
        A metric of the task (:data:`policies.fairness.THRESHOLD_METRICS`); for binary checks
        also a fairlearn name (``demographic_parity``, ``equal_opportunity``,
        ``equalized_odds``, optionally with ``_ratio`` / ``_difference``).
    task : str, default binary classification
        The check's task.
    result : mapping, optional
        The result: a per-class metric of a multiclass check, or the outcome rate, stands for
        one key per class (``"<metric>[<class>]"``) or outcome column (``"rate[<column>]"``).

    Returns
    -------
    tuple of str

    Raises
    ------
    KeyError
        If the name is unknown for the task.
    """
    base = metric
    if task == BINARY:
        for suffix in ("_ratio", "_difference"):
            if base.endswith(suffix) and base[: -len(suffix)] in METRIC_ALIASES:
                base = base[: -len(suffix)]
        if base in METRIC_ALIASES:
            return METRIC_ALIASES[base]
    if base not in THRESHOLD_METRICS.get(task, ()):
        raise KeyError(metric)
    if task == MULTICLASS and base in PER_CLASS_NAMES:
        classes = (result or {}).get("classes") or []
        return tuple(metric_key(base, c) for c in classes)
    if task == OUTCOME_RATES and base == "rate":
        columns = (result or {}).get("outcomes") or []
        return tuple(metric_key("rate", c) for c in columns)
    return (base,)


def _check_threshold(
    i: int, threshold: Mapping[str, Any], task: str = BINARY
) -> tuple[str, str, float]:
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
        resolve_metric(metric, task=task)
    except KeyError:
        known = ", ".join(THRESHOLD_METRICS.get(task, ()))
        raise ValidationFailed(
            f"Unknown fairness metric {metric!r}.",
            errors={key: f"unknown metric {metric!r}; known: {known}"},
        ) from None
    if kind == "ratio_min" and metric in THRESHOLD_METRICS[task] and metric not in METRIC_ALIASES:
        if not definition(metric, task).ratio_meaningful:
            raise ValidationFailed(
                f"A ratio of {metric} has no meaning; bound its difference instead.",
                errors={key: f"{metric} takes difference_max only"},
            )
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
        The ``to_dict()`` of a check's result (any task; its ``task`` key says which, binary
        classification when absent).
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
        result's ``disparities`` (``None`` when not available). A threshold on a per-class
        metric (multiclass) or on the outcome rate is judged for each class or outcome column:
        its finding also has ``parts`` (one per class or column: ``{"metric", "verdict",
        "value", "ci", "text"}``), takes the worst part's verdict, value and interval, and
        names that part in ``chart_metric``.

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
    task = result.get("task") or BINARY
    checked = [_check_threshold(i, t, task) for i, t in enumerate(thresholds)]
    confidence = float(result.get("bootstrap", {}).get("confidence", 0.95))
    findings = []
    for (metric, kind, bound), threshold in zip(checked, thresholds, strict=True):
        keys = resolve_metric(metric, task=task, result=result)
        parts = [
            _with_power(
                result,
                {
                    "metric": key,
                    **_judge_metric(result, key, kind, bound, min_group_size, confidence),
                },
                kind,
                bound,
                min_group_size,
            )
            for key in keys
        ]
        if not parts:
            parts = [
                {
                    "metric": metric,
                    **_finding("insufficient_data", f"No {metric} was computed for this data."),
                }
            ]
        # a per-class metric or the outcome rate stands for one key per class or column
        expands = task != BINARY and keys != (metric,)
        ranked = sorted(parts, key=lambda p: _severity(p, kind))
        # fairlearn's combined names (equalized odds) take their first worst component
        worst = (
            ranked[0] if expands else min(parts, key=lambda p: VERDICT_ORDER.index(p["verdict"]))
        )
        finding = {
            "metric": metric,
            "verdict": worst["verdict"],
            "text": " ".join(p["text"] for p in parts),
            "threshold": dict(threshold),
            "value": worst["value"],
            "ci": worst["ci"],
        }
        if worst.get("power"):
            finding["power"] = worst["power"]
        if expands:
            if len(parts) > 1:
                finding["text"] = _combined_text(metric, task, ranked)
            finding["parts"] = parts
            finding["chart_metric"] = worst["metric"]
        findings.append(finding)
    verdict = next(v for v in VERDICT_ORDER if any(f["verdict"] == v for f in findings))
    return {
        "verdict": verdict,
        "findings": findings,
        "policy_version": policy_version,
        "min_group_size": int(min_group_size),
        "confidence": confidence,
    }


def _with_power(
    result: Mapping[str, Any],
    part: dict[str, Any],
    kind: str,
    bound: float,
    min_group_size: int,
) -> dict[str, Any]:
    """An insufficient or inconclusive part, with how many rows would settle it (80% power)."""
    if part["verdict"] not in ("insufficient_data", "inconclusive"):
        return part
    task = result.get("task") or BINARY
    try:
        style = metric_phrase(part["metric"], task)[3].style
    except KeyError:
        return part
    note = power_note(dict(result), part["metric"], style, kind, bound, min_group_size)
    if not note or note["rows_per_group"] is None:
        return part
    limit = "the policy's limit"
    text = (
        f" Sample size: to detect a gap as large as {limit} with 80% power (5% level), each "
        f"compared group would need about {note['rows_per_group']:,} rows; the smaller one has "
        f"{note['smaller_group_rows']:,}"
        + (f", so about {note['more_rows']:,} more." if note["more_rows"] else ".")
    )
    return {**part, "text": part["text"] + text, "power": note}


def without_thresholds(task: str, policy_version: Any, min_group_size: int) -> dict[str, Any]:
    """The verdict of a check whose kind the policy sets no thresholds for: inconclusive."""
    from policies.fairness import TASK_LABELS

    kind = TASK_LABELS.get(task, task).split(" (")[0].lower()
    text = (
        f"Policy {policy_version} sets no fairness thresholds for {kind} checks, so the results "
        "cannot be judged; ask the policy owner to add thresholds for this kind of model."
    )
    return {
        "verdict": "inconclusive",
        "findings": [
            {
                "metric": None,
                "verdict": "inconclusive",
                "text": text,
                "threshold": None,
                "value": None,
                "ci": None,
            }
        ],
        "policy_version": policy_version,
        "min_group_size": int(min_group_size),
        "confidence": 0.95,
    }


def _severity(part: Mapping[str, Any], kind: str) -> tuple[int, float]:
    """Sort key: worse verdicts first, then the larger disparity."""
    value = part.get("value")
    if value is None:
        gap = 0.0
    else:
        gap = -value if kind == "difference_max" else value
    return VERDICT_ORDER.index(part["verdict"]), gap


def _first_upper(text: str) -> str:
    """``text`` with its first letter in upper case; class and column names keep their case."""
    return text[:1].upper() + text[1:]


def _combined_text(metric: str, task: str, ranked: list[dict[str, Any]]) -> str:
    """One finding's text for a threshold judged per class or outcome column."""
    what, by = ("classes", "class") if task == MULTICLASS else ("outcome columns", "outcome")
    counts = {v: sum(1 for p in ranked if p["verdict"] == v) for v in VERDICT_ORDER}
    tally = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items() if n)
    # "True positive rate of class" -> "true positive rate": the sentence names the classes.
    label = metric_phrase(ranked[0]["metric"], task)[3].label.lower().removesuffix(" of class")
    head = f"The {label} was judged for each of the {len(ranked)} {what}: {tally}."
    shown = [p for p in ranked if p["verdict"] != "pass"][:3] or ranked[:1]
    rest = len([p for p in ranked if p["verdict"] != "pass"]) - len(shown)
    tail = f" {rest} more did not pass; see the results by {by}." if rest > 0 else ""
    return " ".join([head, *(p["text"] for p in shown)]) + tail


def _judge_metric(
    result: Mapping[str, Any],
    metric: str,
    kind: str,
    bound: float,
    min_group_size: int,
    confidence: float,
) -> dict[str, Any]:
    task = result.get("task") or BINARY
    context, verb, label, definition_ = metric_phrase(metric, task)
    style = definition_.style
    pct = f"{confidence * 100:g}%"
    disparity = result.get("disparities", {}).get(metric)
    if disparity is None:
        needs = ""
        if metric == "roc_auc":
            needs = " (it needs a score column)"
        elif definition_.needs_ground_truth and result.get("ground_truth") is False:
            needs = " (it needs the true values, y_true)"
        return _finding("insufficient_data", f"The {label} was not computed for this data{needs}.")
    value_key, ci_key = (
        ("ratio", "ci_ratio") if kind == "ratio_min" else ("difference", "ci_difference")
    )
    value = disparity.get(value_key)
    ci = disparity.get(ci_key)
    groups = result.get("by_group", [])
    eligible = [
        g for g in groups if group_value(g, metric) is not None and g["count"] >= min_group_size
    ]
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
            _small_text(small, eligible, metric, kind, min_group_size, label),
            value,
            ci,
        )
    v_hi, v_lo = group_value(hi, metric), group_value(lo, metric)
    assert v_hi is not None and v_lo is not None
    exact_note = ""
    if style == "rate":
        exact = _exact_interval(result, metric, kind, hi, lo, confidence)
        if exact is not None:
            ci = exact if ci is None else [min(ci[0], exact[0]), max(ci[1], exact[1])]
            exact_note = (
                " A bootstrap cannot show how uncertain a rate of 0 or 1 is, so the interval "
                "includes the exact (Clopper–Pearson) interval of the two groups' rates."
            )
    fmt = _value_format(style)
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
        if style != "rate" and value == 0:
            # One group's value is 0 (an error of 0: perfect predictions): no "times" exists.
            of = "of" if style == "score" else "for"
            interval = f" ({pct} CI of min/max {ci[0]:.2f}–{ci[1]:.2f})" if ci is not None else ""
            sentence = (
                f"The {label} {of} {hi_name} was {fmt(v_hi)} while {of} {lo_name} it was 0, so "
                f"the ratio has no upper limit{interval}; the policy allows at most "
                f"{_num(allowed)} times."
            )
        elif style != "rate":
            that = "that of" if style == "score" else "that for"
            of = "of" if style == "score" else "for"
            sentence = (
                f"The {label} {of} {hi_name} ({fmt(v_hi)}) was {_times(value)} times {that} "
                f"{lo_name} ({fmt(v_lo)}) ({pct} CI {_times_ci(ci)}); the policy allows at "
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
                f"{_num(allowed)}. {_first_upper(values[1:-1])}."
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
        diff_text, ci_text, bound_text = _diff_texts(style, value, ci, bound)
        if style != "rate":
            of, than = ("of", "that of") if style == "score" else ("for", "for")
            sentence = (
                f"The {label} {of} {hi_name} ({fmt(v_hi)}) was {diff_text} higher than {than} "
                f"{lo_name} ({fmt(v_lo)}) ({pct} CI {ci_text}); the policy allows at most "
                f"{bound_text}."
            )
        else:
            sentence = (
                f"{context}{hi_name} were {verb} at a rate {diff_text} higher than "
                f"{lo_name} ({pct} CI {ci_text}); the policy allows at most {bound_text}. "
                f"{_first_upper(values[1:-1])}."
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
    return _finding(verdict, f"{sentence}{exact_note} {reason}", value, ci)


def clopper_pearson(events: int, n: int, confidence: float) -> tuple[float, float]:
    """The exact two-sided interval of a binomial proportion ``events / n``."""
    alpha = 1 - confidence
    low = 0.0 if events <= 0 else float(beta.ppf(alpha / 2, events, n - events + 1))
    high = 1.0 if events >= n else float(beta.ppf(1 - alpha / 2, events + 1, n - events))
    return low, high


def _exact_interval(
    result: Mapping[str, Any],
    metric: str,
    kind: str,
    hi: Mapping[str, Any],
    lo: Mapping[str, Any],
    confidence: float,
) -> list[float] | None:
    """The exact interval of the ratio (or difference) of two groups' rates when either rate is
    0 or 1, from each rate's Clopper–Pearson interval at ``1 - alpha/2``; None otherwise, or
    when the result does not say how many people are in each group's denominator."""
    denominators = (result.get("denominators") or {}).get(metric)
    groups = list(result.get("by_group") or [])
    if denominators is None or len(denominators) != len(groups):
        return None
    level = 1 - (1 - confidence) / 2
    bounds = []
    degenerate = False
    for group in (hi, lo):
        n = int(round(denominators[groups.index(group)]))
        rate = group_value(group, metric)
        if n <= 0 or rate is None:
            return None
        events = int(round(rate * n))
        degenerate = degenerate or events in (0, n)
        bounds.append(clopper_pearson(events, n, level))
    if not degenerate:
        return None
    (hi_low, hi_high), (lo_low, lo_high) = bounds
    if kind == "ratio_min":
        low = lo_low / hi_high if hi_high > 0 else 0.0
        high = min(1.0, lo_high / hi_low) if hi_low > 0 else 1.0
        return [low, high]
    return [max(0.0, hi_low - lo_high), hi_high - lo_low]


def _value_format(style: str) -> Any:
    if style == "quantity":
        return lambda x: f"{x:.4g}"
    return lambda x: f"{x:.3f}"


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
    style: str, value: float, ci: list[float] | None, bound: float
) -> tuple[str, str, str]:
    if style == "rate":

        def fmt(x: float) -> str:
            return f"{x * 100:.1f}"

        unit = " percentage points"
    else:
        fmt = _value_format(style)
        unit = ""
    ci_text = "not available" if ci is None else f"{fmt(ci[0])}–{fmt(ci[1])}{unit}"
    return f"{fmt(value)}{unit}", ci_text, f"{fmt(bound)}{unit}"


def _small_text(
    small: list[Mapping[str, Any]],
    eligible: list[Mapping[str, Any]],
    metric: str,
    kind: str,
    min_group_size: int,
    label: str,
) -> str:
    names = "; ".join(f"{group_name(g['group'])} ({g['count']} people)" for g in small)
    hi = max(eligible, key=lambda g: group_value(g, metric))
    lo = min(eligible, key=lambda g: group_value(g, metric))
    v_hi, v_lo = group_value(hi, metric), group_value(lo, metric)
    assert v_hi is not None and v_lo is not None
    if kind == "ratio_min":
        if v_lo > 0:
            among = f"{_num(v_hi / v_lo)} times"
        else:
            among = "above 0, unlike"
    else:
        among = f"{v_hi - v_lo:.3f} above"
    return (
        f"The widest gap in {label} involves a group below the policy's minimum of "
        f"{min_group_size} people: {names}; a verdict cannot rest on it. Among the "
        f"{len(eligible)} groups with at least {min_group_size} people, the highest "
        f"({group_name(hi['group'])}, {v_hi:.3f}) is {among} the lowest "
        f"({group_name(lo['group'])}, {v_lo:.3f}) (point estimate, without an interval)."
    )
