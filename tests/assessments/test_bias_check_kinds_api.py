"""Bias checks of every kind over the API and the pages: results, verdicts, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from assessments.models import BiasCheck
from registry.audit.models import AuditEvent
from registry.extensions import db


@pytest.fixture
def team(factory):
    return factory.user("team")


@pytest.fixture
def headers(factory, team):
    return factory.headers(team)


@pytest.fixture
def pilot(factory, team):
    from policies import store

    store.active_version()
    return factory.pilot(team, name="311 triage")


def post(client, pilot, headers, frame_or_bytes, name="outputs.csv", **fields):
    content = (
        frame_or_bytes
        if isinstance(frame_or_bytes, bytes)
        else frame_or_bytes.to_csv(index=False).encode()
    )
    data = {**fields, "file": (io.BytesIO(content), name)}
    return client.post(f"/api/v1/pilots/{pilot.id}/bias-checks", data=data, headers=headers)


def triage_rows(n=3000, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    language = rng.choice(["English", "Spanish", "Vietnamese"], n, p=[0.6, 0.3, 0.1])
    queues = np.array(["Billing", "Housing", "Permits", "Sanitation"])
    truth = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < 0.8, truth, rng.integers(0, 4, n))
    # Spanish-speaking callers with a housing question end up in sanitation
    pred = np.where((language == "Spanish") & (truth == 1) & (rng.random(n) < 0.5), 3, pred)
    return pd.DataFrame({"language": language, "queue": queues[truth], "routed_to": queues[pred]})


def chatbot_rows(n=4000, seed=2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    language = rng.choice(["en", "es", "zh"], n, p=[0.6, 0.3, 0.1])
    escalated = rng.random(n) < np.where(language == "en", 0.1, 0.25)
    return pd.DataFrame(
        {
            "language": language,
            "resolved": np.where(rng.random(n) < 0.7, "yes", "no"),
            "escalated": np.where(escalated, "yes", "no"),
        }
    )


def waits(n=2000, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    district = rng.choice(["north", "south"], n)
    truth = rng.gamma(3.0, 5.0, n)
    pred = (
        truth
        + rng.normal(0, np.where(district == "south", 5.0, 2.0))
        - np.where(district == "south", 3.0, 0.0)
    )
    return pd.DataFrame({"district": district, "wait_days": truth, "predicted_days": pred})


# ---------------------------------------------------------------------------------------------
# Each kind, end to end
# ---------------------------------------------------------------------------------------------


def test_multiclass_triage_check(client, headers, pilot):
    response = post(
        client,
        pilot,
        headers,
        triage_rows(),
        task="multiclass_classification",
        y_true="queue",
        y_pred="routed_to",
        sensitive_features="language",
    )
    assert response.status_code == 201, response.get_json()
    check = response.get_json()
    assert check["task"] == "multiclass_classification"
    assert check["classes"] == ["Billing", "Housing", "Permits", "Sanitation"]
    spanish = next(g for g in check["by_group"] if g["group"] == {"language": "Spanish"})
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class", "ci", "count"):
        assert key in spanish
    assert set(spanish["per_class"]["Housing"]) == {
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
        "precision",
    }
    assert "true_positive_rate[Housing]" in check["disparities"]
    assert set(check["disparities"]["accuracy"]) >= {
        "difference",
        "ratio",
        "ci_difference",
        "ci_ratio",
    }
    tpr = check["findings"][0]
    assert tpr["metric"] == "true_positive_rate" and tpr["verdict"] == "fail"
    assert tpr["chart_metric"] == "true_positive_rate[Housing]"
    assert check["verdict"] == "fail"
    assert check["summary"] is None
    stored = db.session.get(BiasCheck, check["id"])
    assert "true_positive_rate[Housing]" in stored.charts and "routing" in stored.charts


def test_chatbot_outcome_rates_check(client, headers, pilot):
    response = post(
        client,
        pilot,
        headers,
        chatbot_rows(),
        task="outcome_rates",
        outcomes="resolved,escalated",
        positive_label="yes",
        sensitive_features="language",
    )
    assert response.status_code == 201, response.get_json()
    check = response.get_json()
    assert check["task"] == "outcome_rates" and check["outcomes"] == ["resolved", "escalated"]
    assert check["columns"]["y_true"] is None
    group = check["by_group"][0]
    assert set(group["rates"]) == {"resolved", "escalated"}
    assert "rate[escalated]" in check["disparities"]
    assert check["verdict"] == "fail"
    parts = {p["metric"]: p["verdict"] for p in check["findings"][0]["parts"]}
    assert parts["rate[escalated]"] == "fail"


def test_regression_check_and_without_truth(client, headers, pilot):
    frame = waits()
    response = post(
        client,
        pilot,
        headers,
        frame,
        task="regression",
        y_true="wait_days",
        y_pred="predicted_days",
        sensitive_features="district",
    )
    assert response.status_code == 201, response.get_json()
    check = response.get_json()
    assert check["task"] == "regression"
    assert set(check["overall"]) == {
        "mean_prediction",
        "mean_error",
        "mean_absolute_error",
        "root_mean_squared_error",
        "count",
    }
    assert check["bootstrap"]["method"].startswith("normal approximation")
    mae = check["findings"][0]
    assert mae["metric"] == "mean_absolute_error" and mae["verdict"] == "fail"
    no_truth = post(
        client,
        pilot,
        headers,
        frame,
        task="regression",
        y_pred="predicted_days",
        sensitive_features="district",
    ).get_json()
    assert set(no_truth["overall"]) == {"mean_prediction", "count"}
    assert no_truth["verdict"] == "insufficient_data"


def test_a_group_with_no_error_gives_a_finding_not_a_crash(client, headers, pilot):
    # North's predictions are exact: its mean absolute error is 0, so "how many times larger"
    # has no answer. The check still succeeds and says so (it used to divide by zero).
    frame = waits()
    frame.loc[frame["district"] == "north", "predicted_days"] = frame["wait_days"]
    response = post(
        client,
        pilot,
        headers,
        frame,
        task="regression",
        y_true="wait_days",
        y_pred="predicted_days",
        sensitive_features="district",
    )
    assert response.status_code == 201, response.get_json()
    check = response.get_json()
    assert check["status"] == "succeeded" and check["verdict"] == "fail"
    (mae,) = [f for f in check["findings"] if f["metric"] == "mean_absolute_error"]
    assert mae["verdict"] == "fail" and mae["value"] == 0
    assert "district = north it was 0, so the ratio has no upper limit" in mae["text"]


def test_regression_from_moments_equals_rows(client, headers, pilot):
    frame = waits()
    e = frame["predicted_days"] - frame["wait_days"]
    cells = (
        frame.assign(
            n=1,
            sum_pred=frame["predicted_days"],
            sum_sq_pred=frame["predicted_days"] ** 2,
            sum_true=frame["wait_days"],
            sum_error=e,
            sum_abs_error=e.abs(),
            sum_sq_error=e**2,
            sum_quad_error=e**4,
        )
        .drop(columns=["wait_days", "predicted_days"])
        .groupby("district", as_index=False)
        .sum()
    )
    from_cells = post(
        client,
        pilot,
        headers,
        cells,
        task="regression",
        frequency="n",
        sensitive_features="district",
        total_rows=str(len(frame)),
    )
    assert from_cells.status_code == 201, from_cells.get_json()
    from_rows = post(
        client,
        pilot,
        headers,
        frame,
        task="regression",
        y_true="wait_days",
        y_pred="predicted_days",
        sensitive_features="district",
    )
    a, b = from_cells.get_json(), from_rows.get_json()
    assert a["aggregated"] is True and a["n_rows"] == b["n_rows"] == len(frame)
    assert a["verdict"] == b["verdict"]
    for ga, gb in zip(a["by_group"], b["by_group"], strict=True):
        for m in (
            "mean_prediction",
            "mean_error",
            "mean_absolute_error",
            "root_mean_squared_error",
        ):
            assert ga[m] == pytest.approx(gb[m], rel=1e-9)
            assert ga["ci"][m] == pytest.approx(gb["ci"][m], rel=1e-9)


def test_multiclass_and_outcomes_from_aggregates_are_identical(client, headers, pilot):
    rows = triage_rows(800)
    cells = rows.groupby(["language", "queue", "routed_to"], as_index=False).size()
    kwargs = {
        "task": "multiclass_classification",
        "y_true": "queue",
        "y_pred": "routed_to",
        "sensitive_features": "language",
    }
    a = post(client, pilot, headers, cells, frequency="size", **kwargs).get_json()
    b = post(client, pilot, headers, rows, **kwargs).get_json()
    for key in ("overall", "by_group", "disparities", "verdict", "findings", "classes"):
        assert a[key] == b[key], key
    chat = chatbot_rows(600)
    chat_cells = chat.groupby(["language", "resolved", "escalated"], as_index=False).size()
    kwargs = {
        "task": "outcome_rates",
        "outcomes": "resolved,escalated",
        "positive_label": "yes",
        "sensitive_features": "language",
    }
    a = post(client, pilot, headers, chat_cells, frequency="size", **kwargs).get_json()
    b = post(client, pilot, headers, chat, **kwargs).get_json()
    for key in ("overall", "by_group", "disparities", "verdict", "findings"):
        assert a[key] == b[key], key


# ---------------------------------------------------------------------------------------------
# Bad input: a 422 naming the column with examples; nothing stored
# ---------------------------------------------------------------------------------------------

MULTI = {
    "task": "multiclass_classification",
    "y_true": "t",
    "y_pred": "p",
    "sensitive_features": "g",
}
REG = {"task": "regression", "y_true": "t", "y_pred": "p", "sensitive_features": "g"}


@pytest.mark.parametrize(
    ("body", "fields", "key", "words"),
    [
        (b"g,t,p\na,x,x\nb,x,x\na,x,x\n", MULTI, "t", "same class"),
        (b"g,t,p\na,1,2\nb,2,3\na,3,4\nb,4,5\n", {**MULTI, "max": "3"}, "t", "at most 3"),
        (b"g,t,p\na,1.5,low\nb,2.5,high\na,3,medium\n", REG, "p", "'high'"),
        (b"g,t,p\na,1.5,2\nb,2.5,\na,3,4\n", REG, "p", "row 2"),
        (b"g,t,p\na,1.5,2\nb,2.5,inf\na,3,4\n", REG, "p", "infinite"),
        (b"g,t,p\na,1.5,2\nb,2.5,NaN\na,3,4\n", REG, "p", "NaN"),
        (
            b"g,esc\na,yes\nb,no\na,maybe\n",
            {
                "task": "outcome_rates",
                "outcomes": "esc",
                "positive_label": "yes",
                "sensitive_features": "g",
            },
            "esc",
            "maybe",
        ),
        (b"g,t,p\na,x,y\nb,y,x\n", {**REG}, "p", "multiclass"),
        (
            b"g,n,sum_pred\na,2,3\nb,1,1\n",
            {"task": "regression", "frequency": "n", "sensitive_features": "g"},
            "sum_sq_pred",
            "not found",
        ),
        (
            b"g,t,p\na,1,0\nb,0,1\n",
            {"task": "regression_model", "y_true": "t", "y_pred": "p", "sensitive_features": "g"},
            "task",
            "",
        ),
    ],
    ids=[
        "single class",
        "too many classes",
        "text in regression",
        "missing number",
        "infinity",
        "nan",
        "non-binary outcome",
        "task mismatch",
        "missing moment",
        "unknown task",
    ],
)
def test_bad_input_gets_422_naming_the_column_and_stores_nothing(
    client, app, headers, pilot, body, fields, key, words
):
    fields = dict(fields)
    if "max" in fields:
        app.config["BIAS_CHECK_MAX_CLASSES"] = int(fields.pop("max"))
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = post(client, pilot, headers, body, **fields)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    flat = {k: str(v) for k, v in errors.items()}
    if "form" in errors:  # field validation by the schema
        flat.update({k: str(v) for k, v in errors["form"].items()})
    assert key in flat, errors
    assert words in flat[key], errors
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BiasCheck)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    root = Path(app.config["UPLOAD_FOLDER"]) / "bias"
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_moments_that_no_rows_could_give_name_the_row(client, headers, pilot):
    body = (
        b"g,n,sum_pred,sum_sq_pred,sum_true,sum_error,sum_abs_error,sum_sq_error,sum_quad_error\n"
        b"a,2,10,50,8,2,2,2,2\n"
        b"b,2,10,50,12,2,2,2,2\n"  # sum_error should be -2: truth minus prediction given
    )
    response = post(
        client, pilot, headers, body, task="regression", frequency="n", sensitive_features="g"
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "row 2" in errors and "sum_error" in errors


def test_policy_without_thresholds_for_a_kind_is_inconclusive(client, app, headers, pilot, factory):
    import yaml

    from policies import store
    from policies.schema import library_yaml

    admin = factory.user("admin")
    document = yaml.safe_load(library_yaml())
    document["version"] = "1.0.1"
    for tier in document["fairness"].values():
        tier.pop("thresholds_by_task")  # a policy written before checks of every kind
    draft = store.create_draft(yaml.safe_dump(document, sort_keys=False), admin)
    store.publish(draft, admin)
    check = post(
        client,
        pilot,
        headers,
        chatbot_rows(300),
        task="outcome_rates",
        outcomes="escalated",
        positive_label="yes",
        sensitive_features="language",
    )
    assert check.status_code == 201, check.get_json()
    out = check.get_json()
    assert out["verdict"] == "inconclusive"
    assert "sets no fairness thresholds for outcome rates checks" in out["findings"][0]["text"]


def test_check_pages_render_every_kind(client, headers, pilot, login):
    ids = []
    for frame, fields in (
        (
            triage_rows(600),
            {
                "task": "multiclass_classification",
                "y_true": "queue",
                "y_pred": "routed_to",
                "sensitive_features": "language",
            },
        ),
        (
            chatbot_rows(600),
            {
                "task": "outcome_rates",
                "outcomes": "resolved,escalated",
                "positive_label": "yes",
                "sensitive_features": "language",
            },
        ),
        (
            waits(400),
            {
                "task": "regression",
                "y_true": "wait_days",
                "y_pred": "predicted_days",
                "sensitive_features": "district",
            },
        ),
    ):
        response = post(client, pilot, headers, frame, **fields)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    login(user=pilot.owner)
    multi, chat, reg = (client.get(f"/bias-checks/{i}").get_data(as_text=True) for i in ids)
    assert "Where each group's cases are routed" in multi and "Sanitation" in multi
    assert "Macro F1" in multi and "<svg" in multi
    assert "Outcome rates" in chat and "escalated" in chat
    assert "Mean absolute error" in reg and "normal approximation" in reg


def test_pilot_report_and_board_packet_render_every_kind(client, headers, pilot, factory):
    from pypdf import PdfReader

    for frame, fields in (
        (
            triage_rows(600),
            {
                "task": "multiclass_classification",
                "y_true": "queue",
                "y_pred": "routed_to",
                "sensitive_features": "language",
            },
        ),
        (
            waits(400),
            {
                "task": "regression",
                "y_true": "wait_days",
                "y_pred": "predicted_days",
                "sensitive_features": "district",
            },
        ),
        (
            chatbot_rows(600),
            {
                "task": "outcome_rates",
                "outcomes": "resolved,escalated",
                "positive_label": "yes",
                "sensitive_features": "language",
            },
        ),
    ):
        assert post(client, pilot, headers, frame, **fields).status_code == 201
    board = factory.headers(factory.user("board"))

    def text(url: str) -> str:
        response = client.get(url, headers=board)
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        reader = PdfReader(io.BytesIO(response.data))
        return " ".join((page.extract_text() or "") for page in reader.pages)

    report = " ".join(text(f"/api/v1/pilots/{pilot.id}/report.pdf").split())
    for words in (
        "Multiclass classification",
        "Where each group's cases are routed",
        "Balanced accuracy",
        "Regression",
        "Mean absolute error",
        "Outcome rates",
        "Rate of “escalated”",
    ):
        assert words in report, words
    packet = " ".join(text("/api/v1/reports/board-packet.pdf?since=2020-01-01").split())
    assert "Outcome rates" in packet and "recorded as “escalated”" in packet


def test_sample_size_honesty_in_findings_and_on_the_page(client, headers, pilot, login):
    from assessments.metrics_power import detectable_gap, required_rows

    # the textbook figures: 388 per group to tell 50% from 40%, and back
    assert required_rows(style="rate", value=0.5, kind="difference_max", bound=0.1) == 388
    assert detectable_gap(style="rate", value=0.5, sizes=(388, 388)) == pytest.approx(0.1, abs=1e-3)
    assert (
        required_rows(style="quantity", value=3.0, kind="ratio_min", bound=0.8, spread=(2.0, 2.0))
        == 175
    )
    # a small, inconclusive outcome-rate check
    rng = np.random.default_rng(9)
    language = rng.choice(["en", "es"], 400)
    escalated = rng.random(400) < np.where(language == "en", 0.2, 0.18)
    frame = pd.DataFrame({"language": language, "escalated": np.where(escalated, "yes", "no")})
    response = post(
        client,
        pilot,
        headers,
        frame,
        task="outcome_rates",
        outcomes="escalated",
        positive_label="yes",
        sensitive_features="language",
    )
    check = response.get_json()
    finding = check["findings"][0]
    assert finding["verdict"] in ("inconclusive", "insufficient_data")
    assert "Sample size: to detect a gap as large as the policy's limit" in finding["text"]
    assert finding["power"]["rows_per_group"] > finding["power"]["smaller_group_rows"]
    assert finding["power"]["more_rows"] == (
        finding["power"]["rows_per_group"] - finding["power"]["smaller_group_rows"]
    )
    login(user=pilot.owner)
    page = client.get(f"/bias-checks/{check['id']}").get_data(as_text=True)
    assert "What these data can detect" in page and "percentage points" in page


def test_guided_choice_of_metrics_is_recorded_and_shown(client, headers, pilot, login):
    from assessments.metrics_guide import recommend

    punitive = recommend(
        "binary_classification",
        {"intervention": "punitive", "concern": "wrongly_flagged"},
        has_truth=True,
    )
    assert punitive["recommended"][0] == "false_positive_rate"
    assert "punitive" in punitive["reasoning"][0] and "Aequitas" in punitive["source"]
    assistive = recommend(
        "multiclass_classification", {"intervention": "assistive"}, has_truth=True
    )
    assert assistive["recommended"][0] == "true_positive_rate"
    no_truth = recommend("binary_classification", {"ground_truth": "no"}, has_truth=True)
    assert no_truth["recommended"] == ["selection_rate"]
    assert recommend("regression", {"intervention": "assistive"}, has_truth=True)[
        "recommended"
    ] == ["mean_error", "mean_absolute_error"]
    assert recommend("binary_classification", {}, has_truth=True) is None

    response = post(
        client,
        pilot,
        headers,
        triage_rows(400),
        task="multiclass_classification",
        y_true="queue",
        y_pred="routed_to",
        sensitive_features="language",
        intervention="assistive",
        concern="missed",
    )
    check = response.get_json()
    assert check["guidance"]["answers"] == {"intervention": "assistive", "concern": "missed"}
    assert check["guidance"]["recommended"] == ["true_positive_rate", "balanced_accuracy"]
    bad = post(
        client,
        pilot,
        headers,
        triage_rows(50),
        task="multiclass_classification",
        y_true="queue",
        y_pred="routed_to",
        sensitive_features="language",
        intervention="harsh",
    )
    assert bad.status_code == 422
    login(user=pilot.owner)
    page = client.get(f"/bias-checks/{check['id']}").get_data(as_text=True)
    assert "What to measure, and why" in page and "assistive" in page
    form = client.get(f"/pilots/{pilot.id}/bias-checks/new").get_data(as_text=True)
    assert 'name="intervention"' in form and 'name="task"' in form


def test_what_if_for_a_failing_binary_check_with_scores(client, headers, pilot, login):
    rng = np.random.default_rng(21)
    n = 4000
    race = rng.choice(["A", "B"], n)
    y_true = rng.integers(0, 2, n)
    score = np.clip(0.35 * y_true + 0.5 * rng.random(n) + np.where(race == "B", 0.2, 0.0), 0, 1)
    frame = pd.DataFrame(
        {"race": race, "y": y_true, "pred": (score > 0.5).astype(int), "score": score}
    )
    response = post(
        client,
        pilot,
        headers,
        frame,
        y_true="y",
        y_pred="pred",
        y_score="score",
        sensitive_features="race",
    )
    check = response.get_json()
    assert check["verdict"] == "fail"
    stored = db.session.get(BiasCheck, check["id"])
    analysis = stored.results["what_if"]
    assert analysis["note"].startswith("Analysis only, not a recommendation")
    option = analysis["options"][0]
    assert option["metric"] == "selection_rate" and option["constraint"] == "demographic_parity"
    assert option["meets_policy"] and option["ratio"] >= 0.8
    assert set(option["thresholds"]) == {"race = A", "race = B"}
    assert option["accuracy_cost"] is not None and len(option["curve"]) >= 2
    assert "what_if" in stored.charts
    login(user=pilot.owner)
    page = client.get(f"/bias-checks/{check['id']}").get_data(as_text=True)
    assert "What could be done: analysis, not a recommendation" in page
