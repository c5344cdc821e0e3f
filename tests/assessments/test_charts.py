"""Accessible, deterministic SVG charts and their data tables."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assessments.charts import metric_chart_svg, metric_table
from assessments.metrics import compute_bias_metrics

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def result() -> dict:
    rng = np.random.default_rng(8)
    n = 600
    race = rng.choice(["A", "B", "C"], n, p=[0.5, 0.45, 0.05])
    y_true = rng.integers(0, 2, n)
    y_true[race == "C"] = 1  # no negatives in C: false positive rate undefined
    y_pred = np.where(rng.random(n) < 0.3, 1 - y_true, y_true)
    return compute_bias_metrics(
        y_true=y_true, y_pred=y_pred, sensitive_features=pd.DataFrame({"race": race})
    ).to_dict()


def test_svg_has_title_and_desc_first(result):
    svg = metric_chart_svg(
        result, "false_positive_rate", threshold={"metric": "false_positive_rate", "ratio_min": 0.8}
    )
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    first, second = list(root)[:2]
    assert first.tag == f"{SVG}title" and second.tag == f"{SVG}desc"
    assert root.get("aria-labelledby") == f"{first.get('id')} {second.get('id')}"
    assert first.text == "False positive rate by race"
    desc = second.text
    assert "3 groups of race" in desc and "95% confidence intervals" in desc
    assert "Undefined for: race = C" in desc
    assert "policy floor: 0.8 × highest" in desc
    assert "below the minimum size: race = C" in desc
    assert "policy floor" in svg  # the line is labelled in the drawing too
    assert "<text" in svg  # text kept as text (svg.fonttype none)


def test_svg_is_deterministic(result):
    kwargs = {"threshold": {"metric": "accuracy", "difference_max": 0.05}, "title": "Accuracy"}
    first = metric_chart_svg(result, "accuracy", **kwargs)
    second = metric_chart_svg(result, "accuracy", **kwargs)
    assert first == second
    assert "<dc:date>" not in first
    assert metric_chart_svg(result, "precision") != first


def test_metric_table_rows(result):
    rows = metric_table(result, "false_positive_rate")
    assert [r["group"] for r in rows] == ["race = A", "race = B", "race = C"]
    a, _b, c = rows
    assert set(a) == {
        "group",
        "group_values",
        "value",
        "ci_low",
        "ci_high",
        "count",
        "small_group",
        "undefined",
    }
    assert a["ci_low"] <= a["value"] <= a["ci_high"]
    assert a["group_values"] == {"race": "A"} and a["undefined"] is None
    assert c["value"] is None and c["ci_low"] is None and c["undefined"]
    assert c["small_group"] is True
    no_auc = metric_table(result, "roc_auc")  # no scores: rows say so instead of failing
    assert all(r["value"] is None and "score" in r["undefined"] for r in no_auc)


def test_fairlearn_names_resolve_to_their_metric(result):
    assert metric_table(result, "demographic_parity") == metric_table(result, "selection_rate")
    eo = metric_table(result, "equalized_odds")
    ratios = {
        m: result["disparities"][m]["ratio"] for m in ("true_positive_rate", "false_positive_rate")
    }
    assert eo == metric_table(result, min(ratios, key=ratios.get))
    svg = metric_chart_svg(
        result, "equalized_odds", threshold={"metric": "equalized_odds", "ratio_min": 0.8}
    )
    assert "<title" in svg


def test_matplotlib_is_imported_lazily():
    code = "import sys; import assessments.charts; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert out.stdout.strip() == "False"


def test_group_labels_with_dollar_signs_are_drawn_literally_and_the_check_succeeds(factory):
    """'$0-$25k' is not maths (drawn '0−25k' before), and 'price $\\x$ band' no longer fails."""
    from reports.charts import bar_chart_svg

    labels = ["$0-$25k", r"price $\x$ band"]
    rows = "".join(f"{labels[i % 2]},{i % 3 % 2},{i % 5 % 2}\n" for i in range(200))
    team = factory.user("team")
    check = factory.bias_check(factory.pilot(team), team, content=("g,y,p\n" + rows).encode())
    assert check.status == "succeeded", check.error
    assert check.charts
    for svg in check.charts.values():
        texts = {"".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")}
        assert any("$0-$25k" in t for t in texts), texts
        assert any(r"price $\x$ band" in t for t in texts), texts
    bars = ET.fromstring(bar_chart_svg("tiers", "By $ band", labels, [1, 2]))
    assert {"$0-$25k", r"price $\x$ band", "By $ band"} <= {
        "".join(t.itertext()) for t in bars.iter(f"{SVG}text")
    }
