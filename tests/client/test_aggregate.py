"""The aggregate file: canonical values, merging, limits checked while streaming, repeatable bytes."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry_bias import AggregateError, CheckSpec, SpecError, TooManyGroups, collect
from registry_bias.aggregate import cell_text, label_text

BINARY = CheckSpec(["race", "sex"], y_true="y", y_pred="p")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (float("nan"), None),
        (pd.NA, None),
        (pd.NaT, None),
        ("", None),
        ("  ", None),
        ("NA", None),
        ("null", None),
        (" Black ", "Black"),
        ("01", "01"),
        (1, "1"),
        (np.int64(3), "3"),
        (1.0, "1"),
        (np.float32(0.5), "0.5"),
        (0.1, "0.1"),
        (decimal.Decimal("2.50"), "2.5"),
        (decimal.Decimal("7.000"), "7"),
        (True, "True"),
        (np.bool_(False), "False"),
        (dt.date(2026, 1, 31), "2026-01-31"),
    ],
)
def test_cell_values_are_written_in_one_canonical_form(value, text):
    assert cell_text(value) == text


def test_labels_in_text_compare_by_value_but_features_keep_their_text():
    assert label_text("1.0") == label_text(1) == "1"
    assert label_text(" 0.50") == "0.5"
    assert label_text("yes") == "yes"
    assert cell_text("1.0") == "1.0"


def test_equal_cells_are_merged_and_sorted_with_missing_first():
    rows = [
        ("b", "F", 1, 1, 2),
        (None, "F", 1, 0, 1),
        ("a", "M", "1.0", 0.0, 3),
        ("a ", "M", 1, 0, 4),
        ("", "F", 1, 0, 5),
        ("a", "M", 1, 1, 0),  # an empty cell: left out
    ]
    aggregate = collect(BINARY, rows, engine="test")
    assert aggregate.cells == [
        ((None, "F", "1", "0"), (6,)),
        (("a", "M", "1", "0"), (7,)),
        (("b", "F", "1", "1"), (2,)),
    ]
    assert aggregate.total_rows == 15
    assert aggregate.n_groups == 2  # the group with a missing race is not one the registry counts
    assert aggregate.to_csv() == b"race,sex,y,p,frequency\n,F,1,0,6\na,M,1,0,7\nb,F,1,1,2\n"
    assert aggregate.sha256 == hashlib.sha256(aggregate.to_csv()).hexdigest()


def test_too_many_groups_is_refused_before_the_rest_of_the_rows_are_read():
    read = []

    def rows():
        for i in range(10_000):
            read.append(i)
            yield (f"g{i}", "F", 1, 1, 1)

    with pytest.raises(TooManyGroups, match="more than 100 groups"):
        collect(BINARY, rows(), engine="test", max_groups=100)
    assert len(read) == 101


def test_too_many_classes_is_refused():
    spec = CheckSpec("sex", task="multiclass", y_true="y", y_pred="p")
    rows = [("F", f"c{i}", "c0", 1) for i in range(30)]
    with pytest.raises(TooManyGroups, match="20 classes"):
        collect(spec, rows, engine="test", max_classes=20)


def test_a_value_the_registry_reads_as_a_formula_is_refused_with_its_column():
    with pytest.raises(AggregateError) as error:
        collect(BINARY, [("=cmd()", "F", 1, 1, 1)], engine="test")
    assert error.value.column == "race"
    assert collect(BINARY, [("-1", "F", 1, 1, 1)], engine="test").cells  # a number is fine


def test_regression_moments_are_summed_and_written_with_twelve_digits():
    spec = CheckSpec("sex", task="regression", y_true="t", y_pred="p")
    rows = [
        ("F", 2, 1.0, 1.0, 2.0, 0.1, 0.1, 0.01, 0.0001),
        ("F", 1, 1 / 3, 1 / 9, 0, 1 / 3, 1 / 3, 1 / 9, 1 / 81),
    ]
    aggregate = collect(spec, rows, engine="test")
    assert aggregate.to_csv().decode().splitlines() == [
        "sex,frequency,sum_pred,sum_sq_pred,sum_true,sum_error,sum_abs_error,sum_sq_error,sum_quad_error",
        "F,3,1.33333333333,1.11111111111,2,0.433333333333,0.433333333333,0.121111111111,0.0124456790123",
    ]


def test_form_fields_follow_the_registry_contract():
    assert BINARY.form_fields() == {
        "sensitive_features": "race,sex",
        "frequency": "frequency",
        "y_true": "y",
        "y_pred": "p",
    }
    scores = CheckSpec("race", y_true="y", y_pred="p", y_score="s", score_edges=[0, 0.5, 1])
    assert scores.form_fields()["y_score_low"] == "y_score_low"
    assert scores.columns == ("race", "y", "p", "y_score_low", "y_score_high", "frequency")
    regression = CheckSpec("race", task="regression", y_true="t", y_pred="p")
    form = regression.form_fields()
    assert "y_true" not in form and form["task"] == "regression"
    assert regression.columns[-7:] == (
        "sum_pred",
        "sum_sq_pred",
        "sum_true",
        "sum_error",
        "sum_abs_error",
        "sum_sq_error",
        "sum_quad_error",
    )
    outcomes = CheckSpec(["race"], task="outcome_rates", outcomes=["a", "b"])
    assert outcomes.form_fields()["outcomes"] == "a,b"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sensitive_features": []}, "sensitive_features"),
        ({"sensitive_features": "a,b,c,d"}, "sensitive_features"),
        ({"sensitive_features": "a", "y_pred": "p"}, "y_true"),
        ({"sensitive_features": "a", "y_true": "t", "y_pred": "t"}, "y_pred"),
        ({"sensitive_features": "a", "task": "ranking", "y_true": "t", "y_pred": "p"}, "task"),
        ({"sensitive_features": "a", "task": "outcome_rates"}, "outcomes"),
        ({"sensitive_features": "frequency", "y_true": "t", "y_pred": "p"}, "columns"),
        ({"sensitive_features": "t", "y_true": "t", "y_pred": "p"}, "sensitive_features"),
        ({"sensitive_features": "a", "y_true": "t", "y_pred": "p", "score_bins": 4}, "y_score"),
        (
            {
                "sensitive_features": "a",
                "y_true": "t",
                "y_pred": "p",
                "y_score": "s",
                "score_edges": [0, 0],
            },
            "score_edges",
        ),
        (
            {
                "sensitive_features": "a",
                "task": "regression",
                "y_true": "t",
                "y_pred": "p",
                "y_score": "s",
            },
            "y_score",
        ),
    ],
)
def test_a_check_that_cannot_be_aggregated_names_the_setting(kwargs, field):
    with pytest.raises(SpecError) as error:
        CheckSpec(**kwargs)
    assert error.value.field == field


def test_score_bins_are_half_open_with_open_outer_bins():
    spec = CheckSpec("a", y_true="t", y_pred="p", y_score="s", score_bins=4)
    assert spec.score_edges == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert spec.score_bin(0.25) == (0.25, 0.5)
    assert spec.score_bin(-3.0) == (0.0, 0.25)
    assert spec.score_bin(1.0) == (0.75, 1.0)
    assert spec.score_bin(float("nan")) == (None, None)


cell_values = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", " a", "NA", "", "Zoë", 'quote"d', "com,ma"]),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            cell_values, cell_values, st.integers(0, 1), st.integers(0, 1), st.integers(0, 50)
        ),
        max_size=40,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_order_and_any_split_of_the_rows_gives_the_same_file(rows, seed):
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    split = []
    for row in shuffled:  # one cell sent as two rows that add up to it
        half = row[4] // 2
        split += [(*row[:4], half), (*row[:4], row[4] - half)]
    first = collect(BINARY, rows, engine="test")
    assert collect(BINARY, shuffled, engine="test").to_csv() == first.to_csv()
    assert collect(BINARY, split, engine="test").to_csv() == first.to_csv()
    assert first.total_rows == sum(r[4] for r in rows)
    keys = [key for key, _ in first.cells]
    assert len(keys) == len(set(keys))  # no duplicate cells reach the registry
    assert all(values[0] > 0 for _, values in first.cells)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6), min_size=1
    )
)
def test_canonical_numbers_read_back_as_the_same_number(values):
    for v in values:
        assert math.isclose(float(cell_text(v)), v, rel_tol=0, abs_tol=0)
