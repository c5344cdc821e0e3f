"""Worked scoring examples and properties of `policies.scoring` on synthetic questionnaires."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import AnswersInvalid, score, validate_answers, validate_policy, visible_questions

LEVELS = ("I", "II", "III", "IV")
PROPERTY = settings(max_examples=60, deadline=None, database=None)


def question(
    qid: str,
    weights: list[int],
    *,
    kind: str = "impact",
    multiple: bool = False,
    area: str = "impact",
    show_if: dict[str, Any] | None = None,
    required: bool = True,
) -> dict[str, Any]:
    """A normalised question whose choice `c<i>` has weight `weights[i]`."""
    return {
        "id": qid,
        "area": area,
        "text": f"Question {qid}?",
        "kind": kind,
        "multiple": multiple,
        "required": required,
        "show_if": show_if,
        "choices": [
            {"value": f"c{i}", "label": f"choice {i}", "weight": w, "exclusive": False}
            for i, w in enumerate(weights)
        ],
    }


def questionnaire(*questions: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0.0.1",
        "title": "Synthetic",
        "areas": [{"id": "impact", "label": "Impact"}, {"id": "mitigation", "label": "Mitigation"}],
        "questions": list(questions),
    }


# max raw 10 + 10 = 20 (single: highest weight; multiple: sum of positive weights, -2 ignored),
# max mitigation 5 + 5 = 10.
TWENTY = questionnaire(
    question("single", list(range(11))),
    question("multi", [1, 2, 3, 4, -2], multiple=True, required=False),
    question("m_single", list(range(6)), kind="mitigation", area="mitigation"),
    question(
        "m_multi",
        [1, 1, 1, 1, 1],
        kind="mitigation",
        area="mitigation",
        multiple=True,
        required=False,
    ),
)

# max raw 34 + 34 = 68, so raw 20/40/60 reduced by 15% land exactly on 17/34/51 = 25/50/75%;
# max mitigation 15, where float 0.8 * 15 = 12.000000000000002 would wrongly reject 12.
SIXTY_EIGHT = questionnaire(
    question("a", list(range(35))),
    question("b", list(range(35))),
    *(question(f"m{i}", list(range(6)), kind="mitigation", area="mitigation") for i in range(3)),
)


def twenty_answers(single: int, multi: list[int], m_single: int, m_multi: int) -> dict[str, Any]:
    return {
        "single": f"c{single}",
        "multi": [f"c{i}" for i in multi],
        "m_single": f"c{m_single}",
        "m_multi": [f"c{i}" for i in range(m_multi)],
    }


def sixty_eight_answers(raw: int, mitigation: int) -> dict[str, Any]:
    a = min(raw, 34)
    answers = {"a": f"c{a}", "b": f"c{raw - a}"}
    left = mitigation
    for i in range(3):
        take = min(left, 5)
        answers[f"m{i}"] = f"c{take}"
        left -= take
    return answers


def test_synthetic_questionnaires_are_valid_policy_sections(raw_library: dict[str, Any]) -> None:
    for synthetic in (TWENTY, SIXTY_EIGHT, CONDITIONAL):
        validate_policy({**raw_library, "questionnaire": synthetic})


def test_max_is_highest_single_weight_plus_positive_multiple_weights() -> None:
    result = score(TWENTY, twenty_answers(0, [], 0, 0))
    assert (result.max_raw_score, result.max_mitigation_score) == (20, 10)
    assert result.area("impact").max_raw == 20
    assert result.area("mitigation").max_mitigation == 10


# (answers, raw, mitigation, applied, current, level), each worked out by hand.
TWENTY_TABLE = [
    # Multiple choice sums every selected weight, including a negative one.
    (twenty_answers(3, [1, 2, 4], 0, 0), 3 + 2 + 3 - 2, 0, False, 6.0, "II"),
    (twenty_answers(5, [], 0, 0), 5, 0, False, 5.0, "I"),  # exactly 25%
    (twenty_answers(6, [], 0, 0), 6, 0, False, 6.0, "II"),  # 30%
    (twenty_answers(6, [], 5, 3), 6, 8, True, 5.1, "II"),  # 80% mitigation: 25.5%
    (twenty_answers(6, [], 5, 2), 6, 7, False, 6.0, "II"),  # 70% mitigation: not reduced
    (twenty_answers(10, [], 0, 0), 10, 0, False, 10.0, "II"),  # exactly 50%
    (twenty_answers(10, [0], 0, 0), 11, 0, False, 11.0, "III"),  # 55%
    (twenty_answers(10, [0], 4, 4), 11, 8, True, 9.35, "II"),  # reduced to 46.75%
    (twenty_answers(10, [0], 4, 3), 11, 7, False, 11.0, "III"),  # just below 80%
    (twenty_answers(10, [1, 2], 0, 0), 10 + 2 + 3, 0, False, 15.0, "III"),  # exactly 75%
    (twenty_answers(10, [0, 1, 2], 0, 0), 10 + 1 + 2 + 3, 0, False, 16.0, "IV"),  # 80%
    (twenty_answers(10, [0, 1, 2, 3], 5, 5), 20, 10, True, 17.0, "IV"),  # 85%
    (twenty_answers(0, [], 5, 5), 0, 10, True, 0.0, "I"),
]


@pytest.mark.parametrize(
    ("answers", "raw", "mitigation", "applied", "current", "level"), TWENTY_TABLE
)
def test_worked_examples_out_of_twenty(
    answers: dict[str, Any], raw: int, mitigation: int, applied: bool, current: float, level: str
) -> None:
    result = score(TWENTY, answers)
    assert result.raw_score == raw
    assert result.mitigation_score == mitigation
    assert result.mitigation_applied is applied
    assert result.current_score == pytest.approx(current)
    assert result.impact_level == level


SIXTY_EIGHT_TABLE = [
    (20, 12, True, 17.0, "I"),  # exactly 80% mitigation, exactly 25%
    (20, 11, False, 20.0, "II"),  # just below 80%: not reduced, 29.4%
    (21, 12, True, 17.85, "II"),  # just above 25%
    (40, 12, True, 34.0, "II"),  # exactly 50%
    (41, 12, True, 34.85, "III"),  # just above 50%
    (60, 12, True, 51.0, "III"),  # exactly 75%
    (61, 12, True, 51.85, "IV"),  # just above 75%
    (68, 15, True, 57.8, "IV"),
    (17, 0, False, 17.0, "I"),  # exactly 25% unreduced
    (18, 0, False, 18.0, "II"),
]


@pytest.mark.parametrize(("raw", "mitigation", "applied", "current", "level"), SIXTY_EIGHT_TABLE)
def test_boundaries_are_exact(
    raw: int, mitigation: int, applied: bool, current: float, level: str
) -> None:
    result = score(SIXTY_EIGHT, sixty_eight_answers(raw, mitigation))
    assert (result.raw_score, result.max_raw_score) == (raw, 68)
    assert (result.mitigation_score, result.max_mitigation_score) == (mitigation, 15)
    assert result.mitigation_applied is applied
    assert result.current_score == pytest.approx(current)
    assert result.impact_level == level


def test_no_mitigation_questions_means_no_reduction() -> None:
    only_impact = questionnaire(question("a", [0, 4]))
    result = score(only_impact, {"a": "c1"})
    assert (result.max_mitigation_score, result.mitigation_applied) == (0, False)
    assert (result.current_score, result.impact_level) == (4.0, "IV")


def test_score_is_frozen_and_serialisable() -> None:
    result = score(TWENTY, twenty_answers(5, [0], 1, 1))
    with pytest.raises(AttributeError):
        result.raw_score = 0  # type: ignore[misc]
    data = result.to_dict()
    assert data["areas"]["impact"] == {
        "raw": 6,
        "max_raw": 20,
        "mitigation": 0,
        "max_mitigation": 0,
    }
    assert data["questionnaire_version"] == "0.0.1"


# gate shows d1; d1 = c3 shows d2 (so d2 hides whenever gate hides d1); m_gate = c3 shows m_dep.
CONDITIONAL = questionnaire(
    question("gate", [0, 2]),
    question("d1", [0, 1, 2, 3], multiple=True, show_if={"question": "gate", "in": ["c1"]}),
    question("d2", [0, 2, 4], show_if={"question": "d1", "in": ["c3"]}),
    question("plain", [0, 1, 2, 3, 4]),
    question("plain_multi", [0, 1, 3], multiple=True),
    question("m_gate", [0, 1, 2, 3], kind="mitigation", area="mitigation"),
    question("m_plain", [1, 1, 1], kind="mitigation", area="mitigation", multiple=True),
    question(
        "m_dep",
        [0, 3],
        kind="mitigation",
        area="mitigation",
        show_if={"question": "m_gate", "in": ["c3"]},
    ),
    question("note", [0, 0], kind="unscored", show_if={"question": "gate", "in": ["c1"]}),
)
BY_ID = {q["id"]: q for q in CONDITIONAL["questions"]}
# Questions whose answer shows or hides another scored question.
CONTROLLERS = {"gate", "d1", "m_gate"}


def answer_for(q: dict[str, Any]) -> st.SearchStrategy[Any]:
    values = [c["value"] for c in q["choices"]]
    if q["multiple"]:
        return st.lists(st.sampled_from(values), min_size=1, unique=True)
    return st.sampled_from(values)


def full_answers(qs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An answer to every question, shown or hidden, so every visible one is answered."""
    return st.fixed_dictionaries({q["id"]: answer_for(q) for q in qs["questions"]})


def weight(qid: str, value: Any) -> int:
    weights = {c["value"]: c["weight"] for c in BY_ID[qid]["choices"]}
    return sum(weights[v] for v in (value if isinstance(value, list) else [value]))


def oracle(answers: dict[str, Any]) -> tuple[int, int]:
    """Raw and mitigation scores with visibility worked out by hand for CONDITIONAL."""
    d1_shown = answers["gate"] == "c1"
    d2_shown = d1_shown and "c3" in answers["d1"]
    raw = weight("gate", answers["gate"]) + weight("plain", answers["plain"])
    raw += weight("plain_multi", answers["plain_multi"])
    raw += weight("d1", answers["d1"]) if d1_shown else 0
    raw += weight("d2", answers["d2"]) if d2_shown else 0
    mitigation = weight("m_gate", answers["m_gate"]) + weight("m_plain", answers["m_plain"])
    mitigation += weight("m_dep", answers["m_dep"]) if answers["m_gate"] == "c3" else 0
    return raw, mitigation


@PROPERTY
@given(full_answers(CONDITIONAL))
def test_hidden_answers_never_count(answers: dict[str, Any]) -> None:
    result = score(CONDITIONAL, answers)
    assert (result.raw_score, result.mitigation_score) == oracle(answers)
    shown = {q["id"] for q in visible_questions(CONDITIONAL, answers)}
    assert score(CONDITIONAL, {k: v for k, v in answers.items() if k in shown}) == result


@PROPERTY
@given(full_answers(CONDITIONAL), st.sampled_from(["c0", "c1"]))
def test_changing_the_showing_answer_drops_what_it_showed(
    answers: dict[str, Any], gate: str
) -> None:
    shown_first = {**answers, "gate": "c1", "d1": ["c3"], "d2": "c2"}
    assert {"d1", "d2"} <= {q["id"] for q in visible_questions(CONDITIONAL, shown_first)}
    changed = {**shown_first, "gate": gate}
    result = score(CONDITIONAL, changed)
    assert (result.raw_score, result.mitigation_score) == oracle(changed)
    if gate == "c0":
        assert not {"d1", "d2", "note"} & {q["id"] for q in visible_questions(CONDITIONAL, changed)}
        without = {k: v for k, v in changed.items() if k not in ("d1", "d2", "note")}
        assert score(CONDITIONAL, without) == result


def raise_answer(q: dict[str, Any], value: Any, data: st.DataObject) -> Any:
    """Another answer to `q` whose total weight is at least that of `value`."""
    weights = {c["value"]: c["weight"] for c in q["choices"]}
    if q["multiple"]:
        extra = [v for v in weights if v not in value and weights[v] >= 0]
        added = data.draw(st.lists(st.sampled_from(extra), unique=True)) if extra else []
        return [*value, *added]
    higher = [v for v in weights if weights[v] >= weights[value]]
    return data.draw(st.sampled_from(higher))


def assert_monotone_in_impact(
    qs: dict[str, Any], controllers: set[str], data: st.DataObject
) -> None:
    answers = data.draw(full_answers(qs))
    candidates = [
        q for q in qs["questions"] if q["kind"] == "impact" and q["id"] not in controllers
    ]
    q = data.draw(st.sampled_from(candidates))
    before = score(qs, answers)
    after = score(qs, {**answers, q["id"]: raise_answer(q, answers[q["id"]], data)})
    assert after.current_score >= before.current_score
    assert LEVELS.index(after.impact_level) >= LEVELS.index(before.impact_level)


def assert_mitigation_never_raises_level(
    qs: dict[str, Any], controllers: set[str], data: st.DataObject
) -> None:
    answers = data.draw(full_answers(qs))
    candidates = [
        q for q in qs["questions"] if q["kind"] == "mitigation" and q["id"] not in controllers
    ]
    q = data.draw(st.sampled_from(candidates))
    before = score(qs, answers)
    after = score(qs, {**answers, q["id"]: raise_answer(q, answers[q["id"]], data)})
    assert after.mitigation_score >= before.mitigation_score
    assert after.current_score <= before.current_score
    assert LEVELS.index(after.impact_level) <= LEVELS.index(before.impact_level)


@PROPERTY
@given(st.data())
def test_score_is_monotone_in_impact_answers(data: st.DataObject) -> None:
    assert_monotone_in_impact(CONDITIONAL, CONTROLLERS, data)


@PROPERTY
@given(st.data())
def test_adding_mitigation_never_raises_the_level(data: st.DataObject) -> None:
    assert_mitigation_never_raises_level(CONDITIONAL, CONTROLLERS, data)


def test_visibility_is_transitive() -> None:
    answers = {"gate": "c0", "d1": ["c3"], "d2": "c2"}
    assert {q["id"] for q in visible_questions(CONDITIONAL, answers)} == {
        "gate",
        "plain",
        "plain_multi",
        "m_gate",
        "m_plain",
    }
    shown = visible_questions(CONDITIONAL, {**answers, "gate": "c1"})
    assert {"d1", "d2", "note"} <= {q["id"] for q in shown}


BASE = {"gate": "c0", "plain": "c0", "plain_multi": ["c0"], "m_gate": "c0", "m_plain": ["c0"]}


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        ({**BASE, "nope": "c0"}, {"nope": "unknown question"}),
        ({**BASE, "plain": "c9"}, {"plain": "'c9' is not one of the choices: c0, c1, c2, c3, c4"}),
        ({**BASE, "plain": ["c1"]}, {"plain": "expects a single answer, not a list"}),
        ({**BASE, "plain": 1}, {"plain": "1 is not one of the choices: c0, c1, c2, c3, c4"}),
        (
            {**BASE, "plain_multi": ["c1", "c1"]},
            {"plain_multi": "a choice is selected more than once"},
        ),
        ({k: v for k, v in BASE.items() if k != "plain"}, {"plain": "an answer is required"}),
        ({**BASE, "plain_multi": []}, {"plain_multi": "an answer is required"}),
        ({**BASE, "gate": "c1"}, {"d1": "an answer is required", "note": "an answer is required"}),
    ],
)
def test_invalid_answers_are_named_by_question(
    answers: dict[str, Any], errors: dict[str, str]
) -> None:
    with pytest.raises(AnswersInvalid) as caught:
        validate_answers(CONDITIONAL, answers)
    assert caught.value.errors == errors
    with pytest.raises(AnswersInvalid):
        score(CONDITIONAL, answers)


def test_answers_to_hidden_questions_are_ignored_even_if_invalid() -> None:
    answers = {**BASE, "d1": ["bogus"], "d2": ["c0", "c1"], "note": 7}
    validate_answers(CONDITIONAL, answers)
    assert score(CONDITIONAL, answers) == score(CONDITIONAL, BASE)


def test_a_bare_string_counts_as_one_selection_for_multiple_choice() -> None:
    assert score(CONDITIONAL, {**BASE, "plain_multi": "c2"}).raw_score == 3


def test_draft_scoring_allows_missing_answers() -> None:
    result = score(CONDITIONAL, {"plain": "c4"}, require_complete=False)
    assert result.raw_score == 4
    with pytest.raises(AnswersInvalid):
        score(CONDITIONAL, {"plain": "c7"}, require_complete=False)


def test_exclusive_choice_cannot_be_combined() -> None:
    q = question("m", [0, 1, 1], multiple=True)
    q["choices"][0]["exclusive"] = True
    with pytest.raises(AnswersInvalid) as caught:
        validate_answers(questionnaire(q), {"m": ["c0", "c1"]})
    assert caught.value.errors == {"m": "'c0' cannot be combined with other choices"}
    validate_answers(questionnaire(q), {"m": ["c1", "c2"]})
