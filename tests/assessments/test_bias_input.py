"""Reading and validating uploaded bias-check files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assessments.bias_input import header_columns, prepare, read_table
from registry.errors import PayloadTooLarge, ValidationFailed

COLUMNS = ["race", "y_true", "y_pred"]


def write(tmp_path: Path, content: bytes | str, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def errors_of(exc_info: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    assert exc_info.value.code == 422
    return exc_info.value.errors


GOOD_ROWS = [("A", 1, 0), ("B", 0, 1), (" A ", 1, 1), ("B", 0, 0)]


def csv_text(delimiter: str = ",", rows=GOOD_ROWS, header=("race", "y_true", "y_pred")) -> str:
    lines = [delimiter.join(header)] + [delimiter.join(map(str, r)) for r in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Formats that are accepted
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
def test_reads_csv_with_any_delimiter_and_bom(tmp_path, delimiter, bom):
    text = csv_text(delimiter)
    path = write(tmp_path, ("\ufeff" if bom else "") + text)
    assert header_columns(path) == COLUMNS
    frame = read_table(path, columns=["y_pred", "race"])
    assert list(frame.columns) == ["y_pred", "race"]
    assert list(frame["race"]) == ["A", "B", "A", "B"]  # spaces stripped, one category
    assert list(frame["race"].cat.categories) == ["A", "B"]


def test_reads_only_requested_columns_and_crlf(tmp_path):
    text = "id,race,y_true,y_pred,notes\r\n1,A,1,0,x\r\n2,B,0,1,\r\n"
    frame = read_table(write(tmp_path, text), columns=["race", "y_true"])
    assert list(frame.columns) == ["race", "y_true"]
    assert len(frame) == 2


def test_numeric_columns_and_missing_values(tmp_path):
    text = "race,score,y\nA,0.5,1\nNA,,0\nB,0.25,\n"
    frame = read_table(write(tmp_path, text), columns=["race", "score", "y"], numeric=["score"])
    assert frame["score"].dtype == np.float64
    assert frame["score"].isna().tolist() == [False, True, False]
    assert frame["race"].isna().tolist() == [False, True, False]
    assert frame["y"].isna().tolist() == [False, False, True]


def test_reads_parquet_sniffed_by_content(tmp_path):
    table = pa.table(
        {
            "race": pa.array(["A", "B", "A", None]),
            "sex": pa.array(["F", "M", "F", "M"]).dictionary_encode(),
            "y_true": pa.array([1, 0, 1, 0], pa.int8()),
            "y_pred": pa.array([True, False, False, True]),
            "score": pa.array([0.1, 0.9, 0.5, 0.2], pa.float32()),
            "other": pa.array([1, 2, 3, 4]),
        }
    )
    path = tmp_path / "data.csv"  # the name says CSV; the content is Parquet
    pq.write_table(table, path)
    assert header_columns(path) == ["race", "sex", "y_true", "y_pred", "score", "other"]
    frame = read_table(
        path, columns=["race", "sex", "y_true", "y_pred", "score"], numeric=["score"]
    )
    assert list(frame.columns) == ["race", "sex", "y_true", "y_pred", "score"]
    assert frame["race"].isna().tolist() == [False, False, False, True]
    assert list(frame["sex"]) == ["F", "M", "F", "M"]
    assert frame["score"].dtype == np.float64
    prepared = prepare(
        frame, y_true="y_true", y_pred="y_pred", sensitive_features=["race", "sex"], y_score="score"
    )
    assert prepared.n_rows == 3 and prepared.n_rows_dropped == 1
    assert prepared.y_pred.tolist() == [1, 0, 0]


def test_large_csv_round_trip_matches_pandas(tmp_path):
    rng = np.random.default_rng(0)
    n = 50_000
    df = pd.DataFrame(
        {
            "race": rng.choice(["A", "B", "C"], n),
            "y_true": rng.integers(0, 2, n),
            "y_pred": rng.integers(0, 2, n),
        }
    )
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    frame = read_table(path, columns=COLUMNS)
    assert frame["race"].astype(str).tolist() == df["race"].tolist()
    prepared = prepare(frame, y_true="y_true", y_pred="y_pred", sensitive_features=["race"])
    assert prepared.y_true.tolist() == df["y_true"].tolist()


# ---------------------------------------------------------------------------------------------
# Files that are rejected
# ---------------------------------------------------------------------------------------------


def test_rejects_excel_renamed_csv(tmp_path):
    path = tmp_path / "sheet.csv"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=COLUMNS)
    assert "Excel" in errors_of(exc)["file"]


def test_rejects_old_excel(tmp_path):
    path = write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(ValidationFailed) as exc:
        header_columns(path)
    assert "Excel" in errors_of(exc)["file"]


def test_rejects_binary_garbage(tmp_path):
    rng = np.random.default_rng(0)
    path = write(tmp_path, b"\x13\x37" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=COLUMNS)
    assert "file" in errors_of(exc)


def test_rejects_truncated_parquet(tmp_path):
    path = write(tmp_path, b"PAR1" + b"garbage" * 10)
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=COLUMNS)
    assert "Parquet" in errors_of(exc)["file"]


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (csv_text().encode("utf-8").replace(b"B,0,1", "Bé,0,1".encode("latin-1")), "line 3"),
        ("\ufeffrace,y_true,y_pred\n".encode("utf-16"), "file"),
    ],
)
def test_rejects_wrong_encoding(tmp_path, content, key):
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, content), columns=COLUMNS)
    errors = errors_of(exc)
    assert key in errors
    assert "UTF" in errors[key]


def test_rejects_wrong_encoding_beyond_the_sniffed_head(tmp_path):
    body = "".join(f"A,{i % 2},1\n" for i in range(20_000))
    content = ("race,y_true,y_pred\n" + body).encode() + "Bé,0,1\n".encode("latin-1")
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, content), columns=COLUMNS)
    assert "line 20002" in errors_of(exc)


def test_rejects_ragged_csv_naming_the_line(tmp_path):
    text = "race;y_true;y_pred\nA;1;0\nB;0;1;7\nA;1;1\n"
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, text), columns=COLUMNS)
    errors = errors_of(exc)
    assert list(errors) == ["line 3"]
    assert "4 fields" in errors["line 3"] and "3" in errors["line 3"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_rejects_empty_file(tmp_path, content):
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, content), columns=COLUMNS)
    assert "empty" in errors_of(exc)["file"]


def test_rejects_header_only(tmp_path):
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, "race,y_true,y_pred\n"), columns=COLUMNS)
    assert "no data rows" in errors_of(exc)["file"]


@pytest.mark.parametrize(
    ("cell", "row"),
    [('=HYPERLINK("x")', 2), ("+1+2", 2), ("-2+3", 2), ("@SUM(A1)", 2), (" =cmd", 2)],
)
def test_rejects_formula_cells_naming_the_row(tmp_path, cell, row):
    rows = [("A", 1, 0), (cell, 0, 1), ("B", "=1+1", 1)]
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, csv_text(rows=rows)), columns=COLUMNS)
    errors = errors_of(exc)
    assert list(errors) == [f"row {row}"]
    assert "formula" in errors[f"row {row}"] and "race" in errors[f"row {row}"]


def test_formula_in_label_column_and_negative_numbers_allowed(tmp_path):
    rows = [("A", "-1", "1"), ("B", "1", "-1"), ("C", "@x", "1")]
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, csv_text(rows=rows)), columns=COLUMNS)
    assert "row 3" in errors_of(exc)
    ok = read_table(write(tmp_path, csv_text(rows=rows[:2]), "ok.csv"), columns=COLUMNS)
    assert list(ok["y_true"]) == ["-1", "1"]


def test_rejects_missing_columns_listing_available(tmp_path):
    path = write(tmp_path, csv_text())
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=["race", "outcome"])
    errors = errors_of(exc)
    assert list(errors) == ["outcome"]
    assert "race, y_true, y_pred" in errors["outcome"]


def test_rejects_text_in_numeric_column(tmp_path):
    text = "race,score\nA,0.5\nB,high\n"
    with pytest.raises(ValidationFailed) as exc:
        read_table(write(tmp_path, text), columns=["race", "score"], numeric=["score"])
    assert "Row 2" in errors_of(exc)["score"]


def test_rejects_parquet_columns_of_wrong_type(tmp_path):
    table = pa.table(
        {
            "when": pa.array(pd.to_datetime(["2024-01-01", "2024-01-02"])),
            "score": pa.array(["0.1", "0.2"]),
            "y_true": pa.array([1, 0]),
        }
    )
    path = tmp_path / "x.parquet"
    pq.write_table(table, path)
    with pytest.raises(ValidationFailed) as exc:
        read_table(path, columns=["when", "score", "y_true"], numeric=["score"])
    errors = errors_of(exc)
    assert set(errors) == {"when", "score"}
    assert "timestamp" in errors["when"] and "numbers" in errors["score"]


def test_payload_too_large(tmp_path):
    with pytest.raises(PayloadTooLarge):
        read_table(write(tmp_path, csv_text()), columns=COLUMNS, max_bytes=10)


# ---------------------------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------------------------


def frame_of(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


BASE = {"race": ["A", "B", "A", "B"], "y": [1, 0, 1, 0], "p": [1, 1, 0, 0]}


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        ([1, 0, 1, 0], "1"),
        (["1", "0", "1", "0"], 1),
        ([1.0, 0.0, 1.0, 0.0], "1"),
        (["1.0", "0", " 1 ", "0.00"], "1"),
        ([True, False, True, False], "1"),
        (["TRUE", "false", "true", "False"], True),
        (["Yes", "no", "yes", "NO"], "yes"),
        (["-1", "1", "-1", "1"], -1),
    ],
)
def test_positive_label_matching(values, positive):
    prepared = prepare(
        frame_of(race=BASE["race"], y=values, p=values),
        y_true="y",
        y_pred="p",
        sensitive_features=["race"],
        positive_label=positive,
    )
    assert prepared.y_true.tolist() == [1, 0, 1, 0]
    assert prepared.y_pred.tolist() == [1, 0, 1, 0]


def test_prepare_from_csv_categoricals(tmp_path):
    text = "race,sex,y,p,s\nA,F,yes,Yes,0.1\nB,M,no,NO,0.9\nA,M,,yes,0.5\nB,F,no,yes,\n"
    frame = read_table(write(tmp_path, text), columns=["race", "sex", "y", "p", "s"], numeric=["s"])
    prepared = prepare(
        frame,
        y_true="y",
        y_pred="p",
        sensitive_features=["race", "sex"],
        y_score="s",
        positive_label="Yes",
    )
    assert prepared.n_rows == 2 and prepared.n_rows_dropped == 2
    assert prepared.missing_by_column == {"y": 1, "p": 0, "race": 0, "sex": 0, "s": 1}
    assert prepared.y_true.tolist() == [1, 0]
    assert prepared.y_score.tolist() == [0.1, 0.9]
    assert prepared.groups == [("A", "F"), ("B", "M")]
    assert prepared.group_codes.tolist() == [0, 1]
    assert prepared.y_pred.tolist() == [1, 0]
    assert prepared.negative_labels == {"y_true": "no", "y_pred": "no"}
    result = prepared.compute(n_boot=10).to_dict()
    assert result["n_rows"] == 2


def test_rejects_non_binary_labels_listing_values():
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(race=BASE["race"], y=[0, 1, 2, 1], p=BASE["p"]),
            y_true="y",
            y_pred="p",
            sensitive_features=["race"],
        )
    assert errors_of(exc) == {
        "y": "y_true: values must be binary; found 0, 1, 2. For more than two classes, run a "
        "multiclass check (task multiclass_classification)."
    }


def test_rejects_missing_positive_label():
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(race=BASE["race"], y=BASE["y"], p=["high", "low", "low", "high"]),
            y_true="y",
            y_pred="p",
            sensitive_features=["race"],
        )
    message = errors_of(exc)["p"]
    assert "positive label '1' does not occur" in message and "high, low" in message


@pytest.mark.parametrize(
    ("features", "key", "text"),
    [
        ([], "sensitive_features", "at least one"),
        (["race", "race2", "race3", "race4"], "sensitive_features", "at most three"),
        (["race", "race"], "sensitive_features", "twice"),
        (["ethnicity"], "ethnicity", "Available columns: race, y, p"),
    ],
)
def test_rejects_bad_feature_choices(features, key, text):
    df = frame_of(**BASE)
    for extra in ("race2", "race3", "race4"):
        df[extra] = BASE["race"]
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            df if "race4" in features else frame_of(**BASE),
            y_true="y",
            y_pred="p",
            sensitive_features=features,
        )
    assert text in errors_of(exc)[key]


def test_rejects_missing_label_column():
    with pytest.raises(ValidationFailed) as exc:
        prepare(frame_of(**BASE), y_true="outcome", y_pred="p", sensitive_features=["race"])
    assert "Available columns" in errors_of(exc)["outcome"]


def test_rejects_same_column_in_two_roles():
    with pytest.raises(ValidationFailed) as exc:
        prepare(frame_of(**BASE), y_true="y", y_pred="y", sensitive_features=["race"])
    assert "y" in errors_of(exc)


def test_rejects_empty_and_all_missing():
    with pytest.raises(ValidationFailed) as exc:
        prepare(frame_of(race=[], y=[], p=[]), y_true="y", y_pred="p", sensitive_features=["race"])
    assert "no data rows" in errors_of(exc)["file"]
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(race=[None, "A"], y=[1, None], p=[0, 1]),
            y_true="y",
            y_pred="p",
            sensitive_features=["race"],
        )
    assert "No rows are left after dropping 2 rows" in errors_of(exc)["file"]


def test_rejects_single_group():
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(race=["A", "A", "A", None], y=BASE["y"], p=BASE["p"]),
            y_true="y",
            y_pred="p",
            sensitive_features=["race"],
        )
    assert "one group (race = A)" in errors_of(exc)["sensitive_features"]


@pytest.mark.parametrize(
    ("scores", "text"),
    [
        (
            [0.1, 1.2, 0.3, -0.1],
            "between 0 and 1; found -0.1 to 1.2 (first outside the range: row 2",
        ),
        (["0.1", "high", "0.3", "0.4"], "row 2 holds 'high'"),
        ([True, False, True, False], "not true/false"),
    ],
)
def test_rejects_bad_scores(scores, text):
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(s=scores, **BASE),
            y_true="y",
            y_pred="p",
            sensitive_features=["race"],
            y_score="s",
        )
    assert text in errors_of(exc)["s"]


def test_rejects_decimal_or_identifier_features():
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(age=[20.5, 31.0, 20.5, 40.0], y=BASE["y"], p=BASE["p"]),
            y_true="y",
            y_pred="p",
            sensitive_features=["age"],
        )
    assert "decimal" in errors_of(exc)["age"]
    n = 1500
    with pytest.raises(ValidationFailed) as exc:
        prepare(
            frame_of(id=[f"id{i}" for i in range(n)], y=[0, 1] * (n // 2), p=[1] * n),
            y_true="y",
            y_pred="p",
            sensitive_features=["id"],
        )
    assert "identifier" in errors_of(exc)["id"]


def test_integer_and_integral_float_features_are_groups():
    prepared = prepare(
        frame_of(band=[1.0, 2.0, 1.0, np.nan], y=BASE["y"], p=BASE["p"]),
        y_true="y",
        y_pred="p",
        sensitive_features=["band"],
    )
    assert prepared.groups == [("1",), ("2",)]
    assert prepared.n_rows_dropped == 1
