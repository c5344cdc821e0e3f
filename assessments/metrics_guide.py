"""Help choosing what to measure: a short fairness tree that recommends metrics, with reasons.

After the fairness tree of Aequitas (Saleiro et al., "Aequitas: A Bias and Fairness Audit
Toolkit", 2018) and AI Verify's guidance on choosing fairness metrics. Three questions:

1. Is the decision *punitive* (it imposes a burden: an investigation, a denial) or *assistive*
   (it gives help: outreach, a service, a faster queue)?
2. Which harm matters most: people *wrongly flagged* (selected without need or cause), people
   *missed* (who needed the help or should have been selected), or *who gets selected at all*
   (representation, whatever the outcome)?
3. Is there a *ground truth* (the true outcome of each case)? Without it, only representation
   can be measured. It follows from the check (true values given or not) unless the team says
   the recorded outcomes cannot be trusted.

The answer is a list of recommended metrics of the check's task (names of
:mod:`policies.fairness`) and the reasoning, in plain words, recorded with the check.
"""

from __future__ import annotations

from typing import Any

from policies.fairness import BINARY, MULTICLASS, OUTCOME_RATES, REGRESSION

__all__ = ["CONCERNS", "INTERVENTIONS", "QUESTIONS", "recommend"]

INTERVENTIONS = {
    "punitive": "Punitive: it imposes a burden on the people it selects (an investigation, a "
    "denial, a sanction)",
    "assistive": "Assistive: it gives help to the people it selects (outreach, a service, "
    "priority)",
}
CONCERNS = {
    "wrongly_flagged": "People wrongly selected: selected although they should not have been",
    "missed": "People missed: not selected although they needed it",
    "representation": "Who gets selected at all, whatever the outcome (representation)",
}
QUESTIONS = {
    "intervention": ("What does the decision do to the people it selects?", INTERVENTIONS),
    "concern": ("Which errors worry you most?", CONCERNS),
    "ground_truth": (
        "Can the recorded true outcomes be trusted?",
        {"yes": "Yes", "no": "No: measure representation only"},
    ),
}

_SOURCE = (
    "Recommended by the fairness tree of Aequitas (Saleiro et al., 2018) and AI Verify's "
    "guidance on choosing fairness metrics."
)


def recommend(task: str, answers: dict[str, str], *, has_truth: bool) -> dict[str, Any] | None:
    """The metrics to look at first for a check, and why.

    Parameters
    ----------
    task : str
        The check's task.
    answers : dict
        ``intervention`` (:data:`INTERVENTIONS`), ``concern`` (:data:`CONCERNS`) and
        optionally ``ground_truth`` (``"yes"`` / ``"no"``); unknown or missing answers are left
        out.
    has_truth : bool
        Whether the check has true outcomes (y_true or aggregated errors).

    Returns
    -------
    dict or None
        ``{"answers", "recommended": [metric], "reasoning": [sentence], "source"}``, or None
        when no question was answered.
    """
    given = {
        "intervention": answers.get("intervention")
        if answers.get("intervention") in INTERVENTIONS
        else None,
        "concern": answers.get("concern") if answers.get("concern") in CONCERNS else None,
        "ground_truth": answers.get("ground_truth")
        if answers.get("ground_truth") in ("yes", "no")
        else None,
    }
    if not any(given.values()):
        return None
    truth = has_truth and given["ground_truth"] != "no" and task != OUTCOME_RATES
    intervention, concern = given["intervention"], given["concern"]
    reasoning: list[str] = []
    if not truth:
        reasoning.append(
            "Without trustworthy true outcomes, errors cannot be measured: compare who is "
            "selected (representation)."
        )
        concern = "representation"
    elif concern == "representation":
        reasoning.append(
            "You care about who is selected at all, whatever the outcome: compare selection "
            "(representation) rather than errors."
        )
    if intervention == "punitive" and concern != "representation":
        reasoning.append(
            "The decision is punitive, so the people it wrongly selects bear the harm: compare "
            "the false positive rate (and, among those selected, the precision)."
            if concern != "missed"
            else "The decision is punitive, yet you worry most about the people it misses: "
            "compare the false negative rate, and keep an eye on the false positive rate, where "
            "a punitive decision's harm to individuals lies."
        )
    elif intervention == "assistive" and concern != "representation":
        reasoning.append(
            "The decision is assistive, so the people it misses lose help they need: compare the "
            "true positive rate (recall) across groups."
            if concern != "wrongly_flagged"
            else "The decision is assistive, yet you worry most about help given without need: "
            "compare the false positive rate, and the true positive rate for those in need."
        )
    recommended = _metrics(task, intervention, concern, truth)
    if task == REGRESSION and truth:
        reasoning.append(
            "For a number (a wait time, an amount), compare the typical size of the errors "
            "(mean absolute error) and their direction (mean error: a group whose values are "
            "systematically under- or over-estimated)."
        )
    if task == MULTICLASS:
        reasoning.append(
            "For one of several classes (queues), the rates are per class, one class against "
            "the rest; the routing table shows where each group's cases go."
        )
    return {
        "answers": {k: v for k, v in given.items() if v},
        "recommended": recommended,
        "reasoning": reasoning,
        "source": _SOURCE,
    }


def _metrics(task: str, intervention: str | None, concern: str | None, truth: bool) -> list[str]:
    if task == OUTCOME_RATES:
        return ["rate"]
    if task == REGRESSION:
        if not truth:
            return ["mean_prediction"]
        return ["mean_error", "mean_absolute_error"]
    if not truth or concern == "representation":
        return ["selection_rate"]
    punitive = intervention == "punitive"
    if concern == "wrongly_flagged" or (punitive and concern is None):
        metrics = ["false_positive_rate", "precision"]
    elif concern == "missed" or intervention == "assistive":
        metrics = ["true_positive_rate", "false_negative_rate"]
    else:
        metrics = ["false_positive_rate", "true_positive_rate"]
    if task == MULTICLASS:
        metrics = [m for m in metrics if m != "false_negative_rate"] + ["balanced_accuracy"]
    elif task == BINARY and punitive and "false_positive_rate" not in metrics:
        metrics.append("false_positive_rate")
    return metrics
