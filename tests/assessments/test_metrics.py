"""Exactness against fairlearn, undefined handling, bootstrap intervals, ProPublica's figures."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from assessments import metrics as metrics_module
from assessments.bias_input import prepare, read_table
from assessments.metrics import (
    COUNT_METRICS,
    SUMMARY_KEYS,
    compute_bias_metrics,
    confusion_cells,
    encode_groups,
    metrics_from_cells,
)
from assessments.verdicts import judge

TOL = 1e-9
FAIRLEARN_METRICS = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "true_negative_rate": true_negative_rate,
    "accuracy": accuracy_score,
    "precision": precision_score,
    "count": count,
}
SUMMARY_FUNCTIONS = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
    "equal_opportunity_ratio": equal_opportunity_ratio,
}


# ---------------------------------------------------------------------------------------------
# Reference computation (fairlearn on raw rows)
# ---------------------------------------------------------------------------------------------


def fairlearn_reference(y_true, y_pred, features: pd.DataFrame, *, with_summary: bool = True):
    """MetricFrame and summary values on the raw rows.

    Only here are warnings silenced, and only scikit-learn's UndefinedMetricWarning: it is
    what precision_score emits for a group without positive predictions, which is exactly the
    case this project reports as undefined (None) instead of fairlearn's 0.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
        mf = MetricFrame(
            metrics=FAIRLEARN_METRICS,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=features,
        )
        summary = {
            name: fn(y_true, y_pred, sensitive_features=features)
            for name, fn in (SUMMARY_FUNCTIONS.items() if with_summary else ())
        }
    return mf, summary


def _key(group: dict, names: list[str]):
    values = tuple(group[n] for n in names)
    return values[0] if len(values) == 1 else values


def assert_matches_fairlearn(
    result: dict, y_true, y_pred, features: pd.DataFrame, *, check_summary: bool = True
) -> None:
    names = list(features.columns)
    mf, summary = fairlearn_reference(y_true, y_pred, features, with_summary=check_summary)
    by_group = mf.by_group.dropna(how="all")  # fairlearn lists unobserved combinations as NaN
    assert len(by_group) == len(result["by_group"])

    # overall
    for metric in COUNT_METRICS:
        ours = result["overall"][metric]
        ref = float(mf.overall[metric])
        if ours is None:
            assert ref == 0.0  # fairlearn/sklearn report 0 where the rate is undefined
        else:
            assert ours == pytest.approx(ref, abs=TOL)
    assert result["overall"]["count"] == len(y_true)

    # by group
    defined: dict[str, dict] = {m: {} for m in COUNT_METRICS}
    for entry in result["by_group"]:
        ref_row = by_group.loc[_key(entry["group"], names)]
        assert entry["count"] == ref_row["count"]
        for metric in COUNT_METRICS:
            ours = entry[metric]
            ref = float(ref_row[metric])
            if ours is None:
                assert ref == 0.0
                assert metric in entry["undefined"]
                assert entry["ci"][metric] is None
            else:
                assert ours == pytest.approx(ref, abs=TOL)
                assert metric not in entry["undefined"]
                defined[metric][_key(entry["group"], names)] = ref

    # disparities: fairlearn's between-groups difference and ratio over the defined groups
    all_defined = {m: len(defined[m]) == len(result["by_group"]) for m in COUNT_METRICS}
    for metric in COUNT_METRICS:
        d = result["disparities"][metric]
        values = list(defined[metric].values())
        if len(values) < 2:
            assert d["difference"] is None and d["ratio"] is None
            continue
        ref_diff = max(values) - min(values)
        assert d["difference"] == pytest.approx(ref_diff, abs=TOL)
        ref_ratio = min(values) / max(values) if max(values) > 0 else None
        if ref_ratio is None:
            assert d["ratio"] is None
        else:
            assert d["ratio"] == pytest.approx(ref_ratio, abs=TOL)
        if all_defined[metric]:  # then fairlearn's own aggregates apply unchanged
            assert d["difference"] == pytest.approx(float(mf.difference()[metric]), abs=TOL)
            if ref_ratio is not None:
                assert d["ratio"] == pytest.approx(float(mf.ratio()[metric]), abs=TOL)
        assert _key(d["max_group"], names) in defined[metric]
        assert defined[metric][_key(d["max_group"], names)] == max(values)
        assert defined[metric][_key(d["min_group"], names)] == min(values)

    # summary values
    needs = {
        "demographic_parity_difference": ["selection_rate"],
        "demographic_parity_ratio": ["selection_rate"],
        "equalized_odds_difference": ["true_positive_rate", "false_positive_rate"],
        "equalized_odds_ratio": ["true_positive_rate", "false_positive_rate"],
        "equal_opportunity_difference": ["true_positive_rate"],
        "equal_opportunity_ratio": ["true_positive_rate"],
    }
    for name in SUMMARY_KEYS if check_summary else ():
        ours = result["summary"][name]
        ref = float(summary[name])
        # fairlearn gives 0 / 1 for a single group; this project reports None there
        several = len(result["by_group"]) >= 2
        if several and all(all_defined[m] for m in needs[name]) and not math.isnan(ref):
            assert ours == pytest.approx(ref, abs=TOL), name


# ---------------------------------------------------------------------------------------------
# Exactness
# ---------------------------------------------------------------------------------------------


@st.composite
def datasets(draw):
    n = draw(st.integers(min_value=1, max_value=150))
    n_features = draw(st.integers(min_value=1, max_value=3))
    cards = [draw(st.integers(min_value=2, max_value=4)) for _ in range(n_features)]
    # include extreme rates so that some groups have no positives / no negatives / no
    # positive predictions
    p_true = draw(st.sampled_from([0.0, 0.03, 0.2, 0.5, 0.8, 1.0]))
    p_pred = draw(st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.9, 1.0]))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {f"f{i}": rng.choice([f"v{j}" for j in range(k)], size=n) for i, k in enumerate(cards)}
    )
    y_true = (rng.random(n) < p_true).astype(int)
    y_pred = (rng.random(n) < p_pred).astype(int)
    return y_true, y_pred, features


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_matches_fairlearn_on_random_data(data):
    y_true, y_pred, features = data
    result = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=0
    ).to_dict()
    # fairlearn costs ~15 ms per group and metric: its six summary functions are checked on
    # the examples with few groups here, and always in the fixed cases below
    assert_matches_fairlearn(
        result, y_true, y_pred, features, check_summary=len(result["by_group"]) <= 4
    )
    json.dumps(result, allow_nan=False)


def test_matches_fairlearn_fixed_intersectional():
    rng = np.random.default_rng(7)
    n = 3000
    features = pd.DataFrame(
        {
            "race": rng.choice(["A", "B", "C", "D"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
            "sex": rng.choice(["F", "M"], size=n),
            "age": rng.choice(["<25", "25-45", ">45"], size=n),
        }
    )
    y_true = rng.integers(0, 2, size=n)
    y_pred = np.where(rng.random(n) < 0.25, 1 - y_true, y_true)
    result = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=200
    ).to_dict()
    assert len(result["by_group"]) == 24
    assert_matches_fairlearn(result, y_true, y_pred, features)
    assert_matches_fairlearn(
        compute_bias_metrics(
            y_true=y_true, y_pred=y_pred, sensitive_features=features[["race"]], n_boot=0
        ).to_dict(),
        y_true,
        y_pred,
        features[["race"]],
    )


def test_undefined_metrics_are_none_with_reason():
    # group "b" has no positive outcomes and no positive predictions
    features = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 4})
    y_true = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    result = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=100
    ).to_dict()
    b = result["by_group"][1]
    assert b["group"] == {"g": "b"}
    for metric in ("true_positive_rate", "false_negative_rate", "precision"):
        assert b[metric] is None
        assert b["ci"][metric] is None
        assert b["undefined"][metric]
    assert "positive outcomes" in b["undefined"]["true_positive_rate"]
    assert "positive predictions" in b["undefined"]["precision"]
    assert b["false_positive_rate"] == 0.0
    # only one group defines TPR: no disparity, and equalized odds is undefined
    assert result["disparities"]["true_positive_rate"]["difference"] is None
    assert result["disparities"]["true_positive_rate"]["max_group"] is None
    assert result["summary"]["equal_opportunity_difference"] is None
    assert result["summary"]["equalized_odds_ratio"] is None
    assert result["summary"]["demographic_parity_difference"] == pytest.approx(0.5)
    assert_matches_fairlearn(result, y_true, y_pred, features)


def test_ratio_undefined_when_all_zero():
    features = pd.DataFrame({"g": ["a", "a", "b", "b"]})
    result = compute_bias_metrics(
        y_true=np.array([0, 1, 0, 1]),
        y_pred=np.zeros(4, dtype=int),
        sensitive_features=features,
        n_boot=50,
    ).to_dict()
    sel = result["disparities"]["selection_rate"]
    assert sel["difference"] == 0.0
    assert sel["ratio"] is None and sel["ci_ratio"] is None


def test_result_shape_is_the_public_contract():
    rng = np.random.default_rng(3)
    n = 500
    features = pd.DataFrame({"race": rng.choice(["x", "y"], n), "sex": rng.choice(["F", "M"], n)})
    y_true = rng.integers(0, 2, n)
    result = compute_bias_metrics(
        y_true=y_true,
        y_pred=rng.integers(0, 2, n),
        sensitive_features=features,
        y_score=rng.random(n),
        min_group_size=130,
    ).to_dict()
    assert list(result) == [
        "n_rows",
        "sensitive_features",
        "overall",
        "by_group",
        "disparities",
        "summary",
        "calibration",
        "bootstrap",
    ]
    assert result["n_rows"] == n and result["sensitive_features"] == ["race", "sex"]
    assert result["bootstrap"] == {"n_boot": 1000, "seed": 0, "confidence": 0.95}
    metric_keys = [*COUNT_METRICS, "roc_auc"]
    for entry in result["by_group"]:
        assert set(entry) == {"group", "count", "small_group", "ci", "undefined", *metric_keys}
        assert set(entry["group"]) == {"race", "sex"}
        assert entry["small_group"] == (entry["count"] < 130)
        assert set(entry["ci"]) == set(metric_keys)
        for metric in metric_keys:
            lo, hi = entry["ci"][metric]
            assert lo <= entry[metric] <= hi
            assert isinstance(lo, float) and isinstance(entry[metric], float)
    for metric in metric_keys:
        d = result["disparities"][metric]
        assert set(d) == {
            "difference",
            "ratio",
            "ci_difference",
            "ci_ratio",
            "max_group",
            "min_group",
        }
        assert d["ci_difference"][0] <= d["ci_difference"][1]
    assert set(result["summary"]) == set(SUMMARY_KEYS)
    assert set(result["overall"]) == {*metric_keys, "count"}
    text = json.dumps(result, allow_nan=False)
    assert "NaN" not in text


def test_without_scores_no_calibration_and_no_auc():
    features = pd.DataFrame({"g": ["a", "b"] * 20})
    result = compute_bias_metrics(
        y_true=np.tile([0, 1], 20), y_pred=np.ones(40, int), sensitive_features=features
    ).to_dict()
    assert "calibration" not in result
    assert "roc_auc" not in result["by_group"][0]
    assert "roc_auc" not in result["disparities"]


def test_confusion_cells_order_and_metrics_from_cells():
    cells = confusion_cells(
        np.array([0, 0, 1, 1, 1, 0]), np.array([0, 1, 0, 1, 1, 0]), np.array([0, 0, 0, 0, 1, 1]), 2
    )
    assert cells.tolist() == [[1, 1, 1, 1], [1, 0, 0, 1]]  # [tn, fp, fn, tp]
    m = metrics_from_cells(cells)
    assert m["true_positive_rate"].tolist() == [0.5, 1.0]
    assert math.isnan(m["false_positive_rate"][1]) is False
    assert m["precision"].tolist() == [0.5, 1.0]


def test_encode_groups_merges_equal_text_and_sorts():
    features = pd.DataFrame({"age": [10, 2, 2.0, "10"], "sex": ["M", "F", "F", "M"]}, dtype=object)
    codes, groups = encode_groups(features)
    assert groups == [("2", "F"), ("10", "M")]  # numeric order; 10 and "10" are one group
    assert codes.tolist() == [1, 0, 0, 1]


def test_categorical_and_plain_columns_agree():
    rng = np.random.default_rng(11)
    n = 2000
    race = rng.choice(["b", "a", "c"], n)
    y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
    plain = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=pd.DataFrame({"race": race})
    ).to_dict()
    cat = compute_bias_metrics(
        y_true=y_true.astype(bool),
        y_pred=y_pred.astype(float),
        sensitive_features=pd.DataFrame({"race": pd.Categorical(race, categories=["c", "b", "a"])}),
    ).to_dict()
    assert plain == cat


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 2]}, "only 0 and 1"),
        ({"y_pred": ["a", "b"]}, "0/1"),
        ({"y_score": [0.5, 1.5]}, "between 0 and 1"),
        ({"sensitive_features": pd.DataFrame({"g": ["a", None]})}, "missing"),
        ({"sensitive_features": pd.DataFrame(index=range(2))}, "one to three"),
        ({"y_true": [0, 1, 1]}, "same length"),
    ],
)
def test_compute_rejects_bad_arguments(kwargs, message):
    args = {
        "y_true": [0, 1],
        "y_pred": [1, 1],
        "sensitive_features": pd.DataFrame({"g": ["a", "b"]}),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        compute_bias_metrics(**args)


# ---------------------------------------------------------------------------------------------
# Scores: ROC AUC and calibration
# ---------------------------------------------------------------------------------------------


def _auc_reference(result, y_true, score, features):
    names = list(features.columns)
    keys = features.astype(str).apply(tuple, axis=1)
    for entry in result["by_group"]:
        mask = (keys == tuple(entry["group"][n] for n in names)).to_numpy()
        yt = y_true[mask]
        if len(set(yt)) < 2:
            assert entry["roc_auc"] is None
            assert "roc_auc" in entry["undefined"]
        else:
            assert entry["roc_auc"] == pytest.approx(roc_auc_score(yt, score[mask]), abs=TOL)
    assert result["overall"]["roc_auc"] == pytest.approx(roc_auc_score(y_true, score), abs=TOL)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=20, max_value=300),
    n_levels=st.sampled_from([3, 11, 0]),  # 0 = continuous scores
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_roc_auc_matches_sklearn(n, n_levels, seed):
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n)})
    y_true = (rng.random(n) < 0.4).astype(int)
    y_true[features["g"].to_numpy() == "c"] = 1  # group c has one class only: AUC undefined
    noise = rng.random(n)
    score = np.clip(0.35 * y_true + 0.65 * noise, 0, 1)
    if n_levels:
        score = np.round(score * (n_levels - 1)) / (n_levels - 1)
    result = compute_bias_metrics(
        y_true=y_true,
        y_pred=(score > 0.5).astype(int),
        sensitive_features=features,
        y_score=score,
        n_boot=100,
    ).to_dict()
    _auc_reference(result, y_true, score, features)


def test_roc_auc_sorted_path_and_binned_bootstrap(monkeypatch):
    rng = np.random.default_rng(5)
    n = 3000
    features = pd.DataFrame({"g": rng.choice(["a", "b"], n)})
    y_true = rng.integers(0, 2, n)
    score = np.clip(0.2 * y_true + 0.8 * rng.random(n), 0, 1)
    kwargs = {
        "y_true": y_true,
        "y_pred": (score > 0.5).astype(int),
        "sensitive_features": features,
        "y_score": score,
        "n_boot": 300,
    }
    hist = compute_bias_metrics(**kwargs).to_dict()
    monkeypatch.setattr(metrics_module, "_MAX_AUC_HIST_BINS", 10)  # force per-group sorting
    sort = compute_bias_metrics(**kwargs).to_dict()
    _auc_reference(sort, y_true, score, features)
    for a, b in zip(hist["by_group"], sort["by_group"], strict=True):
        assert a["roc_auc"] == pytest.approx(b["roc_auc"], abs=TOL)
        assert a["ci"]["roc_auc"] == b["ci"]["roc_auc"]
        lo, hi = a["ci"]["roc_auc"]
        assert lo < a["roc_auc"] < hi


def test_calibration_table():
    rng = np.random.default_rng(9)
    n = 1000
    features = pd.DataFrame({"g": rng.choice(["a", "b"], n)})
    score = rng.random(n)
    score[:3] = [0.0, 1.0, 0.1]
    y_true = (rng.random(n) < score).astype(int)
    result = compute_bias_metrics(
        y_true=y_true,
        y_pred=(score > 0.5).astype(int),
        sensitive_features=features,
        y_score=score,
        n_boot=0,
    ).to_dict()
    cal = result["calibration"]
    assert cal["n_bins"] == 10
    assert sum(b["count"] for b in cal["overall"]) == n
    for group_table, entry in zip(cal["by_group"], result["by_group"], strict=True):
        assert group_table["group"] == entry["group"]
        assert sum(b["count"] for b in group_table["bins"]) == entry["count"]
    g = features["g"].to_numpy()
    in_bin = (g == "a") & (score >= 0.3) & (score < 0.4)
    row = cal["by_group"][0]["bins"][3]
    assert row["bin"] == [0.3, 0.4]
    assert row["count"] == in_bin.sum()
    assert row["mean_score"] == pytest.approx(score[in_bin].mean())
    assert row["observed_rate"] == pytest.approx(y_true[in_bin].mean())
    assert cal["overall"][9]["count"] == (score >= 0.9).sum()


# ---------------------------------------------------------------------------------------------
# Bootstrap intervals
# ---------------------------------------------------------------------------------------------


def test_bootstrap_coverage_near_nominal():
    """200 simulated data sets with known rates: the 95% intervals cover the truth ~95%."""
    rng = np.random.default_rng(2024)
    n_per_group, p_a, p_b = 400, 0.3, 0.5
    features = pd.DataFrame({"g": ["a"] * n_per_group + ["b"] * n_per_group})
    covered_rate = covered_diff = 0
    n_sims = 200
    for sim in range(n_sims):
        y_pred = np.concatenate(
            [rng.random(n_per_group) < p_a, rng.random(n_per_group) < p_b]
        ).astype(int)
        result = compute_bias_metrics(
            y_true=np.zeros(2 * n_per_group, dtype=int),
            y_pred=y_pred,
            sensitive_features=features,
            n_boot=1000,
            seed=sim,
        ).to_dict()
        lo, hi = result["by_group"][0]["ci"]["selection_rate"]
        covered_rate += lo <= p_a <= hi
        lo, hi = result["disparities"]["selection_rate"]["ci_difference"]
        covered_diff += lo <= p_b - p_a <= hi
    assert 0.90 <= covered_rate / n_sims <= 0.99
    assert 0.90 <= covered_diff / n_sims <= 0.99


def test_bootstrap_is_reproducible_and_seeded():
    rng = np.random.default_rng(1)
    n = 800
    features = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n)})
    y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)

    def run(seed):
        return compute_bias_metrics(
            y_true=y_true, y_pred=y_pred, sensitive_features=features, seed=seed
        ).to_dict()

    first, again, other = run(42), run(42), run(43)
    assert first == again
    assert first["bootstrap"]["seed"] == 42
    assert first["by_group"][0]["ci"] != other["by_group"][0]["ci"]
    assert (
        first["disparities"]["accuracy"]["ci_ratio"] != other["disparities"]["accuracy"]["ci_ratio"]
    )
    # the point estimates do not depend on the seed
    assert first["by_group"][0]["accuracy"] == other["by_group"][0]["accuracy"]


def test_interval_is_none_when_resamples_are_often_undefined():
    # group b has a single negative: in ~37% of resamples it has none, so FPR is undefined
    features = pd.DataFrame({"g": ["a"] * 200 + ["b"] * 5 + ["c"] * 100})
    y_true = np.array([0, 1] * 100 + [0, 1, 1, 1, 1] + [0, 1] * 50)
    y_pred = np.array([1, 1] * 100 + [1, 1, 0, 1, 1] + [0, 1] * 50)
    result = compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=features, min_group_size=30
    ).to_dict()
    b = result["by_group"][1]
    assert b["small_group"] is True
    assert b["false_positive_rate"] == 1.0
    assert b["ci"]["false_positive_rate"] is None
    assert b["ci"]["true_positive_rate"] is not None
    # disparities still have intervals: resamples compare the groups that are defined
    assert result["disparities"]["false_positive_rate"]["ci_difference"] is not None
    # with only two groups, losing one leaves no comparison: too often undefined -> None
    two = compute_bias_metrics(
        y_true=y_true[:205], y_pred=y_pred[:205], sensitive_features=features[:205]
    ).to_dict()
    assert two["disparities"]["false_positive_rate"]["ci_difference"] is None
    assert two["disparities"]["false_positive_rate"]["difference"] == 0.0


def test_bootstrap_cost_does_not_grow_with_rows():
    import time

    rng = np.random.default_rng(0)
    n = 400_000
    features = pd.DataFrame({"g": pd.Categorical(rng.choice(["a", "b", "c", "d"], n))})
    y_true, y_pred = rng.integers(0, 2, n).astype(np.int8), rng.integers(0, 2, n).astype(np.int8)
    start = time.perf_counter()
    compute_bias_metrics(y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=0)
    without = time.perf_counter() - start
    start = time.perf_counter()
    compute_bias_metrics(y_true=y_true, y_pred=y_pred, sensitive_features=features, n_boot=1000)
    with_boot = time.perf_counter() - start
    assert with_boot - without < 0.5  # ~0.01-0.05 s in practice; generous for shared CI


# ---------------------------------------------------------------------------------------------
# ProPublica's COMPAS figures
# ---------------------------------------------------------------------------------------------


def test_propublica_compas_figures(compas_path):
    frame = read_table(compas_path, columns=["race", "two_year_recid", "predicted_high_risk"])
    prepared = prepare(
        frame,
        y_true="two_year_recid",
        y_pred="predicted_high_risk",
        sensitive_features=["race"],
    )
    assert prepared.n_rows == 7214 and prepared.n_rows_dropped == 0
    result = prepared.compute(min_group_size=30).to_dict()
    groups = {g["group"]["race"]: g for g in result["by_group"]}
    aa, cau = groups["African-American"], groups["Caucasian"]
    assert aa["count"] == 3696 and cau["count"] == 2454
    assert round(aa["false_positive_rate"], 4) == 0.4485
    assert round(cau["false_positive_rate"], 4) == 0.2345
    assert round(aa["false_negative_rate"], 4) == 0.2799
    assert round(cau["false_negative_rate"], 4) == 0.4772
    assert groups["Native American"]["small_group"] is True

    verdict = judge(
        result,
        thresholds=[{"metric": "false_positive_rate", "ratio_min": 0.8}],
        min_group_size=30,
        policy_version="test",
    )
    assert verdict["verdict"] == "fail"


def test_propublica_two_group_comparison_text(compas):
    subset = compas[compas["race"].isin(["African-American", "Caucasian"])]
    result = compute_bias_metrics(
        y_true=subset["two_year_recid"].to_numpy(),
        y_pred=subset["predicted_high_risk"].to_numpy(),
        sensitive_features=subset[["race"]],
    ).to_dict()
    d = result["disparities"]["false_positive_rate"]
    assert 1 / d["ratio"] == pytest.approx(0.4485 / 0.2345, abs=0.005)
    verdict = judge(
        result,
        thresholds=[{"metric": "false_positive_rate", "ratio_min": 0.8}],
        min_group_size=30,
        policy_version="test",
    )
    finding = verdict["findings"][0]
    assert verdict["verdict"] == finding["verdict"] == "fail"
    assert (
        "race = African-American were predicted positive at 1.91 times the rate"
        in (finding["text"])
    )
    assert "race = Caucasian" in finding["text"]
    assert "the policy allows at most 1.25" in finding["text"]
    assert finding["ci"][1] < 0.8
