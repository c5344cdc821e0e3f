"""The shipped policy library: structure, NIST catalogue, cross-references and validation errors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import (
    METRICS,
    PolicyInvalid,
    library_yaml,
    load_library,
    load_policy_text,
    nist_index,
    validate_policy,
)

EXPECTED_CATEGORY_SIZES = {
    "GOVERN 1": 7, "GOVERN 2": 3, "GOVERN 3": 2, "GOVERN 4": 3, "GOVERN 5": 2, "GOVERN 6": 2,
    "MAP 1": 6, "MAP 2": 3, "MAP 3": 5, "MAP 4": 2, "MAP 5": 2,
    "MEASURE 1": 3, "MEASURE 2": 13, "MEASURE 3": 3, "MEASURE 4": 3,
    "MANAGE 1": 4, "MANAGE 2": 4, "MANAGE 3": 2, "MANAGE 4": 3,
}  # fmt: skip
HI_FIELDS = [
    "hi_testing_conducted",
    "hi_assessment_completed",
    "hi_potential_impacts",
    "hi_independent_review",
    "hi_ongoing_monitoring",
    "hi_training_established",
    "hi_failsafe_presence",
    "hi_appeal_process",
    "hi_public_consultation",
]


def test_shipped_library_validates_and_round_trips_through_yaml(policy: dict[str, Any]) -> None:
    assert policy["name"] == "Baseline AI governance policy"
    assert policy["version"] == "1.0.0"
    assert load_policy_text(library_yaml()) == policy
    assert validate_policy(policy) == policy  # normalising is idempotent


def test_load_library_returns_independent_copies() -> None:
    first = load_library()
    first["requirements"]["I"].clear()
    assert load_library()["requirements"]["I"]


def test_nist_catalogue_has_all_72_subcategories(policy: dict[str, Any]) -> None:
    index = nist_index(policy)
    assert sum(EXPECTED_CATEGORY_SIZES.values()) == 72
    assert len(index) == 72
    assert [fn["id"] for fn in policy["nist_ai_rmf"]["functions"]] == [
        "GOVERN",
        "MAP",
        "MEASURE",
        "MANAGE",
    ]
    sizes = {
        cat["id"]: len(cat["subcategories"])
        for fn in policy["nist_ai_rmf"]["functions"]
        for cat in fn["categories"]
    }
    assert sizes == EXPECTED_CATEGORY_SIZES
    assert set(index) == {
        f"{cat}.{n}" for cat, size in EXPECTED_CATEGORY_SIZES.items() for n in range(1, size + 1)
    }
    assert all(entry["summary"].strip() for entry in index.values())


def test_every_item_cites_existing_subcategories(policy: dict[str, Any]) -> None:
    index = nist_index(policy)
    items = policy["items"] + policy["m_25_21"]["items"]
    for item in items:
        assert item["nist"], item["id"]
        assert set(item["nist"]) <= set(index), item["id"]
    required = {req["item"] for tier in policy["requirements"].values() for req in tier}
    assert required <= {item["id"] for item in policy["items"]}


def test_requirements_grow_with_tier(policy: dict[str, Any]) -> None:
    def tier(name: str) -> dict[str, int | None]:
        return {req["item"]: req["max_age_days"] for req in policy["requirements"][name]}

    assert tier("I") == {"impact_assessment": None, "bias_check": 365}
    assert set(tier("II")) == set(tier("I")) | {
        "privacy_impact_assessment",
        "human_oversight_plan",
        "monitoring_plan",
    }
    assert set(tier("III")) == set(tier("II")) | {
        "independent_review",
        "public_notice",
        "appeal_process",
    }
    assert set(tier("IV")) == set(tier("III")) | {"fail_safe", "risk_register"}
    assert [tier(t)["bias_check"] for t in ("I", "II", "III", "IV")] == [365, 365, 180, 90]
    assert policy["review_cadence_months"] == {"I": 24, "II": 12, "III": 9, "IV": 6}
    assert policy["untiered_requirements"] == [{"item": "impact_assessment", "max_age_days": None}]


def test_fairness_thresholds_per_tier(policy: dict[str, Any]) -> None:
    for name, rules in policy["fairness"].items():
        assert rules["min_group_size"] == 30
        assert {"metric": "selection_rate", "ratio_min": 0.8} in rules["thresholds"], name
        assert {rule["metric"] for rule in rules["thresholds"]} <= set(METRICS)
    for name in ("III", "IV"):
        assert policy["fairness"][name]["thresholds"] == [
            {"metric": "selection_rate", "ratio_min": 0.8},
            {"metric": "false_positive_rate", "ratio_min": 0.8},
            {"metric": "false_negative_rate", "ratio_min": 0.8},
            {"metric": "true_positive_rate", "difference_max": 0.1},
        ]


def test_m_25_21_items_are_the_nine_inventory_fields(policy: dict[str, Any]) -> None:
    section = policy["m_25_21"]
    assert [item["id"] for item in section["items"]] == HI_FIELDS
    assert section["applies_when"] == {"is_high_impact": "High-impact"}
    kinds = {kind["id"] for kind in policy["evidence_kinds"]}
    for item in section["items"]:
        means = item["satisfied_by"]
        assert means["impact_assessment"] or means["evidence_kinds"], item["id"]
        assert set(means["evidence_kinds"]) <= kinds


def test_evidence_kinds_vocabulary(policy: dict[str, Any]) -> None:
    kinds = {kind["id"] for kind in policy["evidence_kinds"]}
    assert kinds >= {
        "pia",
        "test_report",
        "human_oversight_plan",
        "independent_review",
        "monitoring_plan",
        "public_notice",
        "appeal_process",
        "fail_safe",
        "vendor_documentation",
        "training_record",
        "public_consultation",
        "impact_statement",
        "other",
    }


def _question_index(doc: dict[str, Any], qid: str) -> int:
    return next(i for i, q in enumerate(doc["questionnaire"]["questions"]) if q["id"] == qid)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _show_if(qid: str, cond: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["questionnaire"]["questions"][_question_index(doc, qid)]["show_if"] = cond

    return change


BROKEN = [
    (
        _set(["requirements", "III", 2, "max_age_days"], -5),
        "requirements.III[2].max_age_days",
        "must be a positive integer",
    ),
    (
        _set(["requirements", "III", 1, "max_age_days"], "180"),
        "requirements.III[1].max_age_days",
        "must be a positive integer",
    ),
    (_delete(["requirements", "IV"]), "requirements.IV", "missing tier"),
    (
        _set(["requirements", "V"], []),
        "requirements.V",
        "unknown tier (expected I, II, III or IV)",
    ),
    (
        _set(["requirements", "II", 0, "item"], "nope"),
        "requirements.II[0].item",
        "unknown item 'nope'",
    ),
    (
        _set(["requirements", "II", 1], {"item": "impact_assessment"}),
        "requirements.II[1].item",
        "duplicate item 'impact_assessment'",
    ),
    (
        _set(["items", 0, "nist", 1], "MAP 9.9"),
        "items[0].nist[1]",
        "unknown NIST AI RMF subcategory 'MAP 9.9'",
    ),
    (
        _set(["m_25_21", "items", 3, "nist", 0], "GOVERN 7.1"),
        "m_25_21.items[3].nist[0]",
        "unknown NIST AI RMF subcategory 'GOVERN 7.1'",
    ),
    (
        _set(["m_25_21", "items", 0, "id"], "impact_assessment"),
        "m_25_21.items[0].id",
        "duplicate item id 'impact_assessment'",
    ),
    (
        _set(["items", 2, "satisfied_by"], {"evidence_kinds": ["pdf"]}),
        "items[2].satisfied_by.evidence_kinds[0]",
        "unknown evidence kind 'pdf'",
    ),
    (
        _set(["items", 2, "satisfied_by"], {}),
        "items[2].satisfied_by",
        "must name at least one means: impact_assessment, bias_check, evidence_kinds or "
        "risk_register",
    ),
    (
        _set(["fairness", "III", "thresholds", 0, "metric"], "recall"),
        "fairness.III.thresholds[0].metric",
        "unknown metric 'recall' (expected one of " + ", ".join(METRICS) + ")",
    ),
    (
        _set(["fairness", "II", "thresholds", 0, "ratio_min"], 0),
        "fairness.II.thresholds[0].ratio_min",
        "must be a number in (0, 1]",
    ),
    (
        _set(["fairness", "IV", "thresholds", 1, "ratio_min"], 1.25),
        "fairness.IV.thresholds[1].ratio_min",
        "must be a number in (0, 1]",
    ),
    (
        _set(["fairness", "IV", "thresholds", 3, "difference_max"], -0.1),
        "fairness.IV.thresholds[3].difference_max",
        "must be a number in [0, 1]",
    ),
    (
        _set(["fairness", "I", "thresholds", 0, "difference_max"], 0.1),
        "fairness.I.thresholds[0]",
        "must have exactly one of ratio_min or difference_max",
    ),
    (
        _set(["fairness", "I", "min_group_size"], 0),
        "fairness.I.min_group_size",
        "must be a positive integer",
    ),
    (
        _set(["review_cadence_months", "II"], 0),
        "review_cadence_months.II",
        "must be a positive integer",
    ),
    (_set(["version"], 1.0), "version", 'must be a semantic version string such as "1.0.0"'),
    (_set(["surprise"], True), "surprise", "unknown field"),
    (_delete(["questionnaire"]), "questionnaire", "is required"),
    (
        _show_if("sensitive_categories", {"question": "no_such_question", "in": ["yes"]}),
        "questionnaire.questions[{sensitive_categories}].show_if.question",
        "unknown question 'no_such_question' (show_if must name an earlier question)",
    ),
    (
        _show_if(
            "sensitive_categories", {"question": "uses_personal_information", "in": ["maybe"]}
        ),
        "questionnaire.questions[{sensitive_categories}].show_if.in[0]",
        "'maybe' is not a choice of 'uses_personal_information'",
    ),
    (
        _show_if("rights_impact", {"question": "decision_logging", "in": ["yes"]}),
        "questionnaire.questions[{rights_impact}].show_if.question",
        "unknown question 'decision_logging' (show_if must name an earlier question)",
    ),
    (
        _set(["questionnaire", "questions", 0, "choices", 1, "value"], "no"),
        "questionnaire.questions[0].choices[1].value",
        "duplicate choice value 'no'",
    ),
    (
        _set(["questionnaire", "questions", 0, "choices", 0, "value"], False),
        "questionnaire.questions[0].choices[0].value",
        "must be a non-empty string (quote yes/no/on/off/true/false in YAML)",
    ),
    (
        _set(["questionnaire", "questions", 0, "choices", 0, "weight"], 1.5),
        "questionnaire.questions[0].choices[0].weight",
        "must be an integer",
    ),
    (
        _set(["questionnaire", "questions", 0, "area"], "astrology"),
        "questionnaire.questions[0].area",
        "unknown area 'astrology'",
    ),
    (
        _set(["questionnaire", "questions", 1, "id"], "rights_impact"),
        "questionnaire.questions[1].id",
        "duplicate question id 'rights_impact'",
    ),
    (
        _set(["questionnaire", "questions", 0, "kind"], "scored"),
        "questionnaire.questions[0].kind",
        "must be one of impact, mitigation, unscored",
    ),
    (
        _set(["nist_ai_rmf", "functions", 1, "categories", 0, "subcategories", 0, "id"], "MAP 2.1"),
        "nist_ai_rmf.functions[1].categories[0].subcategories[0].id",
        "must look like 'MAP 1.1'",
    ),
]


@pytest.mark.parametrize(("change", "path", "message"), BROKEN)
def test_invalid_documents_name_the_path(
    raw_library: dict[str, Any], change: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    doc = copy.deepcopy(raw_library)
    change(doc)
    if "{" in path:
        qid = path[path.index("{") + 1 : path.index("}")]
        path = path.replace(f"{{{qid}}}", str(_question_index(doc, qid)))
    with pytest.raises(PolicyInvalid) as caught:
        validate_policy(doc)
    assert caught.value.errors.get(path) == message, caught.value.errors
    assert f"{path}: {message}" in str(caught.value)


def test_document_must_be_a_mapping() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        validate_policy(["not", "a", "policy"])
    assert caught.value.errors == {"document": "must be a mapping"}


def test_validation_does_not_mutate_its_input(raw_library: dict[str, Any]) -> None:
    before = copy.deepcopy(raw_library)
    validate_policy(raw_library)
    assert raw_library == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # libyaml says "did not find expected ...", PyYAML's pure parser "expected ...".
        ("name: [unclosed\nversion: 1\n", "line 2, column 8: "),
        ("name: [unclosed\nversion: 1\n", "expected ',' or ']'"),
        ("name: a\nname: b\n", "line 2, column 1: found duplicate key 'name'"),
        ("key: value\n  bad: indent\n", "line 2, column 6:"),
        ("a: &x [1]\nb: [" + ", ".join(["*x"] * 300) + "]\n", "more than 200 aliases"),
    ],
)
def test_yaml_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        load_policy_text(text)
    assert set(caught.value.errors) == {"yaml"}
    assert message in caught.value.errors["yaml"]


def test_yaml_that_is_not_a_mapping_is_rejected() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        load_policy_text("- a\n- b\n")
    assert caught.value.errors == {"document": "must be a mapping"}
    with pytest.raises(PolicyInvalid) as caught:
        load_policy_text(b"name: x")  # type: ignore[arg-type]
    assert caught.value.errors == {"yaml": "must be text"}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


_SHIPPED = yaml.safe_load(library_yaml())
_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(_paths(_SHIPPED)), _JUNK)
def test_any_corruption_is_reported_as_policy_invalid(path: tuple[Any, ...], junk: Any) -> None:
    doc = copy.deepcopy(_SHIPPED)
    _set(list(path), junk)(doc)
    try:
        validate_policy(doc)
    except PolicyInvalid as exc:
        assert exc.errors and all(isinstance(k, str) and v for k, v in exc.errors.items())
