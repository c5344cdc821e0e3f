"""Pure scoring of the impact questionnaire, after the Canadian Algorithmic Impact Assessment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import AnswersInvalid

__all__ = [
    "MITIGATION_FACTOR",
    "MITIGATION_THRESHOLD",
    "AreaScore",
    "Score",
    "impact_level",
    "score",
    "validate_answers",
    "visible_questions",
]

#: Share of the maximum mitigation score at or above which the raw impact score is reduced.
MITIGATION_THRESHOLD = Fraction(4, 5)
#: What the raw impact score is multiplied by when mitigation reaches the threshold.
MITIGATION_FACTOR = Fraction(17, 20)
# Upper bounds (inclusive) of levels I, II and III as shares of the maximum raw score.
_LEVEL_BOUNDS: tuple[tuple[Fraction, str], ...] = (
    (Fraction(1, 4), "I"),
    (Fraction(1, 2), "II"),
    (Fraction(3, 4), "III"),
)

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class AreaScore:
    """Scores of one questionnaire area; `max_*` count every question, shown or not."""

    area: str
    raw: int
    max_raw: int
    mitigation: int
    max_mitigation: int


@dataclass(frozen=True)
class Score:
    """The result of `score`.

    `current_score` is a float for display and storage; `impact_level` is decided with exact
    fractions, so a score of exactly 25% of the maximum is level I.
    """

    raw_score: int
    max_raw_score: int
    mitigation_score: int
    max_mitigation_score: int
    mitigation_applied: bool
    current_score: float
    impact_level: str
    areas: tuple[AreaScore, ...]
    questionnaire_version: str | None = None

    def area(self, area_id: str) -> AreaScore:
        """Return the breakdown of one area, raising KeyError if the area is unknown."""
        for entry in self.areas:
            if entry.area == area_id:
                return entry
        raise KeyError(area_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `areas` maps area id to its scores."""
        return {
            "raw_score": self.raw_score,
            "max_raw_score": self.max_raw_score,
            "mitigation_score": self.mitigation_score,
            "max_mitigation_score": self.max_mitigation_score,
            "mitigation_applied": self.mitigation_applied,
            "current_score": self.current_score,
            "impact_level": self.impact_level,
            "questionnaire_version": self.questionnaire_version,
            "areas": {
                a.area: {
                    "raw": a.raw,
                    "max_raw": a.max_raw,
                    "mitigation": a.mitigation,
                    "max_mitigation": a.max_mitigation,
                }
                for a in self.areas
            },
        }


def _selected(question: Mapping[str, Any], value: Any) -> tuple[Any, ...]:
    """The answer as a tuple of chosen values; empty when unanswered."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,)


def _visible_ids(questionnaire: Mapping[str, Any], answers: Answers) -> set[str]:
    by_id = {q["id"]: q for q in questionnaire["questions"]}
    memo: dict[str, bool] = {}

    def visible(qid: str, trail: frozenset[str]) -> bool:
        if qid in memo:
            return memo[qid]
        cond = by_id[qid].get("show_if")
        if not cond:
            result = True
        else:
            target = cond["question"]
            if target not in by_id or target in trail:
                # Unknown or cyclic controllers cannot be satisfied; validated policies have none.
                result = False
            else:
                shown = visible(target, trail | {qid})
                chosen = _selected(by_id[target], answers.get(target))
                result = shown and any(v in cond["in"] for v in chosen if isinstance(v, str))
        memo[qid] = result
        return result

    return {qid for qid in by_id if visible(qid, frozenset())}


def visible_questions(
    questionnaire: Mapping[str, Any], answers: Answers
) -> tuple[Mapping[str, Any], ...]:
    """Return the questions shown for these answers, in questionnaire order.

    A question with ``show_if`` is shown only when its controlling question is shown and that
    question's answer (any selected value, for multiple choice) is among ``show_if.in``;
    hiding is therefore transitive.

    Parameters
    ----------
    questionnaire : Mapping
        The ``questionnaire`` section of a validated policy document.
    answers : Mapping
        Question id to a choice value, or a list of values for multiple-choice questions.

    Returns
    -------
    tuple of Mapping
        The visible question mappings.
    """
    shown = _visible_ids(questionnaire, answers)
    return tuple(q for q in questionnaire["questions"] if q["id"] in shown)


def _problems(
    questionnaire: Mapping[str, Any], answers: Any, *, require_complete: bool
) -> dict[str, str]:
    if not isinstance(answers, Mapping):
        return {"answers": "must be a mapping of question id to answer"}
    by_id = {q["id"]: q for q in questionnaire["questions"]}
    errors: dict[str, str] = {}
    for qid in answers:
        if qid not in by_id:
            errors[str(qid)] = "unknown question"
    shown = _visible_ids(questionnaire, answers)
    for question in questionnaire["questions"]:
        qid = question["id"]
        if qid not in shown:
            # The HTML form may post stale answers to hidden questions; they are ignored.
            continue
        message = _answer_problem(question, answers.get(qid), require_complete=require_complete)
        if message:
            errors[qid] = message
    return errors


def _answer_problem(question: Mapping[str, Any], value: Any, *, require_complete: bool) -> str:
    if not question.get("multiple", False) and isinstance(value, list | tuple):
        return "expects a single answer, not a list"
    chosen = _selected(question, value)
    if not chosen:
        required = question.get("required", True)
        return "an answer is required" if required and require_complete else ""
    choices = {c["value"]: c for c in question["choices"]}
    for v in chosen:
        if not isinstance(v, str) or v not in choices:
            return f"{v!r} is not one of the choices: {', '.join(choices)}"
    if len(set(chosen)) != len(chosen):
        return "a choice is selected more than once"
    if len(chosen) > 1:
        for v in chosen:
            if choices[v].get("exclusive"):
                return f"{v!r} cannot be combined with other choices"
    return ""


def validate_answers(questionnaire: Mapping[str, Any], answers: Answers) -> None:
    """Check answers against the questionnaire.

    Answers to hidden questions are accepted and ignored, whatever they contain, because a
    form may post answers to questions that a later change hid. A bare string is accepted for
    a multiple-choice question as a one-item selection.

    Parameters
    ----------
    questionnaire : Mapping
        The ``questionnaire`` section of a validated policy document.
    answers : Mapping
        Question id to a choice value, or a list of values for multiple-choice questions.
        ``None``, ``""`` and ``[]`` mean unanswered.

    Raises
    ------
    AnswersInvalid
        ``errors`` maps question ids to messages: unknown question, a value that is not a
        choice, a list for a single-choice question, a repeated or non-combinable choice, or a
        missing answer to a visible required question.
    """
    errors = _problems(questionnaire, answers, require_complete=True)
    if errors:
        raise AnswersInvalid(errors)


def _question_max(question: Mapping[str, Any]) -> int:
    weights = [c["weight"] for c in question["choices"]]
    if question.get("multiple", False):
        return sum(w for w in weights if w > 0)
    # Leaving an optional question blank scores 0, so the maximum is never below 0.
    return max([0, *weights])


def impact_level(current: Fraction | int, max_raw: int) -> str:
    """Return "I".."IV" for a current score, bounds inclusive: exactly 25% of `max_raw` is I.

    Parameters
    ----------
    current : Fraction or int
        The current (possibly mitigated) score, kept exact.
    max_raw : int
        The maximum raw score; when it is not positive every score is level I.
    """
    if max_raw <= 0:
        return "I"
    share = Fraction(current) / max_raw
    for bound, level in _LEVEL_BOUNDS:
        if share <= bound:
            return level
    return "IV"


def _sum_weights(question: Mapping[str, Any], chosen: Iterable[Any]) -> int:
    weights = {c["value"]: c["weight"] for c in question["choices"]}
    return sum(weights.get(v, 0) for v in set(chosen) if isinstance(v, str))


def score(
    questionnaire: Mapping[str, Any], answers: Answers, *, require_complete: bool = True
) -> Score:
    """Score questionnaire answers.

    ``raw_score`` sums the weights of the chosen answers to visible impact questions;
    ``max_raw_score`` sums, over every impact question whether shown or not (as the Canadian
    AIA does), the highest choice weight, or for multiple choice the sum of positive weights.
    Mitigation is scored the same way. When the maximum mitigation is positive and the
    mitigation score reaches 80% of it, ``current_score = raw_score * 0.85``; otherwise it is
    the raw score. Levels: at most 25% of the maximum raw score is I, 50% II, 75% III, above
    that IV, compared exactly.

    Parameters
    ----------
    questionnaire : Mapping
        The ``questionnaire`` section of a validated policy document.
    answers : Mapping
        Question id to a choice value, or a list of values for multiple-choice questions.
    require_complete : bool, default True
        When False, unanswered visible required questions are allowed (a draft preview);
        other answer errors are still raised.

    Returns
    -------
    Score

    Raises
    ------
    AnswersInvalid
        As `validate_answers`.
    """
    errors = _problems(questionnaire, answers, require_complete=require_complete)
    if errors:
        raise AnswersInvalid(errors)
    shown = _visible_ids(questionnaire, answers)
    totals: dict[str, dict[str, int]] = {}
    for area in questionnaire.get("areas", ()):
        totals[area["id"]] = {"raw": 0, "max_raw": 0, "mitigation": 0, "max_mitigation": 0}
    for question in questionnaire["questions"]:
        kind = question["kind"]
        if kind not in ("impact", "mitigation"):
            continue
        bucket = totals.setdefault(
            question["area"], {"raw": 0, "max_raw": 0, "mitigation": 0, "max_mitigation": 0}
        )
        got = 0
        if question["id"] in shown:
            got = _sum_weights(question, _selected(question, answers.get(question["id"])))
        if kind == "impact":
            bucket["raw"] += got
            bucket["max_raw"] += _question_max(question)
        else:
            bucket["mitigation"] += got
            bucket["max_mitigation"] += _question_max(question)

    raw = sum(t["raw"] for t in totals.values())
    max_raw = sum(t["max_raw"] for t in totals.values())
    mitigation = sum(t["mitigation"] for t in totals.values())
    max_mitigation = sum(t["max_mitigation"] for t in totals.values())
    applied = max_mitigation > 0 and mitigation >= MITIGATION_THRESHOLD * max_mitigation
    current = raw * MITIGATION_FACTOR if applied else Fraction(raw)
    return Score(
        raw_score=raw,
        max_raw_score=max_raw,
        mitigation_score=mitigation,
        max_mitigation_score=max_mitigation,
        mitigation_applied=applied,
        current_score=float(current),
        impact_level=impact_level(current, max_raw),
        areas=tuple(AreaScore(area, **t) for area, t in totals.items()),
        questionnaire_version=questionnaire.get("version"),
    )
