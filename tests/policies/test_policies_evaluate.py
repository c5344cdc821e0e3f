"""Checklist evaluation of pilot facts against the shipped policy."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

import pytest

from policies import (
    STATUSES,
    AssessmentFact,
    BiasCheckFact,
    EvidenceFact,
    PilotFacts,
    WaiverFact,
    evaluate,
    fairness_thresholds,
    review_cadence_months,
)

TODAY = dt.date(2026, 6, 1)
BASELINE_IDS = [
    "impact_assessment",
    "bias_check",
    "privacy_impact_assessment",
    "human_oversight_plan",
    "monitoring_plan",
    "independent_review",
    "public_notice",
    "appeal_process",
    "risk_register",
    "fail_safe",
]
EVERY_KIND = (
    "pia",
    "human_oversight_plan",
    "monitoring_plan",
    "independent_review",
    "public_notice",
    "appeal_process",
    "fail_safe",
    "test_report",
    "training_record",
    "public_consultation",
)


def facts(**overrides: Any) -> PilotFacts:
    values: dict[str, Any] = {
        "tier": "III",
        "is_high_impact": "Not high-impact",
        "today": TODAY,
        "assessments": (AssessmentFact(dt.date(2026, 1, 10), "III"),),
        "bias_checks": (BiasCheckFact(dt.date(2026, 3, 2), "pass"),),
        "evidence": (),
        "waivers": (),
    }
    values.update(overrides)
    return PilotFacts(**values)


def everything(**overrides: Any) -> PilotFacts:
    evidence = tuple(
        EvidenceFact(kind, dt.date(2026, 1, 5), None, 100 + i) for i, kind in enumerate(EVERY_KIND)
    )
    overrides.setdefault("current_risks", 2)
    return facts(evidence=evidence, **overrides)


def test_evaluation_is_deterministic_and_records_the_policy_version(policy: dict[str, Any]) -> None:
    checklist = evaluate(policy, everything(is_high_impact="High-impact"))
    assert checklist == evaluate(policy, everything(is_high_impact="High-impact"))
    assert (checklist.policy_name, checklist.policy_version) == (
        "Baseline AI governance policy",
        "1.0.0",
    )
    assert checklist.evaluated_on == TODAY
    newer = copy.deepcopy(policy)
    newer["version"] = "1.1.0"
    assert evaluate(newer, facts()).policy_version == "1.1.0"


def test_the_order_of_facts_does_not_matter(policy: dict[str, Any]) -> None:
    evidence = (
        EvidenceFact("pia", dt.date(2026, 1, 5), None, 7),
        EvidenceFact("pia", dt.date(2026, 2, 5), None, 3),
        EvidenceFact("other", dt.date(2026, 2, 1), "fail_safe", 9),
    )
    checks = (
        BiasCheckFact(dt.date(2026, 3, 2), "pass"),
        BiasCheckFact(dt.date(2026, 1, 2), "fail"),
    )
    results = {
        evaluate(policy, facts(tier="IV", evidence=e, bias_checks=b))
        for e in itertools.permutations(evidence)
        for b in itertools.permutations(checks)
    }
    assert len(results) == 1


def test_to_dict_is_json_ready(policy: dict[str, Any]) -> None:
    data = evaluate(policy, everything()).to_dict()
    assert data["evaluated_on"] == "2026-06-01"
    assert data["items"][0]["nist"] == ["MAP 1.1", "MAP 5.1", "GOVERN 4.2"]
    assert sum(data["summary"].values()) == len(data["items"])


def test_without_a_tier_only_the_impact_assessment_is_listed(policy: dict[str, Any]) -> None:
    checklist = evaluate(policy, facts(tier=None, assessments=(), is_high_impact=None))
    baseline = [item for item in checklist.items if item.source == "baseline"]
    assert [(i.id, i.status, i.reason) for i in baseline] == [
        ("impact_assessment", "unmet", "no impact assessment yet")
    ]
    m_25_21 = [item for item in checklist.items if item.source == "m_25_21"]
    assert {i.status for i in m_25_21} == {"not_applicable"}
    assert m_25_21[0].reason == "high-impact determination not recorded"
    assert checklist.blocking() == tuple(baseline)


def test_items_not_required_for_the_tier_are_not_applicable(policy: dict[str, Any]) -> None:
    checklist = evaluate(policy, facts(tier="I"))
    baseline = [item for item in checklist.items if item.source == "baseline"]
    assert [item.id for item in baseline] == BASELINE_IDS
    assert {i.id: i.status for i in baseline} == {
        "impact_assessment": "met",
        "bias_check": "met",
        **{i: "not_applicable" for i in BASELINE_IDS[2:]},
    }
    assert checklist.item("fail_safe").reason == "not required for tier I"
    assert (
        checklist.item("impact_assessment").reason
        == "impact assessment completed 2026-01-10 (level III)"
    )


def test_tier_four_with_everything_is_all_met(policy: dict[str, Any]) -> None:
    recent = (BiasCheckFact(dt.date(2026, 5, 1), "pass"),)
    checklist = evaluate(
        policy, everything(tier="IV", is_high_impact="High-impact", bias_checks=recent)
    )
    assert checklist.summary() == {"met": 19, "unmet": 0, "waived": 0, "not_applicable": 0}
    assert checklist.blocking() == ()
    assert checklist.item("risk_register").reason == "2 risk(s) on the register, reviewed on time"
    pia = checklist.item("privacy_impact_assessment")
    assert (pia.reason, pia.evidence_ids) == ("privacy impact assessment uploaded 2026-01-05", (100,))
    assert pia.nist == ("MEASURE 2.10", "GOVERN 1.1")


def test_high_impact_pilots_get_the_nine_m_25_21_items(policy: dict[str, Any]) -> None:
    checklist = evaluate(policy, facts(is_high_impact="High-impact"))
    m_25_21 = [item for item in checklist.items if item.source == "m_25_21"]
    assert len(m_25_21) == 9
    assert all(item.status != "not_applicable" for item in m_25_21)
    statuses = {item.id: item.status for item in m_25_21}
    # A completed impact assessment satisfies these two; the rest need evidence.
    assert statuses.pop("hi_assessment_completed") == "met"
    assert statuses.pop("hi_potential_impacts") == "met"
    assert set(statuses.values()) == {"unmet"}
    assert (
        checklist.item("hi_training_established").reason
        == "no operator training record uploaded"
    )


@pytest.mark.parametrize(
    "value", ["Not high-impact", "Presumed high-impact but determined not", None]
)
def test_other_pilots_get_m_25_21_items_not_applicable(policy: dict[str, Any], value: Any) -> None:
    checklist = evaluate(policy, everything(is_high_impact=value))
    m_25_21 = [item for item in checklist.items if item.source == "m_25_21"]
    assert [item.id for item in m_25_21][0] == "hi_testing_conducted"
    assert {item.status for item in m_25_21} == {"not_applicable"}
    assert all(item.evidence_ids == () for item in m_25_21)


def test_bias_check_older_than_max_age_is_unmet_with_the_date(policy: dict[str, Any]) -> None:
    stale = (BiasCheckFact(dt.date(2025, 12, 1), "pass"),)  # 182 days before TODAY
    item = evaluate(policy, facts(tier="III", bias_checks=stale)).item("bias_check")
    assert (item.status, item.reason) == (
        "unmet",
        "bias check older than 180 days (last: 2025-12-01)",
    )
    # The same check is fresh enough for tier II (365 days).
    assert evaluate(policy, facts(tier="II", bias_checks=stale)).item("bias_check").status == "met"


def test_bias_check_exactly_max_age_is_met(policy: dict[str, Any]) -> None:
    edge = (BiasCheckFact(TODAY - dt.timedelta(days=90), "pass"),)
    assert evaluate(policy, facts(tier="IV", bias_checks=edge)).item("bias_check").status == "met"
    older = (BiasCheckFact(TODAY - dt.timedelta(days=91), "pass"),)
    assert (
        evaluate(policy, facts(tier="IV", bias_checks=older)).item("bias_check").status == "unmet"
    )


@pytest.mark.parametrize(
    ("checks", "reason"),
    [
        ((), "no passing bias check on record"),
        (
            (BiasCheckFact(dt.date(2026, 5, 1), "fail"),),
            "latest bias check (2026-05-01) did not pass: fail",
        ),
        (
            (
                BiasCheckFact(dt.date(2026, 4, 1), "pass"),
                BiasCheckFact(dt.date(2026, 5, 1), "insufficient_data"),
            ),
            "latest bias check (2026-05-01) did not pass: insufficient data",
        ),
        (
            (
                BiasCheckFact(dt.date(2026, 5, 1), "pass"),
                BiasCheckFact(dt.date(2026, 5, 1), "fail"),
            ),
            "latest bias check (2026-05-01) did not pass: fail",
        ),
    ],
)
def test_failing_or_missing_bias_check_is_unmet(
    policy: dict[str, Any], checks: tuple[BiasCheckFact, ...], reason: str
) -> None:
    item = evaluate(policy, facts(bias_checks=checks)).item("bias_check")
    assert (item.status, item.reason) == ("unmet", reason)


def test_a_newer_pass_supersedes_an_older_failure(policy: dict[str, Any]) -> None:
    checks = (
        BiasCheckFact(dt.date(2026, 1, 1), "fail"),
        BiasCheckFact(dt.date(2026, 5, 1), "pass"),
    )
    item = evaluate(policy, facts(bias_checks=checks)).item("bias_check")
    assert (item.status, item.reason) == ("met", "bias check passed 2026-05-01")


def test_a_waiver_turns_an_unmet_item_into_waived(policy: dict[str, Any]) -> None:
    waiver = WaiverFact("public_notice", "notice would compromise an ongoing investigation")
    checklist = evaluate(policy, facts(waivers=(waiver,)))
    item = checklist.item("public_notice")
    assert item.status == "waived"
    assert item.reason == (
        "waived: notice would compromise an ongoing investigation "
        "(no public notice uploaded)"
    )
    assert item not in checklist.blocking()
    assert checklist.summary()["waived"] == 1


def test_a_waiver_never_changes_a_met_or_not_applicable_item(policy: dict[str, Any]) -> None:
    waivers = (WaiverFact("bias_check", "not needed"), WaiverFact("fail_safe", "not needed"))
    checklist = evaluate(policy, facts(waivers=waivers))
    assert checklist.item("bias_check").status == "met"
    assert checklist.item("bias_check").reason == "bias check passed 2026-03-02"
    assert checklist.item("fail_safe").status == "not_applicable"


def test_evidence_attached_to_an_item_counts_whatever_its_kind(policy: dict[str, Any]) -> None:
    attached = (EvidenceFact("other", dt.date(2026, 2, 1), "appeal_process", 42),)
    item = evaluate(policy, facts(evidence=attached)).item("appeal_process")
    assert (item.status, item.reason, item.evidence_ids) == (
        "met",
        "other evidence uploaded 2026-02-01",
        (42,),
    )


def test_evidence_ids_list_every_matching_upload_oldest_first(policy: dict[str, Any]) -> None:
    evidence = (
        EvidenceFact("monitoring_plan", dt.date(2026, 4, 1), None, 9),
        EvidenceFact("monitoring_plan", dt.date(2026, 2, 1), None, 4),
        EvidenceFact("monitoring_plan", dt.date(2026, 3, 1), None, None),
    )
    item = evaluate(policy, facts(evidence=evidence)).item("monitoring_plan")
    assert item.evidence_ids == (4, 9)
    assert item.reason == "ongoing monitoring plan uploaded 2026-04-01"


def test_summary_counts_every_status(policy: dict[str, Any]) -> None:
    checklist = evaluate(policy, facts(tier="II", is_high_impact="High-impact"))
    summary = checklist.summary()
    assert tuple(summary) == STATUSES
    assert sum(summary.values()) == len(checklist.items) == 19
    assert len(checklist.blocking()) == summary["unmet"]
    assert all(item.status == "unmet" for item in checklist.blocking())


def test_unknown_tier_is_an_error(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown tier 'V'"):
        evaluate(policy, facts(tier="V"))


def test_datetimes_are_read_as_dates(policy: dict[str, Any]) -> None:
    at = dt.datetime(2026, 3, 2, 15, 30)
    checks = (BiasCheckFact(at, "pass"),)
    assert evaluate(policy, facts(bias_checks=checks)).item("bias_check").reason == (
        "bias check passed 2026-03-02"
    )


def test_review_cadence_and_fairness_thresholds(policy: dict[str, Any]) -> None:
    assert [review_cadence_months(policy, t) for t in ("I", "II", "III", "IV")] == [24, 12, 9, 6]
    assert review_cadence_months(policy, None) == 6
    size, thresholds = fairness_thresholds(policy, "I")
    assert (size, thresholds) == (30, [{"metric": "selection_rate", "ratio_min": 0.8}])
    thresholds.append({"metric": "accuracy", "ratio_min": 0.5})
    thresholds[0]["ratio_min"] = 0.1
    assert fairness_thresholds(policy, "I")[1] == [{"metric": "selection_rate", "ratio_min": 0.8}]
    assert fairness_thresholds(policy, None) == fairness_thresholds(policy, "IV")
    assert {"metric": "true_positive_rate", "difference_max": 0.1} in fairness_thresholds(
        policy, "III"
    )[1]
    with pytest.raises(ValueError):
        fairness_thresholds(policy, "iv")
