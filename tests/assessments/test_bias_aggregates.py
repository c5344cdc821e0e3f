"""Aggregated input (a frequency column): identical to the expanded rows, and its 422s."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from assessments import metrics as metrics_module
from assessments.bias_input import prepare, read_table
from assessments.metrics import compute_bias_metrics
from assessments.models import BiasCheck
from assessments.verdicts import judge
from registry.audit.models import AuditEvent
from registry.errors import ValidationFailed
from registry.extensions import db

THRESHOLDS = [
    {"metric": "selection_rate", "ratio_min": 0.8},
    {"metric": "false_positive_rate", "difference_max": 0.1},
    {"metric": "equalized_odds", "ratio_min": 0.8},
]


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (every column's value) with its count, as a GROUP BY would give."""
    cols = list(rows.columns)
    return rows.groupby(cols, sort=False, dropna=False).size().rename("frequency").reset_index()


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def check_from_file(path: Path, *, frequency=None, score=None, bins=None, seed=7, n_boot=200):
    columns = ["f0", "f1", "y_true", "y_pred"]
    numeric = [c for c in (score, frequency, *(bins or ())) if c]
    frame = read_table(path, columns=columns + numeric, numeric=numeric)
    prepared = prepare(
        frame,
        y_true="y_true",
        y_pred="y_pred",
        sensitive_features=["f0", "f1"],
        y_score=score,
        frequency=frequency,
        y_score_bins=bins,
    )
    result = prepared.compute(n_boot=n_boot, seed=seed, min_group_size=5).to_dict()
    verdict = judge(result, thresholds=THRESHOLDS, min_group_size=5, policy_version="t")
    return prepared, result, verdict


# ---------------------------------------------------------------------------------------------
# Identity: aggregates give the results of the expanded rows, to the last bit
# ---------------------------------------------------------------------------------------------


@st.composite
def row_sets(draw):
    n = draw(st.integers(min_value=2, max_value=120))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    n_features = draw(st.integers(min_value=1, max_value=3))
    score_kind = draw(st.sampled_from(["none", "few", "many"]))
    p_true = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9]))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            f"f{i}": rng.choice(["a", "b", "c"][: rng.integers(2, 4)], size=n)
            for i in range(n_features)
        }
    )
    frame["y_true"] = (rng.random(n) < p_true).astype(int)
    frame["y_pred"] = rng.integers(0, 2, n)
    if score_kind == "few":
        frame["score"] = rng.integers(0, 5, n) / 4
    elif score_kind == "many":
        frame["score"] = np.round(rng.random(n), 6)
    weights = rng.integers(0, 6, size=n)  # zero: the row stands for no row
    weights[0] = max(weights[0], 1)
    return frame, weights


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row_sets(), st.booleans())
def test_weighted_rows_equal_expanded_rows_bit_for_bit(data, force_sorted_auc):
    frame, weights = data
    features = frame[[c for c in frame.columns if c.startswith("f")]]
    score = frame["score"].to_numpy() if "score" in frame else None
    keep = weights > 0
    rep = np.repeat(np.arange(len(frame)), weights)
    kwargs = {"n_boot": 150, "seed": 11, "min_group_size": 3}
    original = (metrics_module._MAX_AUC_HIST_BINS, metrics_module._MIN_AUC_HIST_BINS)
    if force_sorted_auc:  # the path for many distinct scores: sorted keys and quantile bins
        metrics_module._MAX_AUC_HIST_BINS = metrics_module._MIN_AUC_HIST_BINS = 4
    try:
        try:
            expanded = compute_bias_metrics(
                y_true=frame["y_true"].to_numpy()[rep],
                y_pred=frame["y_pred"].to_numpy()[rep],
                sensitive_features=features.iloc[rep].reset_index(drop=True),
                y_score=None if score is None else score[rep],
                **kwargs,
            ).to_dict()
        except ValueError:
            return  # e.g. a single group; the weighted call must refuse it too
        weighted = compute_bias_metrics(
            y_true=frame["y_true"].to_numpy()[keep],
            y_pred=frame["y_pred"].to_numpy()[keep],
            sensitive_features=features[keep].reset_index(drop=True),
            y_score=None if score is None else score[keep],
            frequency=weights[keep],
            **kwargs,
        ).to_dict()
    finally:
        metrics_module._MAX_AUC_HIST_BINS, metrics_module._MIN_AUC_HIST_BINS = original
    assert weighted == expanded
    assert judge(weighted, thresholds=THRESHOLDS, min_group_size=3, policy_version="t") == judge(
        expanded, thresholds=THRESHOLDS, min_group_size=3, policy_version="t"
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=20, max_value=400),
    with_score=st.booleans(),
    with_missing=st.booleans(),
)
def test_aggregated_file_equals_expanded_file(tmp_path_factory, seed, n, with_score, with_missing):
    """The whole path (read, validate, compute, judge) from a GROUP BY of the rows."""
    tmp_path = tmp_path_factory.mktemp("agg")
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "f0": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
            "f1": rng.choice(["F", "M"], n),
            "y_true": rng.integers(0, 2, n),
            "y_pred": rng.integers(0, 2, n),
        }
    )
    if with_score:
        rows["score"] = rng.integers(0, 20, n) / 19
    if with_missing:
        rows["f1"] = rows["f1"].where(rng.random(n) > 0.1)  # dropped rows, counted
    rows = rows.sample(frac=1, random_state=seed % 1000).reset_index(drop=True)
    expanded_path = write_csv(tmp_path, rows, "rows.csv")
    aggregated_path = write_csv(tmp_path, aggregate(rows), "cells.csv")
    score = "score" if with_score else None
    try:
        p_rows, r_rows, v_rows = check_from_file(expanded_path, score=score)
    except ValidationFailed:
        with pytest.raises(ValidationFailed):
            check_from_file(aggregated_path, score=score, frequency="frequency")
        return
    p_agg, r_agg, v_agg = check_from_file(aggregated_path, score=score, frequency="frequency")
    assert (p_agg.n_rows, p_agg.n_rows_dropped) == (p_rows.n_rows, p_rows.n_rows_dropped)
    assert p_agg.missing_by_column == p_rows.missing_by_column
    assert r_agg == r_rows
    assert v_agg == v_rows


def test_compas_from_its_aggregates_equals_compas(compas):
    rows = compas[["race", "sex", "two_year_recid", "predicted_high_risk"]]
    cells = aggregate(rows)
    assert len(cells) <= 6 * 2 * 4  # race x sex x (y_true, y_pred)
    kwargs = {"n_boot": 1000, "seed": 20260101, "min_group_size": 30}
    expanded = compute_bias_metrics(
        y_true=rows["two_year_recid"].to_numpy(),
        y_pred=rows["predicted_high_risk"].to_numpy(),
        sensitive_features=rows[["race", "sex"]],
        **kwargs,
    ).to_dict()
    weighted = compute_bias_metrics(
        y_true=cells["two_year_recid"].to_numpy(),
        y_pred=cells["predicted_high_risk"].to_numpy(),
        sensitive_features=cells[["race", "sex"]],
        frequency=cells["frequency"].to_numpy(),
        **kwargs,
    ).to_dict()
    assert weighted == expanded


def test_zero_counts_stand_for_no_rows_and_missing_rows_count_by_frequency(tmp_path):
    text = (
        "f0,f1,y_true,y_pred,frequency\n"
        "a,F,1,1,5\n"
        "a,F,0,1,3\n"
        "b,M,0,0,4\n"
        "b,M,1,0,0\n"  # no rows
        "b,,1,1,7\n"  # 7 rows with a missing f1: dropped and counted
        "c,M,9,9,0\n"  # no rows, so its odd labels do not matter
    )
    path = tmp_path / "cells.csv"
    path.write_text(text)
    prepared, result, _ = check_from_file(path, frequency="frequency", n_boot=0)
    assert prepared.n_rows == 12 and prepared.n_rows_dropped == 7
    assert prepared.missing_by_column["f1"] == 7
    assert result["n_rows"] == 12 and result["overall"]["count"] == 12
    assert [g["count"] for g in result["by_group"]] == [8, 4]


# ---------------------------------------------------------------------------------------------
# Bad aggregated input: a 422 that names the row
# ---------------------------------------------------------------------------------------------

HEADER = "f0,f1,y_true,y_pred,frequency\n"


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("a,F,1,1,5\nb,M,0,1,-2\n", "row 2", "negative"),
        ("a,F,1,1,2.5\nb,M,0,1,2\n", "row 1", "whole number"),
        ("a,F,1,1,3\nb,M,0,1,\n", "row 2", "missing"),
        ("a,F,1,1,3\nb,M,0,1,many\n", "row 2", "not a number"),
        ("a,F,1,1,3\nb,M,0,1,4\na,F,1,1,2\n", "row 3", "same cell"),
        ("a,F,1,1,3\nb,M,0,1,4\na,F,1.0,TRUE,2\n", "row 3", "same cell"),
    ],
    ids=["negative", "fractional", "missing", "text", "duplicate", "duplicate-canonical"],
)
def test_bad_frequency_or_duplicate_cells_name_the_row(tmp_path, body, key, words):
    path = tmp_path / "cells.csv"
    path.write_text(HEADER + body)
    with pytest.raises(ValidationFailed) as info:
        check_from_file(path, frequency="frequency", n_boot=0)
    errors = info.value.errors
    assert key in errors, errors
    assert words in str(errors[key])
    if words == "same cell":
        assert "row 1" in errors


def test_declared_total_must_match(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text(HEADER + "a,F,1,1,3\nb,M,0,1,4\n")
    frame = read_table(path, columns=["f0", "y_true", "y_pred", "frequency"], numeric=["frequency"])
    kwargs = {"y_true": "y_true", "y_pred": "y_pred", "sensitive_features": ["f0"]}
    assert prepare(frame, frequency="frequency", total_rows=7, **kwargs).n_rows == 7
    with pytest.raises(ValidationFailed) as info:
        prepare(frame, frequency="frequency", total_rows=8, **kwargs)
    assert "total_rows" in info.value.errors
    assert "add up to 7" in info.value.errors["total_rows"]


def test_parquet_aggregates_with_integer_counts(tmp_path, compas):
    cells = aggregate(compas[["race", "two_year_recid", "predicted_high_risk"]])
    path = tmp_path / "cells.parquet"
    cells.to_parquet(path)
    frame = read_table(
        path,
        columns=["race", "two_year_recid", "predicted_high_risk", "frequency"],
        numeric=["frequency"],
    )
    prepared = prepare(
        frame,
        y_true="two_year_recid",
        y_pred="predicted_high_risk",
        sensitive_features=["race"],
        frequency="frequency",
        total_rows=7214,
    )
    result = prepared.compute(n_boot=0).to_dict()
    groups = {g["group"]["race"]: g for g in result["by_group"]}
    assert groups["African-American"]["count"] == 3696
    assert round(groups["African-American"]["false_positive_rate"], 4) == 0.4485


# ---------------------------------------------------------------------------------------------
# Binned scores
# ---------------------------------------------------------------------------------------------


def test_binned_scores_equal_rows_scored_at_the_bin_and_say_so(tmp_path):
    rng = np.random.default_rng(4)
    n = 3000
    rows = pd.DataFrame(
        {
            "f0": rng.choice(["x", "y"], n),
            "f1": rng.choice(["F", "M"], n),
            "y_true": rng.integers(0, 2, n),
        }
    )
    raw = np.clip(0.3 * rows["y_true"] + 0.7 * rng.random(n), 0, 0.999)
    rows["y_pred"] = (raw > 0.5).astype(int)
    rows["low"] = np.floor(raw * 20) / 20
    rows["high"] = rows["low"] + 0.05  # float noise: 0.1 + 0.05 > 0.15, within the tolerance
    cells = aggregate(rows)
    _, binned, _ = check_from_file(
        write_csv(tmp_path, cells, "cells.csv"), frequency="frequency", bins=("low", "high")
    )
    _, scored, _ = check_from_file(write_csv(tmp_path, rows, "rows.csv"), score="low")
    assert binned["auc_binned"] is True and "auc_binned" not in scored
    for a, b in zip(binned["by_group"], scored["by_group"], strict=True):
        assert a["roc_auc"] == b["roc_auc"] and a["ci"]["roc_auc"] == b["ci"]["roc_auc"]
    assert binned["disparities"]["roc_auc"] == scored["disparities"]["roc_auc"]
    cal = binned["calibration"]
    assert cal["n_bins"] == 20 and "submitted" in cal["binning"]
    assert sum(b["count"] for b in cal["overall"]) == n
    assert all(b["mean_score"] is None for b in cal["overall"])


def test_overlapping_bins_are_refused_naming_both_rows(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text(
        "f0,f1,y_true,y_pred,low,high,frequency\n"
        "a,F,1,1,0.0,0.5,3\n"
        "b,M,0,1,0.5,1.0,4\n"
        "a,M,0,0,0.4,0.6,2\n"
    )
    with pytest.raises(ValidationFailed) as info:
        check_from_file(path, frequency="frequency", bins=("low", "high"), n_boot=0)
    errors = info.value.errors
    assert {"row 1", "row 3"} <= set(errors), errors
    assert "overlapping" in errors["row 3"]


# ---------------------------------------------------------------------------------------------
# Over the API
# ---------------------------------------------------------------------------------------------


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
    return factory.pilot(team, name="Pretrial risk score")


def post(client, pilot, headers, content: bytes, **fields):
    data = {
        "y_true": "two_year_recid",
        "y_pred": "predicted_high_risk",
        "sensitive_features": "race",
        **fields,
        "file": (io.BytesIO(content), "cells.csv"),
    }
    return client.post(f"/api/v1/pilots/{pilot.id}/bias-checks", data=data, headers=headers)


def test_api_check_from_aggregates_equals_check_from_rows(client, headers, pilot, compas_path):
    rows = pd.read_csv(compas_path)[["race", "sex", "two_year_recid", "predicted_high_risk"]]
    cells = aggregate(rows).to_csv(index=False).encode()
    provenance = {
        "client_version": "registry-bias 0.1.0",
        "engine": "duckdb 1.1",
        "query": "select race, sex, two_year_recid, predicted_high_risk, count(*) from t group by all",
        "source_sha256": "AB" * 32,
    }
    from_cells = post(
        client,
        pilot,
        headers,
        cells,
        frequency="frequency",
        total_rows="7214",
        sensitive_features="race,sex",
        **provenance,
    )
    assert from_cells.status_code == 201, from_cells.get_json()
    from_rows = post(
        client, pilot, headers, compas_path.read_bytes(), sensitive_features="race,sex"
    )
    a, b = from_cells.get_json(), from_rows.get_json()
    assert a["aggregated"] is True and b["aggregated"] is False
    import hashlib

    assert a["input_sha256"] == hashlib.sha256(cells).hexdigest()
    assert a["provenance"] == {**provenance, "source_sha256": "ab" * 32}
    assert b["provenance"] == {}
    assert a["n_rows"] == b["n_rows"] == 7214
    for key in (
        "overall",
        "by_group",
        "disparities",
        "summary",
        "verdict",
        "findings",
        "bootstrap",
    ):
        assert a[key] == b[key], key


@pytest.mark.parametrize(
    ("body", "fields", "key"),
    [
        (b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,-1\n", {}, "row 2"),
        (b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,1.5\n", {}, "row 2"),
        (b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,\n", {}, "row 2"),
        (b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,x\n", {}, "row 2"),
        (b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,2\nA,0,1,1\n", {}, "row 3"),
        (
            b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,2\n",
            {"total_rows": "6"},
            "total_rows",
        ),
        (
            b"race,two_year_recid,predicted_high_risk,n\nA,0,1,3\nB,1,0,2\n",
            {"total_rows": "lots"},
            "total_rows",
        ),
    ],
    ids=["negative", "fractional", "missing", "text", "duplicate", "total", "total-not-a-number"],
)
def test_api_bad_aggregates_get_422_and_store_nothing(
    client, app, headers, pilot, body, fields, key
):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = post(client, pilot, headers, body, frequency="n", **fields)
    assert response.status_code == 422, response.get_json()
    assert key in response.get_json()["errors"], response.get_json()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BiasCheck)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    root = Path(app.config["UPLOAD_FOLDER"]) / "bias"
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_limits_are_published(client, app, headers):
    from assessments.metrics import MAX_GROUPS

    app.config["BIAS_CHECK_MAX_CLASSES"] = 12
    body = client.get("/api/v1/bias-checks/limits", headers=headers).get_json()
    assert body == {
        "max_groups": MAX_GROUPS,
        "max_classes": 12,
        "max_upload_bytes": app.config["MAX_UPLOAD_BYTES"],
    }
    assert client.get("/api/v1/bias-checks/limits").status_code == 401


def test_check_page_shows_aggregated_input_and_provenance(client, headers, pilot, login, compas):
    cells = aggregate(compas[["race", "two_year_recid", "predicted_high_risk"]])
    response = post(
        client,
        pilot,
        headers,
        cells.to_csv(index=False).encode(),
        frequency="frequency",
        engine="postgresql 16",
        query="select race, count(*) from decisions group by race",
    )
    assert response.status_code == 201
    login(user=pilot.owner)
    page = client.get(f"/bias-checks/{response.get_json()['id']}").get_data(as_text=True)
    assert "Aggregated" in page and "<code>frequency</code>" in page
    assert "postgresql 16" in page and "group by race" in page
