"""The demo's synthetic triage (multiclass) and chatbot evaluation (outcome rates) checks:
reproducible data, run by the real check, labelled as demo data, and readable findings."""

from __future__ import annotations

import io
import re

from werkzeug.datastructures import FileStorage

from assessments import bias_checks, demo
from assessments.charts import metric_chart_svg


def run_demo_check(factory, use_case_id):
    from policies import store

    store.active_version()
    owner = factory.user("team")
    pilot = factory.pilot(owner, name=f"Demo {use_case_id}")
    make, filename, form = demo.DEMO_CHECKS[use_case_id]
    data = make()
    assert data == make()  # generated from a fixed seed: the same file every time
    upload = FileStorage(stream=io.BytesIO(data), filename=filename)
    return bias_checks.create(pilot, upload, form, owner)


def test_the_demo_triage_check_is_a_multiclass_check_on_synthetic_data(app, factory):
    check = run_demo_check(factory, "MCG-002")
    assert check.status == "succeeded" and check.task == "multiclass_classification"
    assert check.name.startswith("Demo data (synthetic)") and "synthetic" in check.filename
    assert check.n_rows == 8_000 and check.sensitive_features == ["report_language"]
    # The routing view and the per-class rates are there; the model routes non-English
    # reports to the right crew less often, as the generator says.
    assert "routing" in check.charts
    by_language = {g["group"]["report_language"]: g for g in check.results["by_group"]}
    assert by_language["English"]["accuracy"] > by_language["Chinese"]["accuracy"] + 0.15
    (finding,) = [f for f in check.findings if f["metric"] == "true_positive_rate"]
    text = finding["text"]
    assert text.startswith("The true positive rate was judged for each of the 6 classes")
    # Class names keep their case inside sentences.
    assert "“Street lighting”" in text and "“street lighting”" not in text
    assert "see the results by class." in text


def test_the_demo_chatbot_check_is_an_outcome_rates_check_on_synthetic_data(app, factory):
    check = run_demo_check(factory, "MCG-006")
    assert check.status == "succeeded" and check.task == "outcome_rates"
    assert check.name.startswith("Demo data (synthetic)")
    assert check.outcomes == ["resolved", "escalated", "refused", "harmful"]
    (finding,) = [f for f in check.findings if f["metric"] == "rate"]
    assert "see the results by outcome." in finding["text"]
    assert "results by class" not in finding["text"]
    # A rare outcome (harmful, about 1%) is drawn on a short axis, not squeezed against 0 on
    # an axis to 1; the policy line's label stays inside the chart.
    # (Haitian Creole callers have no "harmful" conversation in the sample, 0 of 300: that rate's
    # comparison is inconclusive, so "escalated" decides the finding and is the check's chart.)
    assert list(check.charts) == ["rate[escalated]"]
    harmful = metric_chart_svg(check.results, "rate[harmful]", threshold=finding["threshold"])
    ticks = re.findall(r'id="xtick_\d+">.*?>(\d\.\d+)</text>', harmful, re.S)
    assert ticks and max(float(t) for t in ticks) < 0.25
