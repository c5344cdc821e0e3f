"""Bias checks over the API and the pages: upload, validation, results, verdicts and jobs."""

import io
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assessments.models import BiasCheck
from registry.audit.models import AuditEvent
from registry.extensions import db

COMPAS = Path(__file__).resolve().parents[1] / "data" / "compas_two_year.csv"


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


def post_check(client, pilot, headers, content, name="outputs.csv", **fields):
    data = {
        "y_true": "two_year_recid",
        "y_pred": "predicted_high_risk",
        "sensitive_features": "race",
    }
    data.update(fields)
    data["file"] = (io.BytesIO(content), name)
    return client.post(f"/api/v1/pilots/{pilot.id}/bias-checks", data=data, headers=headers)


def test_compas_reproduces_propublica_and_fails_fpr_parity(client, headers, pilot):
    response = post_check(client, pilot, headers, COMPAS.read_bytes(), "compas.csv")
    assert response.status_code == 201, response.get_json()
    check = response.get_json()
    assert check["status"] == "succeeded" and check["n_rows"] == 7214
    groups = {g["group"]["race"]: g for g in check["by_group"]}
    black, white = groups["African-American"], groups["Caucasian"]
    assert (black["count"], white["count"]) == (3696, 2454)
    assert round(black["false_positive_rate"], 4) == 0.4485
    assert round(white["false_positive_rate"], 4) == 0.2345
    assert round(black["false_negative_rate"], 4) == 0.2799
    assert round(white["false_negative_rate"], 4) == 0.4772
    fpr = next(f for f in check["findings"] if f["metric"] == "false_positive_rate")
    assert fpr["verdict"] == "fail" and "1.25" in fpr["text"]
    assert check["verdict"] == "fail" and check["policy_version"]
    for key in ("overall", "disparities", "summary"):
        assert check[key]
    assert "ci" in black and len(black["ci"]["false_positive_rate"]) == 2
    listed = client.get(f"/api/v1/pilots/{pilot.id}/bias-checks", headers=headers).get_json()
    assert [c["id"] for c in listed] == [check["id"]]
    compliance = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()
    # Without a tier only the impact assessment is listed; the check is still on record.
    assert compliance["policy_version"] == check["policy_version"]


def test_intersectional_groups(client, headers, pilot):
    response = post_check(
        client, pilot, headers, COMPAS.read_bytes(), sensitive_features="race,sex"
    )
    check = response.get_json()
    assert response.status_code == 201 and check["sensitive_features"] == ["race", "sex"]
    assert all(set(g["group"]) == {"race", "sex"} for g in check["by_group"])
    assert any(g["small_group"] for g in check["by_group"])


@pytest.mark.parametrize(
    ("content", "fields", "key"),
    [
        (b"", {}, "file"),
        (b"\x00\x01\x02\xff\xfe" * 100, {}, "file"),
        (b"PK\x03\x04" + b"\x00" * 200, {}, "file"),
        (
            b"race,two_year_recid,predicted_high_risk\nA,0,1\nB,1,0\n",
            {"y_true": "missing_col"},
            "missing_col",
        ),
        (b"race,two_year_recid,predicted_high_risk\nA,0,1\nB,2,0\nA,1,1\n", {}, "two_year_recid"),
        (b"race,two_year_recid,predicted_high_risk\nA,0,1\nA,1,0\n", {}, "race"),
        (b"race,two_year_recid,predicted_high_risk\nA,0,1\nB,1\n", {}, "line 3"),
        (b"race,two_year_recid,predicted_high_risk\n=cmd|'/c calc'!A1,0,1\nB,1,0\n", {}, "row 1"),
        (
            b"race,two_year_recid,predicted_high_risk\nA,0,1\nB,1,0\n",
            {"sensitive_features": ""},
            "sensitive_features",
        ),
    ],
    ids=[
        "empty",
        "binary garbage",
        "zip renamed csv",
        "missing column",
        "non-binary label",
        "single group",
        "ragged line",
        "formula cell",
        "no sensitive feature",
    ],
)
def test_bad_uploads_get_422_naming_the_problem_and_leave_nothing(
    client, app, headers, pilot, content, fields, key
):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = post_check(client, pilot, headers, content, **fields)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert any(key in k or key in str(v) for k, v in errors.items()), errors
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BiasCheck)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    root = Path(app.config["UPLOAD_FOLDER"]) / "bias"
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_over_the_limit_is_413(client, app, headers, pilot):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    response = post_check(client, pilot, headers, COMPAS.read_bytes())
    assert response.status_code == 413 and response.is_json


def test_large_checks_are_queued_and_finish_in_the_background(client, app, headers, pilot):
    app.config["BIAS_CHECK_INLINE_ROWS"] = 10
    response = post_check(client, pilot, headers, COMPAS.read_bytes())
    assert response.status_code == 202
    location = response.headers["Location"]
    for _ in range(100):
        state = client.get(location, headers=headers).get_json()
        if state["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert state["status"] == "succeeded", state
    assert state["started_at"] and state["finished_at"] and state["duration_ms"] is not None


def test_stalled_checks_are_reaped_and_can_be_rerun(client, app, headers, pilot, runner):
    from datetime import UTC, datetime, timedelta

    check = post_check(client, pilot, headers, COMPAS.read_bytes()).get_json()
    row = db.session.get(BiasCheck, check["id"])
    row.status = "running"
    row.heartbeat_at = datetime.now(UTC) - timedelta(hours=2)
    db.session.commit()
    result = runner.invoke(args=["bias-checks", "reap"])
    assert "1 stalled" in result.output
    state = client.get(f"/api/v1/bias-checks/{check['id']}", headers=headers).get_json()
    assert state["status"] == "failed" and "heartbeat" in state["error"]
    rerun = client.post(f"/api/v1/bias-checks/{check['id']}/rerun", headers=headers)
    assert rerun.status_code == 202
    for _ in range(100):
        state = client.get(f"/api/v1/bias-checks/{check['id']}", headers=headers).get_json()
        if state["status"] == "succeeded":
            break
        time.sleep(0.1)
    assert state["status"] == "succeeded" and state["attempts"] == 2
    # A succeeded check can be re-run too: a new check of the same upload, the old result kept.
    again = client.post(f"/api/v1/bias-checks/{check['id']}/rerun", headers=headers)
    assert again.status_code == 202
    assert again.get_json()["id"] != check["id"] and again.get_json()["sha256"] == check["sha256"]
    assert db.session.get(BiasCheck, check["id"]).status == "succeeded"


def test_pages_show_results_and_the_upload_form(client, factory, login, pilot):
    login(user=pilot.owner)
    form = client.get(f"/pilots/{pilot.id}/bias-checks/new").get_data(as_text=True)
    assert 'name="y_true"' in form and 'type="file"' in form
    response = client.post(
        f"/pilots/{pilot.id}/bias-checks/new",
        data={
            "y_true": "two_year_recid",
            "y_pred": "predicted_high_risk",
            "sensitive_features": ["race", "sex"],
            "file": (io.BytesIO(COMPAS.read_bytes()), "compas.csv"),
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "African-American" in page and "<svg" in page and "Findings" in page
    bad = client.post(f"/pilots/{pilot.id}/bias-checks/new", data={"y_true": "", "y_pred": ""})
    assert bad.status_code == 422 and "y_true-error" in bad.get_data(as_text=True)
    detail = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Bias checks" in detail
