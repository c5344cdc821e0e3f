"""Uploads within a budget: row caps and decoded sizes known before any data is read, and the
reading and metrics in a child process under hard limits that a hostile file cannot pass."""

from __future__ import annotations

import io
import resource
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from registry.extensions import db


@pytest.fixture
def owner(factory):
    team = factory.user("team")
    return {"user": team, "pilot": factory.pilot(team), "headers": factory.headers(team)}


def _post(client, owner, content: bytes, name: str, **fields):
    return client.post(
        f"/api/v1/pilots/{owner['pilot'].id}/bias-checks",
        data={
            "y_true": "y",
            "y_pred": "p",
            "sensitive_features": "g",
            **fields,
            "file": (io.BytesIO(content), name),
        },
        headers=owner["headers"],
    )


def _checks() -> int:
    from assessments.models import BiasCheck

    return db.session.scalar(select(func.count()).select_from(BiasCheck))


def _parquet(table: pa.Table, **kwargs) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **kwargs)
    return buffer.getvalue()


def constant_parquet_bomb(rows: int, chunk: int = 1_000_000) -> bytes:
    """`rows` rows of constant columns: run-length encoding makes the file tiny."""
    part = pa.table(
        {
            "g": pa.array(["a"] * 2, pa.string()).take(pa.array([0] * chunk)),
            "y": pa.array([1] * chunk, pa.int8()),
            "p": pa.array([1] * chunk, pa.int8()),
        }
    )
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, part.schema, compression="zstd") as writer:
        for _ in range(rows // chunk):
            writer.write_table(part, row_group_size=chunk)
    return buffer.getvalue()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SMALL = pa.table(
    {
        "g": pa.array(["a", "b"] * 500),
        "y": pa.array([0, 1, 1, 0] * 250, pa.int8()),
        "p": pa.array([0, 1, 0, 1] * 250, pa.int8()),
    }
)


# ---- row cap and memory budget, from the footer ----------------------------------------------


def test_the_defaults_suit_a_two_core_server(app):
    assert app.config["BIAS_CHECK_MAX_ROWS"] == 5_000_000
    assert app.config["BIAS_CHECK_MEMORY_BUDGET_BYTES"] == 1024**3
    assert app.config["BIAS_CHECK_WORKER_MEMORY_BYTES"] == 3 * 1024**3


def test_a_parquet_bomb_is_refused_from_its_footer(app, client, owner):
    """2·10^7 constant rows in a file of a few hundred KB: refused before any data is read."""
    bomb = constant_parquet_bomb(20_000_000)
    assert len(bomb) < 2_000_000
    before = _peak_rss_mib()
    started = time.perf_counter()
    response = _post(client, owner, bomb, "bomb.parquet")
    elapsed = time.perf_counter() - started
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["errors"]["file"][0]
    assert "bomb.parquet" in message and "20,000,000 rows" in message and "5,000,000" in message
    assert _peak_rss_mib() - before < 50  # nothing was decoded in this process
    assert elapsed < 10  # generous for a loaded machine; benchmarks/ has the figure
    assert _checks() == 0


def test_a_file_over_the_memory_budget_is_refused_naming_the_figures(app, client, owner):
    app.config["BIAS_CHECK_MEMORY_BUDGET_BYTES"] = 4096
    response = _post(client, owner, _parquet(SMALL), "outputs.parquet")
    assert response.status_code == 422
    message = response.get_json()["errors"]["file"][0]
    assert "outputs.parquet" in message and "1,000 rows" in message and "4.0 KiB" in message
    assert "BIAS_CHECK_MEMORY_BUDGET_BYTES" in message
    app.config["BIAS_CHECK_MEMORY_BUDGET_BYTES"] = 1024**2
    assert _post(client, owner, _parquet(SMALL), "outputs.parquet").status_code == 201


def test_long_text_counts_against_the_budget_by_its_statistics(tmp_path):
    from assessments.upload_budget import estimate

    path = tmp_path / "t.parquet"
    table = pa.table({"g": ["x" * 1000, "y" * 1000], "y": [0, 1], "p": [1, 0]})
    path.write_bytes(_parquet(table))
    found = estimate(path, "parquet", columns=["g", "y", "p"])
    assert found.rows == 2 and found.decoded_bytes == 2 * ((4 + 1000) + 8 + 8)


def test_the_row_cap_is_configurable_and_applies_to_csv(app, client, owner):
    app.config["BIAS_CHECK_MAX_ROWS"] = 100
    csv = b"g,y,p\n" + b"a,1,0\nb,0,1\n" * 60
    response = _post(client, owner, csv, "outputs.csv")
    assert response.status_code == 422
    message = response.get_json()["errors"]["file"][0]
    assert "outputs.csv has more than 100 rows" in message
    assert _post(client, owner, b"g,y,p\n" + b"a,1,0\nb,0,1\n" * 50, "o.csv").status_code == 201


def test_csv_rows_are_counted_without_a_trailing_newline(tmp_path):
    from assessments.upload_budget import count_csv_rows

    path = tmp_path / "a.csv"
    path.write_bytes(b"g,y\na,1\nb,0")
    assert count_csv_rows(path) == 2
    path.write_bytes(b"g,y\na,1\nb,0\n")
    assert count_csv_rows(path) == 2


# ---- a hard limit around the work ------------------------------------------------------------


def test_a_check_over_the_worker_memory_limit_is_422_and_the_server_goes_on(app, client, owner):
    app.config["BIAS_CHECK_WORKER_MEMORY_BYTES"] = 64 * 1024**2  # below what reading needs
    response = _post(client, owner, _parquet(SMALL), "outputs.parquet")
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["errors"]["file"][0]
    assert "outputs.parquet could not be checked" in message and "64.0 MiB" in message
    assert _checks() == 0
    app.config["BIAS_CHECK_WORKER_MEMORY_BYTES"] = 3 * 1024**3
    response = _post(client, owner, _parquet(SMALL), "outputs.parquet")
    assert response.status_code == 201 and response.get_json()["status"] == "succeeded"


def test_a_queued_check_over_the_limit_fails_with_the_reason(app, client, owner):
    from assessments import bias_checks
    from assessments.models import BiasCheck

    response = _post(client, owner, _parquet(SMALL), "outputs.parquet")
    check = db.session.get(BiasCheck, response.get_json()["id"])
    check.status = "queued"
    db.session.commit()
    app.config["BIAS_CHECK_WORKER_MEMORY_BYTES"] = 64 * 1024**2
    bias_checks.run(check.id)
    db.session.expire_all()
    check = db.session.get(BiasCheck, check.id)
    assert check.status == "failed" and "64.0 MiB" in check.error


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _raise_validation() -> None:
    from registry.errors import ValidationFailed

    raise ValidationFailed("bad", {"line 3": ["is bad"]})


def _crash() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


def test_the_sandbox_holds_memory_and_carries_errors_and_deaths():
    from assessments.sandbox import Limits, ResourceLimitExceeded, run_limited
    from registry.errors import ValidationFailed

    limits = Limits(memory_bytes=1024**3, cpu_seconds=60, wall_seconds=60)
    before = _peak_rss_mib()
    assert run_limited(_allocate, 10 * 1024**2, limits=limits) == 10 * 1024**2
    with pytest.raises(ResourceLimitExceeded, match="more memory than the limit of 1.0 GiB"):
        run_limited(_allocate, 2 * 1024**3, limits=limits)
    assert _peak_rss_mib() - before < 50
    with pytest.raises(ValidationFailed) as raised:
        run_limited(_raise_validation, limits=limits)
    assert raised.value.errors == {"line 3": ["is bad"]}
    with pytest.raises(ResourceLimitExceeded, match="SIGSEGV"):
        run_limited(_crash, limits=limits)
    with pytest.raises(ResourceLimitExceeded, match="longer than the limit of 1 s"):
        run_limited(time.sleep, 30, limits=Limits(1024**3, 60, 1))
    beats = []
    run_limited(time.sleep, 1, limits=limits, heartbeat=lambda: beats.append(1),
                heartbeat_seconds=0.2)
    assert len(beats) >= 2  # the parent beats while the child works


# ---- CSV errors name the line ----------------------------------------------------------------


def test_a_huge_cell_then_a_malformed_row_is_422_naming_a_line(client, owner):
    from tests.hardening.conftest import multipart

    big = b"g,y,p\n" + b"a,1,0\n" * 300_000 + b"a,1," + b"x" * 140_000 + b"\n" + b"b,0\n"
    fields = {"y_true": "y", "y_pred": "p", "sensitive_features": "g"}
    body, content_type = multipart(fields, "outputs.csv", big)
    response = client.post(
        f"/api/v1/pilots/{owner['pilot'].id}/bias-checks",
        data=body,
        content_type=content_type,
        headers=owner["headers"],
    )
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert any(key.startswith("line ") for key in errors), errors


def test_a_non_number_in_the_score_column_is_422_naming_the_row(client, owner):
    csv = b"g,y,p,s\n" + b"a,1,0,0.5\nb,0,1,0.25\n" * 20 + b"a,1,1,high\n"
    response = _post(client, owner, csv, "outputs.csv", y_score="s")
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert "row 41" in errors and "s" in errors


def test_a_cell_over_the_csv_modules_limit_is_422_naming_its_line(tmp_path, monkeypatch):
    """A cell that fits the reader's block but not Python's csv field limit (128 KiB), then a
    malformed row: explaining the malformed row must not fail on the long cell."""
    from assessments import bias_input
    from registry.errors import ValidationFailed

    monkeypatch.setattr(bias_input, "_CSV_BLOCK_BYTES", (1 << 20, 1 << 20))
    path = tmp_path / "a.csv"
    path.write_bytes(b"g,y,p\na,1,0\na,1," + b"x" * 140_000 + b"\nb,0\n")
    with pytest.raises(ValidationFailed) as raised:
        bias_input.read_table(path, columns=["g", "y", "p"])
    assert list(raised.value.errors) == ["line 3"], raised.value.errors
