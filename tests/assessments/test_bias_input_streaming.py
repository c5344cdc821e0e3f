"""Reading an upload in many small blocks or row batches gives the same table as reading it
whole: codes stay consistent across batches, storage grows and widens as needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assessments import bias_input
from assessments.bias_input import prepare, read_table
from assessments.metrics import encode_groups
from registry.errors import ValidationFailed


@pytest.fixture
def tiny_batches(monkeypatch):
    """Blocks of 512 bytes (a few dozen rows) and Parquet batches of 64 rows."""
    monkeypatch.setattr(bias_input, "_CSV_BLOCK_BYTES", (512, 512))
    monkeypatch.setattr(bias_input, "_PARQUET_ROWS", 64)


def _mixed_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["A", "B", " C ", "D", "NA", ""], n).astype(object)
    race[: n // 3] = "A"  # later blocks see new values in a different order
    return pd.DataFrame(
        {
            "race": race,
            "zip": [f"z{v:03d}" for v in rng.integers(0, 300, n)],  # > 127 values: int16
            "y_true": rng.choice(["1", "0"], n),
            "y_pred": rng.choice(["yes", "no", "N/A"], n),
            "score": np.round(rng.random(n), 3),
        }
    )


def _expected_text(values: pd.Series) -> list:
    stripped = values.astype(str).str.strip()
    return [None if v in bias_input.NULL_MARKERS else v for v in stripped]


def _as_list(col: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in col.astype(object)]


def test_csv_in_many_blocks_matches_the_rows(tmp_path, tiny_batches):
    df = _mixed_frame(3000)
    path = tmp_path / "many.csv"
    df.to_csv(path, index=False)
    frame = read_table(
        path, columns=["race", "zip", "y_true", "y_pred", "score"], numeric=["score"]
    )
    assert len(frame) == 3000
    for col in ("race", "zip", "y_true", "y_pred"):
        assert isinstance(frame[col].dtype, pd.CategoricalDtype)
        assert _as_list(frame[col]) == _expected_text(df[col]), col
    assert frame["zip"].array.codes.dtype == np.int16
    assert np.array_equal(frame["score"].to_numpy(), df["score"].to_numpy())


def test_csv_storage_grows_when_the_row_estimate_is_low(tmp_path, tiny_batches, monkeypatch):
    monkeypatch.setattr(bias_input, "_csv_capacity", lambda size, sniffed: 1)
    df = _mixed_frame(2000, seed=1)
    path = tmp_path / "grow.csv"
    df.to_csv(path, index=False)
    frame = read_table(path, columns=["zip", "race", "score"], numeric=["score"])
    assert _as_list(frame["zip"]) == _expected_text(df["zip"])
    assert _as_list(frame["race"]) == _expected_text(df["race"])
    assert np.array_equal(frame["score"].to_numpy(), df["score"].to_numpy())


def test_large_dictionaries_are_mapped_across_batches(tmp_path, tiny_batches, monkeypatch):
    monkeypatch.setattr(bias_input._TextBuilder, "_SMALL", 4)  # every dictionary is "large"
    df = _mixed_frame(2500, seed=2)
    path = tmp_path / "large.csv"
    df.to_csv(path, index=False)
    frame = read_table(path, columns=["zip", "race", "y_pred"])
    for col in ("zip", "race", "y_pred"):
        assert _as_list(frame[col]) == _expected_text(df[col]), col


def test_problems_in_a_later_block_name_the_right_row_and_line(tmp_path, tiny_batches):
    rows = [f"A,{i % 2},1" for i in range(500)]
    formula = rows.copy()
    formula[400] = "=SUM(1),1,1"
    path = tmp_path / "formula.csv"
    path.write_text("race,y_true,y_pred\n" + "\n".join(formula) + "\n")
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=["race", "y_true", "y_pred"])
    assert list(exc.value.errors) == ["row 401"]
    ragged = rows.copy()
    ragged[450] = "A,1,1,1"
    path.write_text("race,y_true,y_pred\n" + "\n".join(ragged) + "\n")
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=["race", "y_true", "y_pred"])
    assert list(exc.value.errors) == ["line 452"]


def test_parquet_in_many_batches(tmp_path, tiny_batches):
    n = 1000
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, n)
    band = rng.integers(1, 4, n).astype(float)
    band[700] = np.nan  # a null only in a later batch: the column becomes float64
    table = pa.table(
        {
            "race": pa.array(rng.choice(["A", "B", " C"], n)),
            "sex": pa.array(rng.choice(["F", "M"], n)).dictionary_encode(),
            "y_true": pa.array(labels, pa.int64()),  # stored in one byte a row
            "y_pred": pa.array(labels == 1),
            "band": pa.array(band, pa.int32(), from_pandas=True),
            "big": pa.array(np.where(np.arange(n) < 900, 1, 2**40), pa.int64()),
            "score": pa.array(rng.random(n), pa.float32()),
        }
    )
    path = tmp_path / "batches.parquet"
    pq.write_table(table, path, row_group_size=250)
    columns = ["race", "sex", "y_true", "y_pred", "band", "big", "score"]
    frame = read_table(path, columns=columns, numeric=["score"])
    assert frame["race"].astype(str).tolist() == [v.strip() for v in table["race"].to_pylist()]
    assert frame["sex"].astype(str).tolist() == table["sex"].to_pylist()
    assert frame["y_true"].dtype == np.int8 and frame["y_true"].tolist() == labels.tolist()
    assert frame["y_pred"].dtype == np.bool_
    assert frame["band"].dtype == np.float64
    assert np.array_equal(frame["band"].to_numpy(), band, equal_nan=True)
    assert frame["big"].dtype == np.int64 and frame["big"].tolist() == table["big"].to_pylist()
    assert frame["score"].dtype == np.float64
    assert np.array_equal(frame["score"].to_numpy(), table["score"].to_numpy().astype(np.float64))
    prepared = prepare(frame, y_true="y_true", y_pred="y_pred", sensitive_features=["race", "band"])
    assert prepared.n_rows_dropped == 1
    assert prepared.y_true.tolist() == np.delete(labels, 700).tolist()


def test_unsigned_values_above_the_int64_range_keep_uint64(tmp_path, tiny_batches):
    values = [0] * 100 + [2**63 + 5] * 50
    path = tmp_path / "u64.parquet"
    pq.write_table(pa.table({"id": pa.array(values, pa.uint64())}), path)
    frame = read_table(path, columns=["id"])
    assert frame["id"].dtype == np.uint64 and frame["id"].tolist() == values


def test_score_out_of_range_counts_rows_from_the_file_after_dropping():
    frame = pd.DataFrame(
        {
            "race": ["A", None, "B", "A", "B"],
            "y": [1, 0, 1, 0, 1],
            "p": [1, 1, 0, 0, 1],
            "s": [0.1, 0.2, 0.3, 1.5, 0.4],
        }
    )
    with pytest.raises(ValidationFailed) as exc:
        prepare(frame, y_true="y", y_pred="p", sensitive_features=["race"], y_score="s")
    assert "first outside the range: row 4, 1.5" in exc.value.errors["s"]


def test_group_codes_are_computed_when_asked_for():
    frame = pd.DataFrame(
        {"race": ["B", "A", "B", "A"], "sex": ["F", "F", "M", "M"], "y": [1, 0, 1, 0]}
    )
    frame["p"] = [0, 1, 1, 0]
    prepared = prepare(frame, y_true="y", y_pred="p", sensitive_features=["race", "sex"])
    codes, groups = encode_groups(prepared.features)
    assert prepared.groups == groups
    assert prepared.group_codes.tolist() == codes.tolist() == [2, 0, 3, 1]


def test_header_only_csv_has_no_data_rows(tmp_path: Path, tiny_batches):
    path = tmp_path / "header.csv"
    path.write_text("race,y_true,y_pred\n")
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=["race", "y_true", "y_pred"])
    assert "no data rows" in exc.value.errors["file"]
