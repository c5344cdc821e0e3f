"""End to end: the client aggregates with a real engine and submits to the real app over HTTP.

The app runs on a real HTTP server (werkzeug in a thread, as the browser tests run it) with a
migrated SQLite database and the shipped policy; the client authenticates with a real API
token. The checks from aggregates are compared with the same rows uploaded whole.
"""

from __future__ import annotations

import io
import shutil
import threading

import numpy as np
import pandas as pd
import pytest
import requests
from registry_bias import CheckSpec, RegistryClient, aggregate_pandas
from registry_bias.cli import main
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.client.data import records
from tests.conftest import BASE_CONFIG, upgrade


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def registry(database_template, tmp_path_factory):
    """The app served over HTTP, a team member's token, and a way to make pilots."""
    from policies.store import install_library
    from registry import create_app
    from registry.extensions import db
    from tests.factories import Factory

    root = tmp_path_factory.mktemp("client-e2e")
    path = root / "registry.sqlite3"
    if database_template["engine"] == "sqlite":
        shutil.copy(database_template["path"], path)
    else:
        upgrade(f"sqlite:///{path}", root)
    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "UPLOAD_FOLDER": str(root / "uploads"),
        }
    )
    with app.app_context():
        install_library()
        factory = Factory(app)
        owner = factory.user("team")
        token = factory.token(owner)
        owner_id = owner.id
        db.session.remove()
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()

    def new_pilot(name: str) -> int:
        from registry.auth.models import User

        with app.app_context():
            pilot = Factory(app).pilot(db.session.get(User, owner_id), name=name)
            pilot_id = pilot.id
            db.session.remove()
        return pilot_id

    try:
        yield {"url": f"http://127.0.0.1:{httpd.server_port}", "token": token, "pilot": new_pilot}
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def decisions(n: int, rates: dict[str, float], seed: int = 3) -> pd.DataFrame:
    """``n`` people per group; each group's predictions are positive at its rate.

    Truth is half positive in every group; predictions agree with the truth for 80% of people
    in a group whose rate is 0.5, so equal rates give equal error rates too.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for group, rate in rates.items():
        y_true = np.repeat([1, 0], [n // 2, n - n // 2])
        positives = int(round(rate * n))
        # Positive predictions go first to true positives (80% of them), then to the others.
        tp = min(int(round(0.8 * positives)), n // 2)
        y_pred = np.zeros(n, dtype=int)
        y_pred[:tp] = 1
        y_pred[n // 2 : n // 2 + positives - tp] = 1
        frames.append(
            pd.DataFrame(
                {
                    "race": group,
                    "sex": np.tile(["F", "M"], n // 2 + 1)[:n],
                    "y_true": y_true,
                    "y_pred": y_pred,
                    "score": np.round(np.clip(0.6 * y_pred + 0.4 * rng.random(n), 0, 1), 3),
                    "amount": np.round(rng.gamma(2, 100, n), 2),
                    "level": rng.choice(["low", "medium", "high"], n),
                    "approved": y_pred,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["estimate"] = np.round(frame["amount"] * (1 + 0.1 * (frame["race"] == "B")), 2)
    frame["level_pred"] = np.where(rng.random(len(frame)) < 0.7, frame["level"], "low")
    return frame


FAIR = {"A": 0.5, "B": 0.5}
UNFAIR = {"A": 0.6, "B": 0.2}
CHECK = ["-s", "race", "--y-true", "y_true", "--y-pred", "y_pred"]


def _cli(registry, pilot_id, *args):
    return main(
        [
            "submit",
            *args,
            "--pilot",
            str(pilot_id),
            "--url",
            registry["url"],
            "--token",
            registry["token"],
        ]
    )


def _checks(registry, pilot_id):
    return requests.get(
        f"{registry['url']}/api/v1/pilots/{pilot_id}/bias-checks",
        headers={"Authorization": f"Bearer {registry['token']}"},
        timeout=30,
    ).json()


def test_a_failing_model_fails_the_ci_gate_and_the_check_records_its_provenance(
    registry, tmp_path, capsys
):
    path = tmp_path / "decisions.parquet"
    decisions(2000, UNFAIR).to_parquet(path, index=False)
    pilot_id = registry["pilot"]("Unfair model")
    code = _cli(
        registry, pilot_id, "--file", str(path), *CHECK, "--output", str(tmp_path / "a.csv")
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "Verdict: fail" in out and "Submitted bias check" in out
    (check,) = _checks(registry, pilot_id)
    assert check["aggregated"] is True
    sent = (tmp_path / "a.csv").read_bytes()
    import hashlib

    assert check["input_sha256"] == hashlib.sha256(sent).hexdigest()
    provenance = check["provenance"]
    assert provenance["engine"].startswith("duckdb ")
    assert provenance["client_version"]
    assert provenance["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "GROUP BY" in provenance["query"]
    assert check["n_rows"] == 4000


def test_a_fair_model_passes_the_gate_from_postgresql(registry, pg_source, capsys):
    import sqlalchemy as sa

    engine, _ = pg_source
    schema = pg_source[1].split(".")[0]
    decisions(4000, FAIR).to_sql("fair", engine, schema=schema, index=False, if_exists="replace")
    pilot_id = registry["pilot"]("Fair model")
    url = engine.url.render_as_string(hide_password=False)
    code = _cli(registry, pilot_id, "--sql", f"select * from {schema}.fair", "--db", url, *CHECK)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Verdict: pass" in out
    (check,) = _checks(registry, pilot_id)
    assert check["provenance"]["engine"].startswith("postgresql ")
    assert f"from {schema}.fair" in check["provenance"]["query"]
    assert check["total_rows"] == check["n_rows"] == 8000
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {schema}.fair"))


def test_an_aggregate_gives_the_check_that_the_rows_give(registry):
    rows = decisions(600, {"A": 0.55, "B": 0.4, "C": 0.5})
    client = RegistryClient(registry["url"], registry["token"])
    spec = CheckSpec(["race", "sex"], y_true="y_true", y_pred="y_pred")
    aggregated, _ = client.submit(registry["pilot"]("Aggregated"), aggregate_pandas(spec, rows))
    aggregated = client.wait(aggregated)
    upload = io.BytesIO(rows.to_csv(index=False).encode())
    response = requests.post(
        f"{registry['url']}/api/v1/pilots/{registry['pilot']('Rows')}/bias-checks",
        headers={"Authorization": f"Bearer {registry['token']}"},
        data={"y_true": "y_true", "y_pred": "y_pred", "sensitive_features": "race,sex"},
        files={"file": ("rows.csv", upload, "text/csv")},
        timeout=120,
    )
    assert response.status_code in (201, 202), response.text
    raw = client.wait(response.json())
    for key in ("overall", "by_group", "disparities", "summary", "verdict", "findings", "n_rows"):
        assert aggregated[key] == raw[key], key


def test_binned_scores_are_checked_from_their_aggregate(registry, tmp_path, capsys):
    path = tmp_path / "decisions.csv"
    decisions(400, FAIR).to_csv(path, index=False)
    pilot_id = registry["pilot"]("Binned scores")
    code = _cli(
        registry, pilot_id, "--file", str(path), *CHECK, "--y-score", "score", "--score-bins", "10"
    )
    out = capsys.readouterr().out
    assert code in (0, 1), out
    (check,) = _checks(registry, pilot_id)
    assert check["status"] == "succeeded", check.get("error")
    assert check["aggregated"] is True and check["auc_binned"] is True
    assert "roc_auc" in check["overall"]


def test_spark_aggregates_on_its_side_and_submits(registry, spark):
    from registry_bias.spark import aggregate_spark

    rows = decisions(500, UNFAIR)
    frame = spark.createDataFrame(
        records(rows[["race", "sex", "y_true", "y_pred"]]),
        "race string, sex string, y_true long, y_pred long",
    )
    client = RegistryClient(registry["url"], registry["token"])
    aggregate = aggregate_spark(CheckSpec("race", y_true="y_true", y_pred="y_pred"), frame)
    check, _ = client.submit(registry["pilot"]("Spark model"), aggregate)
    check = client.wait(check)
    assert check["verdict"] == "fail" and check["provenance"]["engine"].startswith("spark ")


def test_more_groups_than_the_registry_allows_are_refused_before_anything_is_sent(
    registry, tmp_path, capsys
):
    limits = RegistryClient(registry["url"], registry["token"]).limits()
    frame = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(limits["max_groups"] + 5)],
            "y_true": 1,
            "y_pred": 1,
        }
    )
    path = tmp_path / "ids.parquet"
    frame.to_parquet(path, index=False)
    pilot_id = registry["pilot"]("Identifier as a feature")
    code = _cli(
        registry,
        pilot_id,
        "--file",
        str(path),
        "-s",
        "person_id",
        "--y-true",
        "y_true",
        "--y-pred",
        "y_pred",
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"more than {limits['max_groups']:,} groups" in err
    assert _checks(registry, pilot_id) == []


def test_a_refused_submission_exits_2_with_the_registrys_reasons(registry, tmp_path, capsys):
    path = tmp_path / "decisions.csv"
    decisions(50, FAIR).to_csv(path, index=False)
    code = _cli(registry, 987654, "--file", str(path), *CHECK)
    assert code == 2
    assert "404" in capsys.readouterr().err


def _rows_check(registry, rows, **fields):
    """The same rows uploaded whole, checked by the server."""
    response = requests.post(
        f"{registry['url']}/api/v1/pilots/{registry['pilot']('Rows')}/bias-checks",
        headers={"Authorization": f"Bearer {registry['token']}"},
        data=fields,
        files={"file": ("rows.csv", io.BytesIO(rows.to_csv(index=False).encode()), "text/csv")},
        timeout=120,
    )
    assert response.status_code in (201, 202), response.text
    return RegistryClient(registry["url"], registry["token"]).wait(response.json())


def test_a_multiclass_aggregate_gives_the_check_that_the_rows_give(registry):
    rows = decisions(600, {"A": 0.55, "B": 0.4, "C": 0.5})
    client = RegistryClient(registry["url"], registry["token"])
    spec = CheckSpec(
        ["race", "sex"], task="multiclass_classification", y_true="level", y_pred="level_pred"
    )
    aggregate = aggregate_pandas(spec, rows)
    check, _ = client.submit(registry["pilot"]("Multiclass aggregate"), aggregate)
    aggregated = client.wait(check)
    assert aggregated["status"] == "succeeded", aggregated.get("error")
    assert aggregated["aggregated"] is True and aggregated["task"] == "multiclass_classification"
    raw = _rows_check(
        registry,
        rows,
        task="multiclass_classification",
        y_true="level",
        y_pred="level_pred",
        sensitive_features="race,sex",
    )
    assert raw["aggregated"] is False
    assert aggregated["classes"] == raw["classes"] == ["high", "low", "medium"]
    # Counts per cell are all the check needs: every number, interval and verdict is the same.
    for key in ("overall", "by_group", "disparities", "summary", "verdict", "findings", "n_rows"):
        assert aggregated[key] == raw[key], key


def test_a_regression_aggregate_of_moments_gives_the_check_that_the_rows_give(registry):
    rows = decisions(500, {"A": 0.5, "B": 0.5, "C": 0.5})
    client = RegistryClient(registry["url"], registry["token"])
    spec = CheckSpec("race", task="regression", y_true="amount", y_pred="estimate")
    aggregate = aggregate_pandas(spec, rows)
    check, _ = client.submit(registry["pilot"]("Regression moments"), aggregate)
    aggregated = client.wait(check)
    assert aggregated["status"] == "succeeded", aggregated.get("error")
    assert aggregated["aggregated"] is True and aggregated["task"] == "regression"
    raw = _rows_check(
        registry,
        rows,
        task="regression",
        y_true="amount",
        y_pred="estimate",
        sensitive_features="race",
    )
    assert aggregated["n_rows"] == raw["n_rows"] == len(rows)
    assert aggregated["verdict"] == raw["verdict"] == "fail"  # B's estimates run 10% high
    assert [f["verdict"] for f in aggregated["findings"]] == [f["verdict"] for f in raw["findings"]]
    # The moments travel as sums written with twelve significant digits: equal to 1e-9.
    metrics = ("mean_prediction", "mean_error", "mean_absolute_error", "root_mean_squared_error")
    for a, b in zip(aggregated["by_group"], raw["by_group"], strict=True):
        assert a["group"] == b["group"] and a["count"] == b["count"]
        for m in metrics:
            assert a[m] == pytest.approx(b[m], rel=1e-9), m
            assert a["ci"][m] == pytest.approx(b["ci"][m], rel=1e-9), m
    for m in metrics:
        for part in ("difference", "ratio"):
            assert aggregated["disparities"][m][part] == pytest.approx(
                raw["disparities"][m][part], rel=1e-9
            ), (m, part)
