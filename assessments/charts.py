"""Accessible, deterministic SVG charts of one metric across groups, plus the same data as rows.

:func:`metric_chart_svg` draws a dot chart: one row per group, the dot at the group's value,
whiskers for its bootstrap confidence interval; groups below the minimum size are drawn hollow
and marked "(small)"; groups where the metric is undefined say so instead of a dot.

Threshold line: a fairness threshold compares the lowest group with the highest, so the chart
draws the lowest value the policy allows *given the highest group*: ``ratio_min x highest`` for
a ratio threshold, ``highest - difference_max`` for a difference threshold. Every group whose
dot lies left of the dashed line breaches the threshold (on the point estimate; the verdict
itself uses the interval of the ratio or difference).

Determinism and accessibility: matplotlib is imported lazily, used through ``Figure`` and the
SVG canvas directly (no pyplot, no global backend or figure registry), with text kept as text
(``svg.fonttype = "none"``), a fixed ``svg.hashsalt`` and no date metadata, so the same input
gives the same bytes. The root ``<svg>`` gets ``role="img"`` and ``aria-labelledby`` pointing
to a ``<title>`` and a ``<desc>`` inserted as its first children. :func:`metric_table` gives
the rows for the data table that should accompany every chart.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from policies.fairness import (
    BINARY,
    BINARY_PAGE_TABLE,
    METRICS_BY_KEY,
    MULTICLASS,
    OUTCOME_RATES,
    definition,
    split_key,
)
from policies.fairness import METRIC_LABELS as VOCABULARY_LABELS

__all__ = [
    "METRIC_LABELS",
    "METRIC_NAMES",
    "check_charts",
    "metric_chart_svg",
    "metric_label",
    "metric_table",
    "result_metric_labels",
    "routing_chart_svg",
    "what_if_chart_svg",
]

#: Each metric's name, as tables and pages show it (from the one vocabulary,
#: :mod:`policies.fairness`).
METRIC_NAMES = dict(VOCABULARY_LABELS)
#: The same, as a chart's axis says it.
METRIC_LABELS = {
    **METRIC_NAMES,
    **{m.key: m.chart_label for m in METRICS_BY_KEY.values() if m.scope == "group"},
}


def metric_label(key: str, task: str = BINARY, *, axis: bool = False) -> str:
    """The name of a result metric, per-class (``"true_positive_rate[Housing]"``) and outcome
    (``"rate[escalated]"``) keys included: "True positive rate of class “Housing”"."""
    try:
        metric = definition(key, task)
    except KeyError:
        return (METRIC_LABELS if axis else METRIC_NAMES).get(key, key)
    _base, arg = split_key(key)
    label = metric.chart_label if axis else metric.label
    if arg is None:
        return label
    return f"{label} “{arg}”" if metric.scope == "per_class" else f"Rate of “{arg}”"


def result_metric_labels(result: Mapping[str, Any] | None) -> dict[str, str]:
    """:data:`METRIC_NAMES` plus the name of every metric key of one result (per class and
    outcome column), for pages and reports."""
    labels = dict(METRIC_NAMES)
    if result:
        task = result.get("task") or BINARY
        for key in result.get("disparities", {}):
            labels[key] = metric_label(key, task)
    return labels


_HASHSALT = "ai-oversight-registry"
# Every chart's matplotlib settings. Text is drawn as given: a group label such as "$0-$25k"
# or "price $\x$ band" is data, never mathtext or TeX (which would garble or fail on it).
CHART_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": _HASHSALT,
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "text.usetex": False,
    "text.parse_math": False,
}


def _group_label(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in group.items())


def _resolve(
    result: Mapping[str, Any], metric: str, threshold: Mapping[str, Any] | None = None
) -> str:
    """The result metric to show for a threshold's metric name (aliases such as
    ``equalized_odds`` show their worst component: lowest ratio or largest difference)."""
    from assessments.verdicts import resolve_metric

    groups = result.get("by_group") or []
    if not groups or metric in groups[0] or metric in result.get("disparities", {}):
        return metric
    try:
        candidates = resolve_metric(metric)
    except KeyError:
        return metric
    disparities = result.get("disparities", {})
    available = [m for m in candidates if m in disparities]
    if len(available) <= 1:
        return (available or list(candidates))[0]
    if threshold is not None and threshold.get("difference_max") is not None:
        return max(available, key=lambda m: disparities[m].get("difference") or -1.0)
    return min(available, key=lambda m: disparities[m].get("ratio") or 2.0)


def _quantity(result: Mapping[str, Any], metric: str) -> bool:
    """Whether the metric is in the units of the model's output (not a share or a score)."""
    try:
        return definition(metric, result.get("task") or BINARY).style == "quantity"
    except KeyError:
        return False


def metric_table(result: Mapping[str, Any], metric: str) -> list[dict[str, Any]]:
    """Rows of one metric by group, for the data table that accompanies a chart.

    Parameters
    ----------
    result : mapping
        ``BiasResult.to_dict()``.
    metric : str
        A metric key of the result's groups (e.g. ``"false_positive_rate"``).

    Returns
    -------
    list of dict
        One row per group, in the result's order: ``{"group": str, "group_values": dict,
        "value": float | None, "ci_low": float | None, "ci_high": float | None, "count": int,
        "small_group": bool, "undefined": str | None}``.

    A fairlearn name (``demographic_parity``, ``equal_opportunity``, ``equalized_odds``) shows
    its result metric (for ``equalized_odds`` the component with the lower ratio). A metric the
    result does not have (``roc_auc`` without scores) gives rows whose ``value`` is ``None`` and
    whose ``undefined`` says so.
    """
    from assessments.metrics import group_value

    groups = result["by_group"]
    metric = _resolve(result, metric)
    missing = bool(groups) and metric not in result.get("disparities", groups[0])
    rows = []
    for g in groups:
        if missing:
            rows.append(
                {
                    "group": _group_label(g["group"]),
                    "group_values": dict(g["group"]),
                    "value": None,
                    "ci_low": None,
                    "ci_high": None,
                    "count": g["count"],
                    "small_group": bool(g.get("small_group", False)),
                    "undefined": "not computed for this data (ROC AUC needs a score column)"
                    if metric == "roc_auc"
                    else "not computed for this data",
                }
            )
            continue
        ci = g.get("ci", {}).get(metric)
        rows.append(
            {
                "group": _group_label(g["group"]),
                "group_values": dict(g["group"]),
                "value": group_value(g, metric),
                "ci_low": ci[0] if ci else None,
                "ci_high": ci[1] if ci else None,
                "count": g["count"],
                "small_group": bool(g.get("small_group", False)),
                "undefined": g.get("undefined", {}).get(metric),
            }
        )
    return rows


def _threshold_line(
    rows: list[dict[str, Any]], threshold: Mapping[str, Any] | None
) -> tuple[float, str] | None:
    values = [r["value"] for r in rows if r["value"] is not None]
    if threshold is None or not values:
        return None
    top = max(values)
    if threshold.get("ratio_min") is not None:
        r = float(threshold["ratio_min"])
        return r * top, f"policy floor: {r:g} × highest = {r * top:.3f}"
    if threshold.get("difference_max") is not None:
        d = float(threshold["difference_max"])
        return top - d, f"policy floor: highest − {d:g} = {top - d:.3f}"
    return None


def _describe(
    rows: list[dict[str, Any]],
    label: str,
    features: list[str],
    confidence: float,
    line: tuple[float, str] | None,
) -> str:
    defined = [r for r in rows if r["value"] is not None]
    parts = [
        f"Dot chart of {label.lower()} for {len(rows)} groups of {', '.join(features)}, "
        f"with {confidence * 100:g}% confidence intervals as whiskers."
    ]
    if defined:
        hi = max(defined, key=lambda r: r["value"])
        lo = min(defined, key=lambda r: r["value"])
        parts.append(
            f"Highest: {hi['group']}, {hi['value']:.3f}; lowest: {lo['group']}, {lo['value']:.3f}."
        )
    small = [r["group"] for r in rows if r["small_group"]]
    if small:
        parts.append(f"Hollow dots mark groups below the minimum size: {'; '.join(small)}.")
    undefined = [r["group"] for r in rows if r["value"] is None]
    if undefined:
        parts.append(f"Undefined for: {'; '.join(undefined)}.")
    if line is not None:
        parts.append(
            f"Dashed line: {line[1]}; groups left of it breach the threshold (point estimate)."
        )
    parts.append("The same numbers are in the table next to the chart.")
    return " ".join(parts)


#: Rates whose values and intervals all stay below this are drawn on a shorter axis.
RARE_RATE = 0.25


def metric_chart_svg(
    result: Mapping[str, Any],
    metric: str,
    *,
    threshold: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """Draw one metric across groups as an accessible SVG dot chart.

    Parameters
    ----------
    result : mapping
        ``BiasResult.to_dict()``.
    metric : str
        The metric to draw.
    threshold : mapping, optional
        A policy threshold for this metric (``{"metric", "ratio_min"}`` or
        ``{"metric", "difference_max"}``); draws the policy floor line (see the module
        documentation).
    title : str, optional
        Chart title; defaults to the metric's label and the sensitive features.

    Returns
    -------
    str
        An SVG document whose root has ``role="img"`` and ``aria-labelledby`` pointing to its
        first children ``<title>`` and ``<desc>``. Identical inputs give identical output.
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    metric = _resolve(result, metric, threshold)
    rows = metric_table(result, metric)
    label = metric_label(metric, result.get("task") or BINARY, axis=True)
    features = list(result.get("sensitive_features", []))
    confidence = float(result.get("bootstrap", {}).get("confidence", 0.95))
    title = title or f"{label} by {', '.join(features) or 'group'}"
    line = _threshold_line(rows, threshold)
    desc = _describe(rows, label, features, confidence, line)

    n = len(rows)
    rc = CHART_RC
    with rc_context(rc):
        fig = Figure(figsize=(7.5, 1.4 + 0.42 * max(n, 1)), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ys = list(range(n))[::-1]
        names = []
        x_max = 0.0 if _quantity(result, metric) else 1.0
        # errors (regression) can be negative; rates and scores start at 0
        x_min = min(
            [0.0]
            + [min(r["value"], r["ci_low"] or r["value"]) for r in rows if r["value"] is not None]
        )
        for y, row in zip(ys, rows, strict=True):
            names.append(row["group"] + (" (small)" if row["small_group"] else ""))
            value = row["value"]
            if value is None:
                ax.text(0.01, y, "undefined", va="center", ha="left", fontsize=9, style="italic")
                continue
            x_max = max(x_max, value, row["ci_high"] or 0.0)
            if row["ci_low"] is not None:
                ax.errorbar(
                    [value],
                    [y],
                    xerr=[[value - row["ci_low"]], [row["ci_high"] - value]],
                    fmt="none",
                    ecolor="#333333",
                    elinewidth=1.2,
                    capsize=4,
                )
            ax.plot(
                [value],
                [y],
                marker="o",
                markersize=8,
                color="#1f4e79",
                markerfacecolor="white" if row["small_group"] else "#1f4e79",
                linestyle="none",
            )
            ax.text(value, y + 0.22, f"{value:.3f}", ha="center", va="bottom", fontsize=8)
        if not _quantity(result, metric):
            # A rate runs from 0 to 1; a rare outcome (all values and intervals under a
            # quarter) gets an axis from 0 to just past its largest, so its dots stay apart.
            top = max(
                [r["ci_high"] or r["value"] or 0.0 for r in rows] + [line[0] if line else 0.0]
            )
            x_max = 1.0 if top >= RARE_RATE else max(top * 1.25, 0.01)
        ax.set_yticks(ys, names)
        ax.set_ylim(-0.7, n - 0.1 + (0.5 if line is not None else 0.2))
        if x_max <= x_min:  # nothing to draw (a metric this check has no values for)
            x_max = x_min + 1.0
        left = x_min - (x_max - x_min) * 0.02 if x_min < 0 else 0
        ax.set_xlim(left, x_max * 1.02)
        if line is not None:
            ax.axvline(line[0], color="#b00020", linestyle="--", linewidth=1.5)
            # The label runs away from the nearer edge, so it is never cut off.
            right_half = line[0] > (left + x_max * 1.02) / 2
            ax.text(
                line[0],
                n - 0.4,
                f"{line[1]} " if right_half else f" {line[1]}",
                color="#b00020",
                ha="right" if right_half else "left",
                va="bottom",
                fontsize=8,
            )
        ax.set_xlabel(f"{label} ({confidence * 100:g}% CI)")
        ax.set_title(title, loc="left", fontsize=11)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        fig.clear()
    return _add_title_desc(buf.getvalue(), title, desc, metric)


def _add_title_desc(svg: str, title: str, desc: str, metric: str) -> str:
    digest = hashlib.sha1(f"{metric}\n{title}\n{desc}".encode()).hexdigest()[:8]
    base = f"chart-{metric}-{digest}"
    start = svg.index("<svg")
    end = svg.index(">", start)
    attrs = f' role="img" aria-labelledby={quoteattr(f"{base}-title {base}-desc")}'
    children = (
        f'\n <title id="{base}-title">{escape(title)}</title>'
        f'\n <desc id="{base}-desc">{escape(desc)}</desc>'
    )
    return svg[:end] + attrs + ">" + children + svg[end + 1 :]


def check_charts(result: Mapping[str, Any], findings: list[Mapping[str, Any]]) -> dict[str, str]:
    """The charts of a check: one per judged metric (for a threshold judged per class or
    outcome column, the one that decided it), keyed by the result metric they draw; and for a
    multiclass check the routing grid (key ``"routing"``, :func:`routing_chart_svg`).

    Parameters
    ----------
    result : mapping
        The check's result (any task).
    findings : list of mapping
        :func:`assessments.verdicts.judge`'s findings.

    Returns
    -------
    dict of str to str
        Metric key to SVG document, in the order of the findings.
    """
    svgs: dict[str, str] = {}
    for finding in findings:
        threshold = finding.get("threshold")
        if not threshold:
            continue
        key = finding.get("chart_metric") or finding["metric"]
        svgs[key] = metric_chart_svg(result, key, threshold=threshold)
    if result.get("task") == MULTICLASS:
        svgs["routing"] = routing_chart_svg(result)
    return svgs


def routing_chart_svg(result: Mapping[str, Any]) -> str:
    """Where each group's cases are routed (multiclass): a group-by-class grid of shares.

    Each cell is the share of the group's cases the model assigned to the class (the per-class
    selection rate), printed in the cell and shaded by its size; text stays text and group or
    class names are never read as mathematical notation.

    Parameters
    ----------
    result : mapping
        A multiclass result (``to_dict()`` of
        :func:`assessments.metrics_multiclass.compute_multiclass_metrics`).

    Returns
    -------
    str
        An accessible SVG document, as :func:`metric_chart_svg` makes.
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    classes = list(result.get("classes") or [])
    groups = result["by_group"]
    features = list(result.get("sensitive_features", []))
    grid = [[(g["per_class"][c]["selection_rate"] or 0.0) for c in classes] for g in groups]
    names = [_group_label(g["group"]) for g in groups]
    title = f"Where each group's cases are routed, by {', '.join(features) or 'group'}"
    spreads = []
    for j, c in enumerate(classes):
        column = [row[j] for row in grid]
        hi, lo = (
            max(range(len(column)), key=column.__getitem__),
            min(range(len(column)), key=column.__getitem__),
        )
        spreads.append((column[hi] - column[lo], c, names[hi], column[hi], names[lo], column[lo]))
    spreads.sort(reverse=True)
    desc = (
        f"Grid of {len(groups)} groups by {len(classes)} classes; each cell is the share of the "
        "group's cases the model assigned to the class."
    )
    if spreads:
        gap, c, hi_name, hi_v, lo_name, lo_v = spreads[0]
        desc += (
            f" The largest difference is for {c}: {hi_v:.3f} of {hi_name} against {lo_v:.3f} of "
            f"{lo_name}."
        )
    desc += " The same numbers are in the table next to the chart."
    rc = CHART_RC
    with rc_context(rc):
        width = min(3.0 + 1.1 * max(len(classes), 1), 12.0)
        fig = Figure(figsize=(width, 1.6 + 0.45 * max(len(groups), 1)), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > 0.6 else "#111111",
                    parse_math=False,
                )
        ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right", parse_math=False)
        ax.set_yticks(range(len(groups)), names, parse_math=False)
        ax.set_xlabel("Class the model assigned (share of the group's cases)")
        ax.set_title(title, loc="left", fontsize=11, parse_math=False)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        fig.clear()
    return _add_title_desc(buf.getvalue(), title, desc, "routing")


#: The binary metrics a check page's table of groups shows.
BINARY_TABLE_METRICS = BINARY_PAGE_TABLE


def table_metrics(
    result: Mapping[str, Any], binary: tuple[str, ...] = BINARY_TABLE_METRICS
) -> list[str]:
    """The metric keys a table of groups shows for a result of any task."""
    task = result.get("task") or BINARY
    if task == BINARY:
        return list(binary)
    if task == OUTCOME_RATES:
        return [f"rate[{c}]" for c in result.get("outcomes", [])]
    overall = result.get("overall", {})
    return [m for m in METRIC_NAMES if m in overall and m != "count"]


def group_table(
    result: Mapping[str, Any], binary: tuple[str, ...] = BINARY_TABLE_METRICS
) -> dict[str, Any]:
    """A result's table of groups, ready to print: the columns' names and, per group, each
    value with its interval (None where undefined).

    Returns
    -------
    dict
        ``{"columns": [{"key", "label"}], "rows": [{"group": {feature: value}, "count",
        "small_group", "cells": [{"value", "ci"}]}]}``.
    """
    from assessments.metrics import group_value

    task = result.get("task") or BINARY
    keys = table_metrics(result, binary)
    rows = []
    for g in result.get("by_group", []):
        cells = [{"value": group_value(g, key), "ci": (g.get("ci") or {}).get(key)} for key in keys]
        rows.append(
            {
                "group": dict(g["group"]),
                "count": g["count"],
                "small_group": bool(g.get("small_group")),
                "cells": cells,
            }
        )
    return {
        "columns": [{"key": key, "label": metric_label(key, task)} for key in keys],
        "rows": rows,
    }


def class_table(result: Mapping[str, Any], metric: str = "selection_rate") -> dict[str, Any]:
    """A multiclass result's group-by-class table of one per-class metric (by default the
    routing: the share of each group's cases assigned to each class); empty for other tasks.

    Returns
    -------
    dict
        ``{"metric", "label", "classes": [...], "rows": [{"group", "count", "cells":
        [{"value", "ci"}]}]}``.
    """
    classes = list(result.get("classes") or [])
    rows = []
    for g in result.get("by_group", []) if classes else []:
        rows.append(
            {
                "group": dict(g["group"]),
                "count": g["count"],
                "cells": [
                    {
                        "value": g["per_class"][c][metric],
                        "ci": (g.get("ci") or {}).get(f"{metric}[{c}]"),
                    }
                    for c in classes
                ],
            }
        )
    label = METRICS_BY_KEY[f"class_{metric}"].label if classes else metric
    return {"metric": metric, "label": label, "classes": classes, "rows": rows}


def what_if_chart_svg(analysis: Mapping[str, Any]) -> str:
    """The fairness-accuracy trade-off of the what-if analysis (its first option): accuracy
    against the disparity the per-group thresholds leave, with the policy's bound.

    Parameters
    ----------
    analysis : mapping
        :func:`assessments.metrics_whatif.what_if`'s result.

    Returns
    -------
    str
        An accessible SVG document, as :func:`metric_chart_svg` makes.
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    option = analysis["options"][0]
    threshold = option["threshold"]
    by_ratio = threshold.get("ratio_min") is not None
    key = "ratio" if by_ratio else "difference"
    points = [c for c in option["curve"] if c[key] is not None]
    label = METRIC_NAMES.get(option["metric"], option["metric"])
    axis = f"{label}: {'ratio (min ÷ max)' if by_ratio else 'difference (max − min)'}"
    title = f"Analysis: accuracy against {label.lower()} {key}, per-group thresholds"
    desc = (
        f"Trade-off of {len(points)} per-group threshold settings computed by fairlearn's "
        f"ThresholdOptimizer: accuracy against the {label.lower()} {key}. "
        + (
            f"The most accurate setting within the policy has accuracy {option['accuracy']:.3f}."
            if option["meets_policy"]
            else "No setting tried meets the policy."
        )
        + " Analysis only, not a recommendation."
    )
    rc = CHART_RC
    with rc_context(rc):
        fig = Figure(figsize=(7.5, 4.0), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        xs = [c[key] for c in points]
        ys = [c["accuracy"] for c in points]
        ax.plot(xs, ys, marker="o", color="#1f4e79", linestyle="-", linewidth=1)
        bound = threshold["ratio_min"] if by_ratio else threshold["difference_max"]
        ax.axvline(float(bound), color="#b00020", linestyle="--", linewidth=1.5)
        ax.text(
            float(bound),
            max(ys) if ys else 1,
            f" policy bound {bound:g}",
            color="#b00020",
            fontsize=8,
            va="top",
        )
        if analysis.get("current_accuracy") is not None:
            ax.axhline(analysis["current_accuracy"], color="#555555", linestyle=":", linewidth=1)
            ax.text(
                min(xs) if xs else 0,
                analysis["current_accuracy"],
                " current decisions",
                fontsize=8,
                va="bottom",
                color="#555555",
            )
        ax.set_xlabel(axis)
        ax.set_ylabel("Accuracy (expected)")
        ax.set_title(title, loc="left", fontsize=11, parse_math=False)
        ax.grid(color="#dddddd", linewidth=0.6)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        fig.clear()
    return _add_title_desc(buf.getvalue(), title, desc, "what_if")
