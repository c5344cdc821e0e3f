"""Multiclass, regression and outcome-rate checks: exactness against fairlearn's MetricFrame
on the raw rows (hypothesis, intersectional), interval coverage, and two real data sets."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    root_mean_squared_error,
)

from assessments import metrics_regression
from assessments.metrics_multiclass import (
    GROUP_METRICS,
    PER_CLASS_METRICS,
    compute_multiclass_metrics,
    metrics_from_confusion,
)
from assessments.metrics_outcomes import compute_outcome_rates
from assessments.metrics_regression import MOMENT_COLUMNS, compute_regression_metrics
from assessments.verdicts import judge

TOL = 1e-9
DATA = Path(__file__).resolve().parents[1] / "data"


def _key(group: dict, names: list[str]):
    values = tuple(group[n] for n in names)
    return values[0] if len(values) == 1 else values


def macro_f1(y_true, y_pred, sample_weight=None):
    return f1_score(y_true, y_pred, average="macro", sample_weight=sample_weight)


def mean_error(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_pred) - np.asarray(y_true), weights=sample_weight))


def assert_disparities_match(result: dict, by_group: pd.DataFrame, names, keys) -> None:
    """Differences and ratios are fairlearn's between_groups values over the defined groups."""
    for key in keys:
        d = result["disparities"][key]
        values = [v for v in by_group[key].dropna()]
        if len(values) < 2:
            assert d["difference"] is None and d["ratio"] is None
            continue
        assert d["difference"] == pytest.approx(max(values) - min(values), abs=TOL)
        if max(values) != 0:
            assert d["ratio"] == pytest.approx(min(values) / max(values), abs=TOL, rel=TOL)
        if by_group[key].notna().all():  # fairlearn's own aggregates apply unchanged
            frame_diff = by_group[key].max() - by_group[key].min()
            assert d["difference"] == pytest.approx(frame_diff, abs=TOL)


# ---------------------------------------------------------------------------------------------
# Multiclass
# ---------------------------------------------------------------------------------------------


def features_frame(rng, n, n_features):
    cards = [int(rng.integers(2, 4)) for _ in range(n_features)]
    return pd.DataFrame(
        {f"f{i}": rng.choice([f"v{j}" for j in range(k)], size=n) for i, k in enumerate(cards)}
    )


def multiclass_reference(y_true, y_pred, classes, features):
    """MetricFrame on the raw rows: overall and per-class metrics, by group."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        frames = {
            "group": MetricFrame(
                metrics={
                    "accuracy": accuracy_score,
                    "balanced_accuracy": balanced_accuracy_score,
                    "macro_f1": macro_f1,
                },
                y_true=y_true,
                y_pred=y_pred,
                sensitive_features=features,
            )
        }
        for j, c in enumerate(classes):
            frames[c] = MetricFrame(
                metrics={
                    f"selection_rate[{c}]": selection_rate,
                    f"true_positive_rate[{c}]": true_positive_rate,
                    f"false_positive_rate[{c}]": false_positive_rate,
                    f"precision[{c}]": precision_score,
                },
                y_true=(y_true == j).astype(int),
                y_pred=(y_pred == j).astype(int),
                sensitive_features=features,
            )
    by_group = pd.concat([f.by_group for f in frames.values()], axis=1)
    overall = pd.concat([f.overall for f in frames.values()])
    return by_group, overall


@st.composite
def multiclass_data(draw):
    n = draw(st.integers(min_value=2, max_value=150))
    k = draw(st.integers(min_value=2, max_value=6))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    n_features = draw(st.integers(min_value=1, max_value=3))
    skew = draw(st.sampled_from([0.0, 1.0, 3.0]))  # skewed class frequencies: absent classes
    accuracy = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    rng = np.random.default_rng(seed)
    p = np.exp(-skew * np.arange(k))
    y_true = rng.choice(k, size=n, p=p / p.sum())
    y_pred = np.where(rng.random(n) < accuracy, y_true, rng.integers(0, k, n))
    return y_true, y_pred, [f"c{j}" for j in range(k)], features_frame(rng, n, n_features)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(multiclass_data())
def test_multiclass_matches_fairlearn_on_raw_rows(data):
    y_true, y_pred, classes, features = data
    try:
        result = compute_multiclass_metrics(
            y_true=y_true, y_pred=y_pred, classes=classes, sensitive_features=features, n_boot=0
        ).to_dict()
    except ValueError:
        return
    names = list(features.columns)
    by_group, overall = multiclass_reference(y_true, y_pred, classes, features)
    by_group = by_group.dropna(how="all")
    assert len(by_group) == len(result["by_group"])
    keys = list(GROUP_METRICS) + [f"{m}[{c}]" for m in PER_CLASS_METRICS for c in classes]
    defined = pd.DataFrame(index=by_group.index, columns=keys, dtype=float)
    for entry in result["by_group"]:
        ref = by_group.loc[_key(entry["group"], names)]
        for m in GROUP_METRICS:
            assert entry[m] == pytest.approx(ref[m], abs=TOL)
            defined.loc[_key(entry["group"], names), m] = entry[m]
        for c in classes:
            for m in PER_CLASS_METRICS:
                key = f"{m}[{c}]"
                ours = entry["per_class"][c][m]
                if ours is None:  # fairlearn / scikit-learn report 0 where undefined
                    assert ref[key] == 0.0 and key in entry["undefined"]
                    assert entry["ci"][key] is None
                else:
                    assert ours == pytest.approx(ref[key], abs=TOL)
                    defined.loc[_key(entry["group"], names), key] = ours
    for m in GROUP_METRICS:
        assert result["overall"][m] == pytest.approx(overall[m], abs=TOL)
    assert result["overall"]["count"] == len(y_true)
    assert_disparities_match(result, defined, names, keys)
    json.dumps(result, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    conf=st.lists(
        st.lists(st.integers(min_value=0, max_value=6), min_size=4, max_size=4),
        min_size=4,
        max_size=4,
    )
)
def test_confusion_formulas_equal_scikit_learn(conf):
    """The bootstrap's formulas (on resampled confusion matrices) are scikit-learn's."""
    matrix = np.array(conf)
    if matrix.sum() == 0:
        return
    true, pred = np.nonzero(matrix)
    weight = matrix[true, pred]
    y_true, y_pred = np.repeat(true, weight), np.repeat(pred, weight)
    ours = metrics_from_confusion(matrix)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        assert ours["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y_true, y_pred), abs=1e-12
        )
    assert ours["macro_f1"] == pytest.approx(macro_f1(y_true, y_pred), abs=1e-12)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)


def test_multiclass_intersectional_fixed_and_seeded():
    rng = np.random.default_rng(12)
    n = 5000
    features = pd.DataFrame(
        {
            "language": rng.choice(["en", "es", "zh"], n, p=[0.6, 0.3, 0.1]),
            "age": rng.choice(["<40", "40+"], n),
        }
    )
    y_true = rng.integers(0, 4, n)
    # Spanish-speaking callers are routed to queue 3 more often
    y_pred = np.where((features["language"] == "es").to_numpy() & (rng.random(n) < 0.2), 3, y_true)
    y_pred = np.where(rng.random(n) < 0.15, rng.integers(0, 4, n), y_pred)
    classes = ["billing", "housing", "permits", "sanitation"]
    kwargs = {
        "y_true": y_true,
        "y_pred": y_pred,
        "classes": classes,
        "sensitive_features": features,
    }
    a = compute_multiclass_metrics(**kwargs, n_boot=500, seed=3).to_dict()
    b = compute_multiclass_metrics(**kwargs, n_boot=500, seed=3).to_dict()
    assert a == b and len(a["by_group"]) == 6
    routing = {
        (g["group"]["language"], g["group"]["age"]): g["per_class"]["sanitation"]["selection_rate"]
        for g in a["by_group"]
    }
    assert routing[("es", "<40")] > routing[("en", "<40")] + 0.1
    lo, hi = a["disparities"]["selection_rate[sanitation]"]["ci_ratio"]
    assert hi < 0.8
    by_group, _ = multiclass_reference(y_true, y_pred, classes, features)
    for entry in a["by_group"]:
        ref = by_group.loc[(entry["group"]["language"], entry["group"]["age"])]
        assert entry["macro_f1"] == pytest.approx(ref["macro_f1"], abs=TOL)
        for m in GROUP_METRICS:
            lo, hi = entry["ci"][m]
            assert lo <= entry[m] <= hi
    verdict = judge(
        a,
        thresholds=[
            {"metric": "selection_rate", "ratio_min": 0.8},
            {"metric": "balanced_accuracy", "difference_max": 0.5},
        ],
        min_group_size=30,
        policy_version="t",
    )
    sel, bal = verdict["findings"]
    assert sel["verdict"] == "fail" and len(sel["parts"]) == 4
    assert sel["chart_metric"] == "selection_rate[sanitation]"
    assert "routed to “sanitation”" in sel["text"] and "each of the 4 classes" in sel["text"]
    assert bal["verdict"] == "pass" and "parts" not in bal


def test_multiclass_undefined_values_are_none_not_zero():
    features = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 5})
    y_true = np.array([0, 1, 2, 0, 1, 0, 0, 1, 1, 0])  # group b has no class 2
    y_pred = np.array([0, 1, 2, 2, 1, 0, 1, 1, 0, 0])  # and never predicts it
    result = compute_multiclass_metrics(
        y_true=y_true,
        y_pred=y_pred,
        classes=["x", "y", "z"],
        sensitive_features=features,
        n_boot=50,
    ).to_dict()
    b = result["by_group"][1]
    assert b["per_class"]["z"]["true_positive_rate"] is None
    assert b["per_class"]["z"]["precision"] is None
    assert b["per_class"]["z"]["selection_rate"] == 0.0
    assert "no case of the group has the true class “z”" == b["undefined"]["true_positive_rate[z]"]
    assert result["disparities"]["true_positive_rate[z]"]["difference"] is None


# ---------------------------------------------------------------------------------------------
# Regression
# ---------------------------------------------------------------------------------------------


def regression_reference(y_true, y_pred, features, weights=None):
    metrics = {"mean_prediction": mean_prediction}
    if y_true is not None:
        metrics.update(
            {
                "mean_error": mean_error,
                "mean_absolute_error": mean_absolute_error,
                "root_mean_squared_error": root_mean_squared_error,
            }
        )
    params = None if weights is None else {m: {"sample_weight": weights} for m in metrics}
    return MetricFrame(
        metrics=metrics,
        y_true=y_pred if y_true is None else y_true,
        y_pred=y_pred,
        sensitive_features=features,
        sample_params=params,
    )


@st.composite
def regression_data(draw):
    n = draw(st.integers(min_value=2, max_value=150))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    n_features = draw(st.integers(min_value=1, max_value=3))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e4]))
    with_truth = draw(st.booleans())
    weighted = draw(st.booleans())
    rng = np.random.default_rng(seed)
    y_true = rng.gamma(2.0, scale, n)
    y_pred = y_true + rng.normal(0, scale, n)
    weights = rng.integers(1, 5, n) if weighted else None
    return (y_true if with_truth else None), y_pred, features_frame(rng, n, n_features), weights


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(regression_data(), st.booleans())
def test_regression_matches_fairlearn_on_raw_rows(data, from_moments):
    y_true, y_pred, features, weights = data
    original = metrics_regression.METRICFRAME_MAX_ROWS
    metrics_regression.METRICFRAME_MAX_ROWS = -1 if from_moments else 10**9
    try:
        result = compute_regression_metrics(
            y_pred=y_pred,
            y_true=y_true,
            sensitive_features=features,
            frequency=weights,
            n_boot=0,
        ).to_dict()
    except ValueError:
        return
    finally:
        metrics_regression.METRICFRAME_MAX_ROWS = original
    assert ("MetricFrame" in result["point_estimates"]) is not from_moments
    names = list(features.columns)
    # the reference: MetricFrame on the raw (expanded) rows
    rep = np.arange(len(y_pred)) if weights is None else np.repeat(np.arange(len(y_pred)), weights)
    frame = regression_reference(
        None if y_true is None else y_true[rep], y_pred[rep], features.iloc[rep]
    )
    by_group = frame.by_group.dropna(how="all")
    assert len(by_group) == len(result["by_group"])
    metrics = list(frame.overall.index)
    for entry in result["by_group"]:
        ref = by_group.loc[_key(entry["group"], names)]
        for m in metrics:
            assert entry[m] == pytest.approx(ref[m], rel=TOL, abs=TOL * np.abs(y_pred).max())
    for m in metrics:
        assert result["overall"][m] == pytest.approx(frame.overall[m], rel=TOL, abs=1e-12)
    assert set(result["overall"]) == {*metrics, "count"}
    for m in metrics:
        d = result["disparities"][m]
        values = by_group[m]
        if len(values) < 2:  # fairlearn: 0 and 1; here no comparison
            assert d["difference"] is None and d["ratio"] is None
            continue
        scale = np.abs(values).max()
        assert d["difference"] == pytest.approx(values.max() - values.min(), abs=TOL * scale)
        if values.max() != 0 and abs(values.max()) > 1e-6 * scale:
            assert d["ratio"] == pytest.approx(frame.ratio()[m], rel=1e-7)


def test_regression_moments_equal_rows():
    rng = np.random.default_rng(8)
    n = 3000
    features = pd.DataFrame(
        {"sex": rng.choice(["F", "M"], n), "age": rng.choice(["a", "b", "c"], n)}
    )
    y_true = rng.gamma(3.0, 10.0, n)
    y_pred = y_true * 0.9 + rng.normal(0, 4, n)
    rows = compute_regression_metrics(
        y_pred=y_pred, y_true=y_true, sensitive_features=features, seed=4
    ).to_dict()
    e = y_pred - y_true
    cells = (
        features.assign(
            n=1,
            sum_pred=y_pred,
            sum_sq_pred=y_pred**2,
            sum_true=y_true,
            sum_error=e,
            sum_abs_error=np.abs(e),
            sum_sq_error=e**2,
            sum_quad_error=e**4,
        )
        .groupby(["sex", "age"], as_index=False)
        .sum()
    )
    agg = compute_regression_metrics(
        moments=cells[list(MOMENT_COLUMNS)].to_numpy(),
        frequency=cells["n"].to_numpy(),
        sensitive_features=cells[["sex", "age"]],
        seed=4,
    ).to_dict()
    assert agg["n_rows"] == rows["n_rows"] == n
    for a, b in zip(agg["by_group"], rows["by_group"], strict=True):
        assert a["group"] == b["group"] and a["count"] == b["count"]
        for m in metrics_regression.METRICS:
            assert a[m] == pytest.approx(b[m], rel=1e-9)
            assert a["ci"][m] == pytest.approx(b["ci"][m], rel=1e-9)
    for m in metrics_regression.METRICS:
        for k in ("difference", "ratio"):
            assert agg["disparities"][m][k] == pytest.approx(rows["disparities"][m][k], rel=1e-9)
        assert agg["disparities"][m]["ci_ratio"] == pytest.approx(
            rows["disparities"][m]["ci_ratio"], rel=1e-9
        )
    assert agg["bootstrap"]["method"] == rows["bootstrap"]["method"]


def test_regression_without_truth_has_mean_prediction_only():
    features = pd.DataFrame({"g": ["a", "b"] * 50})
    result = compute_regression_metrics(
        y_pred=np.arange(100.0), sensitive_features=features, n_boot=100
    ).to_dict()
    assert result["ground_truth"] is False
    assert set(result["disparities"]) == {"mean_prediction"}
    out = judge(
        result,
        thresholds=[{"metric": "mean_absolute_error", "ratio_min": 0.8}],
        min_group_size=30,
        policy_version="t",
    )
    assert out["verdict"] == "insufficient_data"
    assert "needs the true values" in out["findings"][0]["text"]


def test_regression_texts_use_units_and_errors():
    rng = np.random.default_rng(2)
    n = 2000
    g = rng.choice(["en", "es"], n)
    y_true = rng.gamma(4.0, 5.0, n)
    y_pred = y_true + rng.normal(0, np.where(g == "es", 6.0, 3.0)) - np.where(g == "es", 2.0, 0)
    result = compute_regression_metrics(
        y_pred=y_pred, y_true=y_true, sensitive_features=pd.DataFrame({"language": g})
    ).to_dict()
    out = judge(
        result,
        thresholds=[
            {"metric": "mean_absolute_error", "ratio_min": 0.8},
            {"metric": "mean_error", "difference_max": 0.5},
        ],
        min_group_size=30,
        policy_version="t",
    )
    mae, me = out["findings"]
    assert mae["verdict"] == "fail"
    assert mae["text"].startswith("The mean absolute error for people with language = es")
    assert "times that for people with language = en" in mae["text"]
    assert me["verdict"] == "fail" and "higher than for" in me["text"]


# ---------------------------------------------------------------------------------------------
# Outcome rates
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=2, max_value=150),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n_features=st.integers(min_value=1, max_value=3),
    n_outcomes=st.integers(min_value=1, max_value=4),
)
def test_outcome_rates_match_fairlearn(n, seed, n_features, n_outcomes):
    rng = np.random.default_rng(seed)
    features = features_frame(rng, n, n_features)
    outcomes = {
        f"o{j}": (rng.random(n) < rng.choice([0.0, 0.05, 0.5, 1.0])).astype(int)
        for j in range(n_outcomes)
    }
    try:
        result = compute_outcome_rates(
            outcomes=outcomes, sensitive_features=features, n_boot=0
        ).to_dict()
    except ValueError:
        return
    names = list(features.columns)
    for col, values in outcomes.items():
        frame = MetricFrame(
            metrics={"rate": selection_rate},
            y_true=values,
            y_pred=values,
            sensitive_features=features,
        )
        by_group = frame.by_group.dropna(how="all")
        for entry in result["by_group"]:
            assert entry["rates"][col] == pytest.approx(
                by_group.loc[_key(entry["group"], names), "rate"], abs=TOL
            )
        assert result["overall"]["rates"][col] == pytest.approx(frame.overall["rate"], abs=TOL)
        d = result["disparities"][f"rate[{col}]"]
        if len(by_group) < 2:
            assert d["difference"] is None and d["ratio"] is None
            continue
        assert d["difference"] == pytest.approx(frame.difference()["rate"], abs=TOL)
        ratio = frame.ratio()["rate"]
        if math.isnan(ratio):
            assert d["ratio"] is None
        else:
            assert d["ratio"] == pytest.approx(ratio, abs=TOL)


def test_outcome_rates_judged_per_outcome_column():
    rng = np.random.default_rng(5)
    n = 6000
    language = rng.choice(["en", "es", "vi"], n, p=[0.6, 0.3, 0.1])
    escalated = rng.random(n) < np.select([language == "es", language == "vi"], [0.3, 0.22], 0.15)
    resolved = rng.random(n) < 0.7
    result = compute_outcome_rates(
        outcomes={"resolved": resolved, "escalated": escalated},
        sensitive_features=pd.DataFrame({"language": language}),
    ).to_dict()
    assert result["outcomes"] == ["resolved", "escalated"]
    out = judge(
        result,
        thresholds=[{"metric": "rate", "ratio_min": 0.8}],
        min_group_size=30,
        policy_version="t",
    )
    finding = out["findings"][0]
    assert finding["verdict"] == "fail"
    assert finding["chart_metric"] == "rate[escalated]"
    parts = {p["metric"]: p["verdict"] for p in finding["parts"]}
    assert parts == {"rate[resolved]": "pass", "rate[escalated]": "fail"}
    assert "were recorded as “escalated” at 2.00 times the rate of" in finding["text"] or (
        "recorded as “escalated”" in finding["text"]
    )


# ---------------------------------------------------------------------------------------------
# Coverage of the intervals: 200 simulations, 95% intervals cover the truth 90-99% of the time
# ---------------------------------------------------------------------------------------------

N_SIMS = 200


def test_multiclass_interval_coverage():
    rng = np.random.default_rng(2025)
    n = 300
    # true routing matrices: P(pred | true) per group; classes equally likely
    route = {
        "a": np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7]]),
        "b": np.array([[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
    }
    truth_tpr_a = route["a"][0, 0]
    truth_acc = {g: np.mean(np.diag(m)) for g, m in route.items()}  # classes balanced
    features = pd.DataFrame({"g": ["a"] * n + ["b"] * n})
    covered = {"tpr": 0, "acc_diff": 0, "bal": 0}
    for sim in range(N_SIMS):
        y_true = rng.integers(0, 3, 2 * n)
        probs = np.concatenate([route["a"][y_true[:n]], route["b"][y_true[n:]]])
        y_pred = (rng.random(2 * n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
        result = compute_multiclass_metrics(
            y_true=y_true,
            y_pred=y_pred,
            classes=["x", "y", "z"],
            sensitive_features=features,
            n_boot=1000,
            seed=sim,
        ).to_dict()
        lo, hi = result["by_group"][0]["ci"]["true_positive_rate[x]"]
        covered["tpr"] += lo <= truth_tpr_a <= hi
        lo, hi = result["disparities"]["accuracy"]["ci_difference"]
        covered["acc_diff"] += lo <= abs(truth_acc["a"] - truth_acc["b"]) <= hi
        lo, hi = result["by_group"][1]["ci"]["balanced_accuracy"]
        covered["bal"] += lo <= truth_acc["b"] <= hi  # balanced accuracy = mean recall
    for name, count in covered.items():
        assert 0.90 <= count / N_SIMS <= 0.99, (name, count)


def test_regression_interval_coverage(monkeypatch):
    # the intervals come from the per-group moments whatever computes the point estimates:
    # take them from the moments too, to spare 200 MetricFrames
    monkeypatch.setattr(metrics_regression, "METRICFRAME_MAX_ROWS", -1)
    rng = np.random.default_rng(2026)
    n = 1000  # the normal approximation needs a few hundred rows per group (skewed |error|)
    sd = {"a": 2.0, "b": 3.0}
    bias = {"a": 0.0, "b": 1.0}
    features = pd.DataFrame({"g": ["a"] * n + ["b"] * n})
    truth = {
        "mae_b": sd["b"] * math.sqrt(2 / math.pi) * math.exp(-((bias["b"] / sd["b"]) ** 2) / 2)
        + bias["b"] * (1 - 2 * _normal_cdf(-bias["b"] / sd["b"])),
        "rmse_a": sd["a"],
        "me_diff": bias["b"] - bias["a"],
        "mean_pred_a": 10.0,
    }
    covered = dict.fromkeys(truth, 0)
    for sim in range(N_SIMS):
        y_true = rng.normal(10.0, 2.0, 2 * n)
        errors = np.concatenate(
            [rng.normal(bias["a"], sd["a"], n), rng.normal(bias["b"], sd["b"], n)]
        )
        result = compute_regression_metrics(
            y_pred=y_true + errors,
            y_true=y_true,
            sensitive_features=features,
            n_boot=1000,
            seed=sim,
        ).to_dict()
        a, b = result["by_group"]
        covered["mae_b"] += _within(b["ci"]["mean_absolute_error"], truth["mae_b"])
        covered["rmse_a"] += _within(a["ci"]["root_mean_squared_error"], truth["rmse_a"])
        covered["me_diff"] += _within(
            result["disparities"]["mean_error"]["ci_difference"], truth["me_diff"]
        )
        covered["mean_pred_a"] += _within(a["ci"]["mean_prediction"], truth["mean_pred_a"])
    for name, count in covered.items():
        assert 0.90 <= count / N_SIMS <= 0.99, (name, count)


def test_outcome_rate_interval_coverage():
    rng = np.random.default_rng(2027)
    n = 400
    p = {"a": 0.15, "b": 0.3}
    features = pd.DataFrame({"g": ["a"] * n + ["b"] * n})
    covered = {"rate": 0, "diff": 0, "ratio": 0}
    for sim in range(N_SIMS):
        escalated = np.concatenate([rng.random(n) < p["a"], rng.random(n) < p["b"]])
        result = compute_outcome_rates(
            outcomes={"escalated": escalated}, sensitive_features=features, n_boot=1000, seed=sim
        ).to_dict()
        covered["rate"] += _within(result["by_group"][0]["ci"]["rate[escalated]"], p["a"])
        d = result["disparities"]["rate[escalated]"]
        covered["diff"] += _within(d["ci_difference"], p["b"] - p["a"])
        covered["ratio"] += _within(d["ci_ratio"], p["a"] / p["b"])
    for name, count in covered.items():
        assert 0.90 <= count / N_SIMS <= 0.99, (name, count)


def _within(ci, value) -> bool:
    return ci is not None and ci[0] <= value <= ci[1]


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# ---------------------------------------------------------------------------------------------
# Real data sets (tests/data/README.md): reference values by fairlearn, here
# ---------------------------------------------------------------------------------------------


def test_palmer_penguins_species_classifier_matches_fairlearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    penguins = pd.read_csv(DATA / "palmer_penguins.csv").dropna().reset_index(drop=True)
    assert len(penguins) == 333
    X = penguins[["bill_depth_mm", "flipper_length_mm"]]  # a deliberately weak model
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, penguins["species"])
    classes = sorted(penguins["species"].unique())
    y_true = penguins["species"].map(classes.index).to_numpy()
    y_pred = pd.Series(model.predict(X)).map(classes.index).to_numpy()
    features = penguins[["sex", "island"]]
    result = compute_multiclass_metrics(
        y_true=y_true, y_pred=y_pred, classes=classes, sensitive_features=features, n_boot=200
    ).to_dict()
    by_group, overall = multiclass_reference(y_true, y_pred, classes, features)
    by_group = by_group.dropna(how="all")
    assert len(result["by_group"]) == len(by_group) == 6  # sex x island
    for entry in result["by_group"]:
        ref = by_group.loc[(entry["group"]["sex"], entry["group"]["island"])]
        for m in GROUP_METRICS:
            assert entry[m] == pytest.approx(ref[m], abs=TOL)
        for c in classes:
            for m in PER_CLASS_METRICS:
                value = entry["per_class"][c][m]
                assert (value if value is not None else 0.0) == pytest.approx(
                    ref[f"{m}[{c}]"], abs=TOL
                )
    for m in GROUP_METRICS:
        assert result["overall"][m] == pytest.approx(overall[m], abs=TOL)
    assert result["disparities"]["balanced_accuracy"]["difference"] == pytest.approx(
        by_group["balanced_accuracy"].max() - by_group["balanced_accuracy"].min(), abs=TOL
    )


def test_diabetes_progression_regression_matches_fairlearn():
    from sklearn.linear_model import LinearRegression

    diabetes = pd.read_csv(DATA / "diabetes.csv")
    assert len(diabetes) == 442
    X = diabetes.drop(columns=["target", "sex"])
    y_true = diabetes["target"].to_numpy()
    y_pred = LinearRegression().fit(X, y_true).predict(X)
    features = pd.DataFrame(
        {
            "sex": diabetes["sex"].map({1.0: "1", 2.0: "2"}),
            "age": pd.cut(diabetes["age"], [0, 40, 55, 100], labels=["<40", "40-54", "55+"]).astype(
                str
            ),
        }
    )
    result = compute_regression_metrics(
        y_pred=y_pred, y_true=y_true, sensitive_features=features, n_boot=500
    ).to_dict()
    frame = regression_reference(y_true, y_pred, features)
    assert len(result["by_group"]) == 6
    for entry in result["by_group"]:
        ref = frame.by_group.loc[(entry["group"]["sex"], entry["group"]["age"])]
        for m in metrics_regression.METRICS:
            assert entry[m] == pytest.approx(ref[m], rel=TOL)
    for m in metrics_regression.METRICS:
        assert result["disparities"][m]["difference"] == pytest.approx(
            frame.difference()[m], rel=TOL
        )
        assert result["disparities"][m]["ratio"] == pytest.approx(frame.ratio()[m], rel=TOL)
