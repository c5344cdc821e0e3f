"""The shipped impact questionnaire: coverage, conditions and scoring properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import AnswersInvalid, load_library, score, validate_answers, visible_questions

QUESTIONNAIRE = load_library()["questionnaire"]
QUESTIONS = {q["id"]: q for q in QUESTIONNAIRE["questions"]}
LEVELS = ("I", "II", "III", "IV")
PROPERTY = settings(max_examples=40, deadline=None, database=None)
# Questions whose answer shows or hides a scored question.
SCORED_CONTROLLERS = {
    q["show_if"]["question"]
    for q in QUESTIONNAIRE["questions"]
    if q["show_if"] and q["kind"] != "unscored"
}


def test_version_and_size() -> None:
    assert QUESTIONNAIRE["version"] == "1.0.0"
    assert len(QUESTIONS) >= 30


def test_covers_the_impact_and_mitigation_areas() -> None:
    used = {q["area"] for q in QUESTIONS.values()}
    assert used >= {
        "rights_and_freedoms",
        "benefits_and_services",
        "liberty",
        "health_and_safety",
        "economic_interests",
        "reversibility_and_duration",
        "vulnerable_populations",
        "scale_of_use",
        "personal_data",
        "data_quality",
        "explainability",
        "human_involvement",
        "vendor_opacity",
        "testing",
        "monitoring",
        "recourse",
        "consultation",
        "documentation",
    }
    kinds = {q["kind"] for q in QUESTIONS.values()}
    assert kinds == {"impact", "mitigation", "unscored"}


def test_has_conditional_and_multiple_choice_questions() -> None:
    conditional = [q for q in QUESTIONS.values() if q["show_if"]]
    multiple = [q for q in QUESTIONS.values() if q["multiple"]]
    assert len(conditional) >= 5
    assert len(multiple) >= 5
    assert {q["show_if"]["question"] for q in conditional} >= {
        "uses_personal_information",
        "vendor_supplied",
    }


def baseline_answers() -> dict[str, Any]:
    """The lowest-weight answer to every question."""
    answers: dict[str, Any] = {}
    for q in QUESTIONS.values():
        low = min(q["choices"], key=lambda c: c["weight"])["value"]
        answers[q["id"]] = [low] if q["multiple"] else low
    return answers


def test_personal_information_controls_the_sensitive_questions() -> None:
    no = {**baseline_answers(), "uses_personal_information": "no"}
    yes = {**no, "uses_personal_information": "yes"}
    hidden = {q["id"] for q in QUESTIONS.values()} - {
        q["id"] for q in visible_questions(QUESTIONNAIRE, no)
    }
    assert {"sensitive_categories", "data_linkage", "privacy_assessment_done"} <= hidden
    assert {"sensitive_categories", "data_linkage"} <= {
        q["id"] for q in visible_questions(QUESTIONNAIRE, yes)
    }
    assert score(QUESTIONNAIRE, {**no, "sensitive_categories": ["health", "biometric"]}) == score(
        QUESTIONNAIRE, no
    )
    assert score(
        QUESTIONNAIRE, {**yes, "sensitive_categories": ["health", "biometric"]}
    ).raw_score == (score(QUESTIONNAIRE, yes).raw_score + 4)


def test_lowest_answers_score_level_one_and_highest_level_four() -> None:
    assert score(QUESTIONNAIRE, baseline_answers()).impact_level == "I"
    worst: dict[str, Any] = {}
    for q in QUESTIONS.values():
        if q["multiple"]:
            worst[q["id"]] = [c["value"] for c in q["choices"] if c["weight"] > 0] or [
                q["choices"][0]["value"]
            ]
        elif q["kind"] == "mitigation":
            worst[q["id"]] = min(q["choices"], key=lambda c: c["weight"])["value"]
        else:
            worst[q["id"]] = max(q["choices"], key=lambda c: c["weight"])["value"]
    worst["model_type"] = "generative"
    worst["further_evaluations"] = ["none"]
    worst["internal_review"] = ["none"]
    result = score(QUESTIONNAIRE, worst)
    # Full automation hides override_capability, whose 2 points still count in the maximum.
    assert result.raw_score == result.max_raw_score - 2
    assert result.impact_level == "IV"


def test_missing_answers_are_reported_by_question() -> None:
    answers = baseline_answers()
    del answers["rights_impact"]
    answers["people_affected"] = "billions"
    answers["reversibility"] = ["easily"]
    answers["not_a_question"] = "yes"
    with pytest.raises(AnswersInvalid) as caught:
        validate_answers(QUESTIONNAIRE, answers)
    assert set(caught.value.errors) == {
        "rights_impact",
        "people_affected",
        "reversibility",
        "not_a_question",
    }


def answer(q: dict[str, Any]) -> st.SearchStrategy[Any]:
    values = [c["value"] for c in q["choices"]]
    if q["multiple"]:
        return st.lists(st.sampled_from(values), min_size=1, unique=True)
    return st.sampled_from(values)


ALL_ANSWERS = st.fixed_dictionaries({qid: answer(q) for qid, q in QUESTIONS.items()})


def raise_answer(q: dict[str, Any], value: Any, data: st.DataObject) -> Any:
    weights = {c["value"]: c["weight"] for c in q["choices"]}
    if q["multiple"]:
        extra = [v for v in weights if v not in value and weights[v] >= 0]
        return (
            [*value, *data.draw(st.lists(st.sampled_from(extra), unique=True))] if extra else value
        )
    return data.draw(st.sampled_from([v for v in weights if weights[v] >= weights[value]]))


def pick(kind: str) -> list[dict[str, Any]]:
    return [
        q for q in QUESTIONS.values() if q["kind"] == kind and q["id"] not in SCORED_CONTROLLERS
    ]


@PROPERTY
@given(ALL_ANSWERS, st.data())
def test_raising_an_impact_answer_never_lowers_the_score(
    answers: dict[str, Any], data: st.DataObject
) -> None:
    q = data.draw(st.sampled_from(pick("impact")))
    before = score(QUESTIONNAIRE, answers)
    after = score(QUESTIONNAIRE, {**answers, q["id"]: raise_answer(q, answers[q["id"]], data)})
    assert after.current_score >= before.current_score
    assert LEVELS.index(after.impact_level) >= LEVELS.index(before.impact_level)


@PROPERTY
@given(ALL_ANSWERS, st.data())
def test_more_mitigation_never_raises_the_level(
    answers: dict[str, Any], data: st.DataObject
) -> None:
    q = data.draw(st.sampled_from(pick("mitigation")))
    before = score(QUESTIONNAIRE, answers)
    after = score(QUESTIONNAIRE, {**answers, q["id"]: raise_answer(q, answers[q["id"]], data)})
    assert after.current_score <= before.current_score
    assert LEVELS.index(after.impact_level) <= LEVELS.index(before.impact_level)


@PROPERTY
@given(ALL_ANSWERS)
def test_hidden_answers_never_count_in_the_shipped_questionnaire(answers: dict[str, Any]) -> None:
    shown = {q["id"] for q in visible_questions(QUESTIONNAIRE, answers)}
    assert score(QUESTIONNAIRE, {k: v for k, v in answers.items() if k in shown}) == score(
        QUESTIONNAIRE, answers
    )
    # Switching a controller off afterwards drops what it had shown.
    off = {**answers, "uses_personal_information": "no", "vendor_supplied": "no"}
    kept = {
        k: v
        for k, v in off.items()
        if QUESTIONS[k]["show_if"] is None
        or QUESTIONS[k]["show_if"]["question"]
        not in ("uses_personal_information", "vendor_supplied")
    }
    assert score(QUESTIONNAIRE, off) == score(QUESTIONNAIRE, kept)
