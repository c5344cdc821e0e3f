"""A policy document in human words: the sections an administrator reads instead of its YAML.

Pure: it takes the normalised document of :func:`policies.schema.validate_policy` and returns
plain data for a template. Metric and task names come from :mod:`policies.fairness`, the one
vocabulary, so a threshold reads the same here as on a bias check's page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fairness import BINARY, METRIC_ALIASES, METRIC_LABELS, TASK_LABELS, definition

__all__ = ["outline", "threshold_text"]

QUESTION_KIND_LABELS: dict[str, str] = {
    "impact": "Raises the impact score",
    "mitigation": "Mitigation: can lower the score",
    "unscored": "Not scored (context only)",
}


def _number(value: float) -> str:
    return f"{value:g}"


def threshold_text(threshold: Mapping[str, Any], task: str = BINARY) -> str:
    """One fairness threshold as a sentence, e.g. "the largest group value is at most 1.25
    times the smallest (four-fifths rule)".

    Parameters
    ----------
    threshold : mapping
        ``{"metric": name, "ratio_min": r}`` or ``{"metric": name, "difference_max": d}``.
    task : str, default binary classification
        The kind of check the threshold judges (it decides how a difference is written).

    Returns
    -------
    str
    """
    metric = threshold["metric"]
    if threshold.get("ratio_min") is not None:
        bound = float(threshold["ratio_min"])
        times = 1 / bound
        rule = (
            f"the largest group value is at most {times:.3g} times the smallest "
            f"(their ratio is at least {_number(bound)})"
        )
        if abs(bound - 0.8) < 1e-9 and metric in ("selection_rate", "demographic_parity"):
            rule += ": the four-fifths rule"
        return rule
    bound = float(threshold["difference_max"])
    style = "rate" if metric in METRIC_ALIASES else definition(metric, task).style
    if style == "rate":
        gap = f"{bound * 100:g} percentage points"
    elif style == "quantity":
        gap = f"{_number(bound)} in the units of the model's output"
    else:
        gap = _number(bound)
    return f"groups differ by at most {gap}"


def _thresholds(rules: list[dict[str, Any]], task: str) -> list[dict[str, str]]:
    return [
        {"metric": METRIC_LABELS.get(rule["metric"], rule["metric"]),
         "rule": threshold_text(rule, task)}
        for rule in rules
    ]


def _fairness(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    tiers = []
    for tier, section in (doc.get("fairness") or {}).items():
        tasks = [{"task": TASK_LABELS[BINARY], "rules": _thresholds(section["thresholds"], BINARY)}]
        for task, rules in (section.get("thresholds_by_task") or {}).items():
            tasks.append({"task": TASK_LABELS.get(task, task), "rules": _thresholds(rules, task)})
        tiers.append(
            {"tier": tier, "min_group_size": section.get("min_group_size"), "tasks": tasks}
        )
    return tiers


def _means(satisfied_by: Mapping[str, Any], kinds: Mapping[str, str]) -> list[str]:
    means = []
    if satisfied_by.get("impact_assessment"):
        means.append("a completed impact assessment")
    if satisfied_by.get("bias_check"):
        means.append("a passing bias check")
    if satisfied_by.get("risk_register"):
        means.append("a current risk register")
    for kind in satisfied_by.get("evidence_kinds") or []:
        means.append(f"evidence: {kinds.get(kind, kind).lower()}")
    return means


def _checklist(doc: Mapping[str, Any]) -> dict[str, Any]:
    kinds = {k["id"]: k["label"] for k in doc.get("evidence_kinds") or []}
    items = {item["id"]: item for item in doc.get("items") or []}
    cadence = doc.get("review_cadence_months") or {}

    def entry(requirement: Mapping[str, Any]) -> dict[str, Any]:
        item = items.get(requirement["item"], {})
        age = requirement.get("max_age_days")
        return {
            "title": item.get("title", ""),
            "description": item.get("description", ""),
            "met_by": _means(item.get("satisfied_by") or {}, kinds),
            "max_age": f"no older than {age} days" if age else None,
        }

    tiers = [
        {
            "tier": tier,
            "review_months": cadence.get(tier),
            "items": [entry(r) for r in requirements],
        }
        for tier, requirements in (doc.get("requirements") or {}).items()
    ]
    m = doc.get("m_25_21") or {}
    high_impact = {
        "title": m.get("title", ""),
        "items": [
            {
                "title": item["title"],
                "description": item.get("description", ""),
                "met_by": _means(item.get("satisfied_by") or {}, kinds),
                "max_age": None,
            }
            for item in m.get("items") or []
        ],
    }
    return {
        "untiered": [entry(r) for r in doc.get("untiered_requirements") or []],
        "tiers": tiers,
        "high_impact": high_impact,
    }


def _questionnaire(doc: Mapping[str, Any]) -> dict[str, Any]:
    q = doc.get("questionnaire") or {}
    by_id = {question["id"]: question for question in q.get("questions") or []}
    sections = []
    for area in q.get("areas") or []:
        questions = []
        for question in q.get("questions") or []:
            if question["area"] != area["id"]:
                continue
            condition = None
            show_if = question.get("show_if")
            if show_if:
                target = by_id.get(show_if["question"], {})
                labels = {c["value"]: c["label"] for c in target.get("choices") or []}
                answers = " or ".join(f"“{labels.get(v, v)}”" for v in show_if["in"])
                condition = f"Asked only when “{target.get('text', '')}” is answered {answers}."
            questions.append({
                "text": question["text"],
                "kind": QUESTION_KIND_LABELS.get(question["kind"], question["kind"]),
                "multiple": bool(question.get("multiple")),
                "required": question.get("required", True),
                "condition": condition,
                "choices": [
                    {"label": c["label"], "weight": c.get("weight", 0)}
                    for c in question.get("choices") or []
                ],
            })
        if questions:
            sections.append({"title": area["label"], "questions": questions})
    return {
        "title": q.get("title", ""),
        "version": q.get("version", ""),
        "count": len(by_id),
        "sections": sections,
    }


def outline(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The sections of a validated policy document, in words.

    Parameters
    ----------
    doc : mapping
        A document as :func:`policies.schema.validate_policy` returns it.

    Returns
    -------
    dict
        ``fairness`` (per tier: minimum group size and, per kind of check, each threshold as a
        metric label and a rule sentence), ``checklist`` (the requirements before a tier is
        known, per tier with the review cadence, and the M-25-21 high-impact practices) and
        ``questionnaire`` (its areas as sections, each with its questions and choices).
    """
    return {
        "name": doc.get("name", ""),
        "version": doc.get("version", ""),
        "description": doc.get("description"),
        "fairness": _fairness(doc),
        "checklist": _checklist(doc),
        "questionnaire": _questionnaire(doc),
    }
