"""Verdict rules on constructed results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assessments.metrics import compute_bias_metrics
from assessments.verdicts import judge
from registry.errors import ValidationFailed

METRIC = "false_positive_rate"


def make_result(
    groups: list[tuple[str, int, float | None]],
    *,
    ci_ratio: list[float] | None = None,
    ci_difference: list[float] | None = None,
    metric: str = METRIC,
) -> dict:
    """A result with one metric: groups are (race, count, value)."""
    by_group = [
        {
            "group": {"race": name},
            "count": count,
            "small_group": count < 30,
            metric: value,
            "ci": {metric: None},
            "undefined": {} if value is not None else {metric: "no negatives"},
        }
        for name, count, value in groups
    ]
    defined = [(name, value) for name, _c, value in groups if value is not None]
    if len(defined) >= 2:
        hi = max(defined, key=lambda x: x[1])
        lo = min(defined, key=lambda x: x[1])
        disparity = {
            "difference": hi[1] - lo[1],
            "ratio": lo[1] / hi[1] if hi[1] > 0 else None,
            "ci_difference": ci_difference,
            "ci_ratio": ci_ratio,
            "max_group": {"race": hi[0]},
            "min_group": {"race": lo[0]},
        }
    else:
        disparity = dict.fromkeys(
            ["difference", "ratio", "ci_difference", "ci_ratio", "max_group", "min_group"]
        )
    return {
        "n_rows": sum(c for _n, c, _v in groups),
        "sensitive_features": ["race"],
        "overall": {},
        "by_group": by_group,
        "disparities": {metric: disparity},
        "summary": {},
        "bootstrap": {"n_boot": 1000, "seed": 0, "confidence": 0.95},
    }


TWO = [("A", 500, 0.4), ("B", 500, 0.2)]  # ratio 0.5, difference 0.2


def verdict_of(result, threshold, min_group_size=30):
    return judge(result, thresholds=[threshold], min_group_size=min_group_size, policy_version=3)


@pytest.mark.parametrize(
    ("ci", "expected"),
    [
        ([0.85, 0.95], "pass"),
        ([0.8, 0.95], "pass"),  # the bound itself is allowed
        ([0.4, 0.6], "fail"),
        ([0.7, 0.9], "inconclusive"),
        (None, "inconclusive"),
    ],
)
def test_ratio_rule(ci, expected):
    out = verdict_of(make_result(TWO, ci_ratio=ci), {"metric": METRIC, "ratio_min": 0.8})
    assert out["verdict"] == expected
    finding = out["findings"][0]
    assert finding["verdict"] == expected
    assert finding["value"] == 0.5 and finding["ci"] == ci
    assert finding["threshold"] == {"metric": METRIC, "ratio_min": 0.8}
    assert out["policy_version"] == 3 and out["min_group_size"] == 30


@pytest.mark.parametrize(
    ("ci", "expected"),
    [([0.01, 0.05], "pass"), ([0.11, 0.3], "fail"), ([0.05, 0.2], "inconclusive")],
)
def test_difference_rule(ci, expected):
    out = verdict_of(make_result(TWO, ci_difference=ci), {"metric": METRIC, "difference_max": 0.1})
    assert out["verdict"] == expected
    assert out["findings"][0]["value"] == pytest.approx(0.2)


def test_ratio_text_is_plain_language_with_numbers():
    out = verdict_of(make_result(TWO, ci_ratio=[0.4, 0.6]), {"metric": METRIC, "ratio_min": 0.8})
    text = out["findings"][0]["text"]
    assert text.startswith("Among people whose true outcome was negative (y_true = 0), ")
    assert "people with race = A were predicted positive at 2.00 times the rate of" in text
    assert "people with race = B (95% CI 1.67–2.50)" in text
    assert "the policy allows at most 1.25" in text
    assert "Fail" in text


def test_difference_text():
    out = verdict_of(
        make_result(TWO, ci_difference=[0.15, 0.25], metric="selection_rate"),
        {"metric": "selection_rate", "difference_max": 0.1},
    )
    text = out["findings"][0]["text"]
    assert "20.0 percentage points higher than people with race = B" in text
    assert "(95% CI 15.0–25.0 percentage points)" in text
    assert "at most 10.0 percentage points" in text


def test_insufficient_when_an_extreme_group_is_small():
    groups = [("A", 500, 0.4), ("B", 500, 0.35), ("C", 12, 0.05)]
    out = verdict_of(
        make_result(groups, ci_ratio=[0.05, 0.3]), {"metric": METRIC, "ratio_min": 0.8}
    )
    assert out["verdict"] == "insufficient_data"
    text = out["findings"][0]["text"]
    assert "race = C (12 people)" in text
    assert "1.14 times the lowest" in text  # 0.4 / 0.35 among the large groups
    # with a lower minimum the same data is judged
    out = verdict_of(
        make_result(groups, ci_ratio=[0.05, 0.3]), {"metric": METRIC, "ratio_min": 0.8}, 10
    )
    assert out["verdict"] == "fail"


def test_insufficient_when_fewer_than_two_large_groups():
    groups = [("A", 500, 0.4), ("B", 20, 0.35), ("C", 12, 0.3)]
    out = verdict_of(make_result(groups, ci_ratio=[0.7, 0.9]), {"metric": METRIC, "ratio_min": 0.8})
    assert out["verdict"] == "insufficient_data"
    assert "Only 1 group(s) have at least 30 people" in out["findings"][0]["text"]


def test_insufficient_when_metric_undefined_or_missing():
    groups = [("A", 500, 0.4), ("B", 500, None)]
    out = verdict_of(make_result(groups), {"metric": METRIC, "ratio_min": 0.8})
    assert out["verdict"] == "insufficient_data"
    out = verdict_of(make_result(TWO), {"metric": "roc_auc", "ratio_min": 0.8})
    assert out["verdict"] == "insufficient_data"
    assert "score column" in out["findings"][0]["text"]


def test_overall_verdict_order():
    result = make_result(TWO, ci_ratio=[0.7, 0.9], ci_difference=[0.15, 0.25])
    inconclusive = {"metric": METRIC, "ratio_min": 0.8}
    failing = {"metric": METRIC, "difference_max": 0.1}
    passing = {"metric": METRIC, "difference_max": 0.3}
    missing = {"metric": "roc_auc", "difference_max": 0.1}

    def overall(*thresholds):
        return judge(result, thresholds=list(thresholds), min_group_size=30, policy_version="v")[
            "verdict"
        ]

    assert overall(passing) == "pass"
    assert overall(passing, missing) == "insufficient_data"
    assert overall(passing, missing, inconclusive) == "inconclusive"
    assert overall(passing, missing, inconclusive, failing) == "fail"
    assert (
        len(
            judge(result, thresholds=[passing, failing], min_group_size=30, policy_version="v")[
                "findings"
            ]
        )
        == 2
    )


def test_fairlearn_names_and_equalized_odds_worst_case():
    rng = np.random.default_rng(4)
    n = 4000
    race = rng.choice(["A", "B"], n)
    y_true = rng.integers(0, 2, n)
    # group B: same TPR, much higher FPR
    flip = np.where(race == "B", 0.4, 0.1)
    y_pred = np.where((y_true == 0) & (rng.random(n) < flip), 1, y_true)
    result = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=pd.DataFrame({"race": race})
    ).to_dict()
    out = judge(
        result,
        thresholds=[
            {"metric": "equalized_odds", "ratio_min": 0.8},
            {"metric": "equal_opportunity_ratio", "ratio_min": 0.8},
            {"metric": "demographic_parity_difference", "difference_max": 0.5},
        ],
        min_group_size=30,
        policy_version=1,
    )
    eo, eop, dp = out["findings"]
    assert eo["verdict"] == "fail"  # from the false positive rate
    assert eo["value"] == result["disparities"]["false_positive_rate"]["ratio"]
    assert "true outcome was positive" in eo["text"] and "true outcome was negative" in eo["text"]
    assert eop["verdict"] == "pass"
    assert dp["verdict"] == "pass"
    assert out["verdict"] == "fail"


@pytest.mark.parametrize(
    "thresholds",
    [
        [],
        [{"metric": "nonsense", "ratio_min": 0.8}],
        [{"metric": METRIC}],
        [{"metric": METRIC, "ratio_min": 0.8, "difference_max": 0.1}],
        [{"metric": METRIC, "ratio_min": 1.5}],
        [{"metric": METRIC, "difference_max": -0.1}],
        [{"metric": METRIC, "ratio_min": "0.8"}],
    ],
)
def test_rejects_malformed_thresholds(thresholds):
    with pytest.raises(ValidationFailed):
        judge(make_result(TWO), thresholds=thresholds, min_group_size=30, policy_version=1)


# A rate of 0 (or 1) in a group: the bootstrap cannot see its uncertainty, so the verdict uses
# the exact (Clopper–Pearson) interval as well.


def _degenerate(groups, *, ci_ratio=None, ci_difference=None):
    result = make_result(groups, ci_ratio=ci_ratio, ci_difference=ci_difference)
    result["denominators"] = {METRIC: [count for _name, count, _value in groups]}
    return result


def test_clopper_pearson_matches_the_known_values():
    from assessments.verdicts import clopper_pearson

    # 0 of 30: the upper bound is 1 - (alpha/2)^(1/n); 30 of 30 mirrors it.
    low, high = clopper_pearson(0, 30, 0.95)
    assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / 30), abs=1e-12)
    low, high = clopper_pearson(30, 30, 0.95)
    assert high == 1 and low == pytest.approx(0.025 ** (1 / 30), abs=1e-12)
    # 5 of 20 (a textbook value): 0.0866 to 0.4910.
    low, high = clopper_pearson(5, 20, 0.95)
    assert (round(low, 4), round(high, 4)) == (0.0866, 0.491)


def test_a_zero_count_alone_cannot_fail_a_check():
    # 0 of 40 against 2 of 40: the bootstrap interval of the ratio is [0, 0], which alone
    # would "fail" the four-fifths rule; the exact interval reaches 1, so it is inconclusive.
    result = _degenerate([("A", 40, 0.05), ("B", 40, 0.0)], ci_ratio=[0.0, 0.0])
    out = verdict_of(result, {"metric": METRIC, "ratio_min": 0.8})
    finding = out["findings"][0]
    assert finding["verdict"] == "inconclusive"
    assert finding["ci"][0] == 0.0 and finding["ci"][1] == 1.0
    assert "Clopper–Pearson" in finding["text"]
    # The same with a difference bound.
    result = _degenerate([("A", 40, 0.05), ("B", 40, 0.0)], ci_difference=[0.05, 0.05])
    out = verdict_of(result, {"metric": METRIC, "difference_max": 0.1})
    assert out["findings"][0]["verdict"] == "inconclusive"


def test_a_zero_count_with_strong_evidence_still_fails():
    # 0 of 500 against 200 of 500: even the exact bounds are far beyond the limit.
    result = _degenerate([("A", 500, 0.4), ("B", 500, 0.0)], ci_ratio=[0.0, 0.0])
    finding = verdict_of(result, {"metric": METRIC, "ratio_min": 0.8})["findings"][0]
    assert finding["verdict"] == "fail"
    assert 0 < finding["ci"][1] < 0.05


def test_rates_strictly_between_0_and_1_keep_the_bootstrap_interval():
    result = _degenerate(TWO, ci_ratio=[0.4, 0.6])
    finding = verdict_of(result, {"metric": METRIC, "ratio_min": 0.8})["findings"][0]
    assert finding["ci"] == [0.4, 0.6]
    assert "Clopper" not in finding["text"]


def test_interval_with_zero_counts_covers_the_truth():
    """200 simulations of rare events (true rates 0.02 and 0.05, 120 people each: a group
    has no event in about 1 run in 11): the judged 95 % interval of the ratio covers the
    true ratio 0.4 in 90-99 % of runs, and the exact interval is used whenever a group has none."""
    from assessments.metrics import binary_denominators

    rng = np.random.default_rng(20261130)
    n, p_lo, p_hi, truth = 120, 0.02, 0.05, 0.4
    covered = degenerate_runs = 0
    runs = 200
    features = pd.DataFrame({"race": ["A"] * n + ["B"] * n})
    for _ in range(runs):
        y_pred = np.r_[rng.random(n) < p_lo, rng.random(n) < p_hi].astype(int)
        y_true = rng.integers(0, 2, 2 * n)
        computed = compute_bias_metrics(
            y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=1000, seed=1
        )
        result = computed.to_dict()
        result["denominators"] = binary_denominators(computed.cells)
        out = verdict_of(result, {"metric": "selection_rate", "ratio_min": 0.8})
        finding = out["findings"][0]
        if finding["ci"] is None:
            continue
        rates = [g["selection_rate"] for g in result["by_group"]]
        if min(rates) == 0:
            degenerate_runs += 1
            assert "Clopper–Pearson" in finding["text"]
        covered += finding["ci"][0] <= truth <= finding["ci"][1]
    assert degenerate_runs > 5
    assert 0.90 <= covered / runs <= 0.99
