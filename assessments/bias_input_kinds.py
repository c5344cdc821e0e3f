"""Validate and prepare the inputs of multiclass, regression and outcome-rate bias checks.

The counterpart of :func:`assessments.bias_input.prepare` (binary checks) for the other kinds,
with the same rules for column mappings, missing values (dropped and counted), sensitive
features and aggregated input (a ``frequency`` column; see :mod:`assessments.bias_aggregates`).
Every problem is a :class:`registry.errors.ValidationFailed` keyed by the column (or ``"row
N"``) and, where values are at fault, showing examples of them:

* multiclass: a label column with a single class; more classes than the limit;
* regression: a value column that is not numeric (a ``task`` that does not match the data), or
  holds missing values, NaN or infinity; aggregated moments that are not finite or cannot come
  from any rows;
* outcome rates: an outcome column that is not yes/no.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assessments.bias_input import (
    _canonical,
    _check_mapping,
    _feature_label,
    _features_frame,
    _groups,
    _quote,
    _rows,
    _show,
    _sort_values,
    read_table,
)
from assessments.metrics import chunked_bincount, chunked_take, small_int_dtype
from assessments.metrics_regression import MOMENT_COLUMNS
from registry.errors import ValidationFailed

__all__ = [
    "MAX_OUTCOMES",
    "PreparedMulticlass",
    "PreparedOutcomes",
    "PreparedRegression",
    "numeric_column_problem",
    "prepare_multiclass",
    "prepare_outcome_rates",
    "prepare_regression",
    "prepare_regression_moments",
]

#: At most this many outcome columns in one outcome-rate check.
MAX_OUTCOMES = 20

_EXAMPLES = 5


def _fail(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={key: message})


@dataclass
class _Common:
    features: pd.DataFrame
    groups: list[tuple[str, ...]]
    n_rows: int
    n_rows_dropped: int
    missing_by_column: dict[str, int] = field(default_factory=dict)
    frequency: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Multiclass
# --------------------------------------------------------------------------------------------


@dataclass
class PreparedMulticlass(_Common):
    """Validated inputs of a multiclass check: class indices into ``classes``."""

    y_true: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    y_pred: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    classes: list[str] = field(default_factory=list)

    def compute(self, **kwargs: Any) -> Any:
        """Run :func:`assessments.metrics_multiclass.compute_multiclass_metrics`."""
        from assessments.metrics_multiclass import compute_multiclass_metrics

        return compute_multiclass_metrics(
            y_true=self.y_true,
            y_pred=self.y_pred,
            classes=self.classes,
            sensitive_features=self.features,
            frequency=self.frequency,
            **kwargs,
        )


def prepare_multiclass(
    df: pd.DataFrame,
    *,
    y_true: str,
    y_pred: str,
    sensitive_features: Sequence[str],
    frequency: str | None = None,
    total_rows: int | None = None,
    max_classes: int = 50,
) -> PreparedMulticlass:
    """Validate a multiclass mapping: two label columns of classes, sensitive features.

    Classes are compared by their canonical text, as binary labels are (``1`` and ``1.0``,
    ``Yes`` and ``yes`` are one class); a class is shown as first written. They are ordered
    numerically when every class is a number, otherwise alphabetically.

    Raises
    ------
    registry.errors.ValidationFailed
        As :func:`assessments.bias_input.prepare`; and keyed by the label column when it holds
        a single class, or when the two columns together hold more than ``max_classes``
        classes (examples of the values are shown).
    """
    features = list(sensitive_features)
    roles = {"y_true": y_true, "y_pred": y_pred}
    if frequency is not None:
        roles["frequency"] = frequency
    _check_mapping(df, roles, features)
    rows = _rows(
        df,
        labels=[y_true, y_pred],
        features=features,
        numbers={},
        frequency=frequency,
        total_rows=total_rows,
    )
    errors: dict[str, str] = {}
    present: dict[str, list[str]] = {}
    display: dict[str, str] = {}
    for role, col in (("y_true", y_true), ("y_pred", y_pred)):
        codes, uniques, canon = rows.coded[col]
        seen = np.flatnonzero(chunked_bincount(rows.kept(codes), len(canon) + 1)[:-1])
        values: list[str] = []
        for i in seen:
            c = canon[i]
            if c is None:
                continue
            display.setdefault(c, _feature_label(uniques[i]) or c)
            if c not in values:
                values.append(c)
        present[col] = values
        if len(values) == 1:
            errors[col] = (
                f"{role}: every row holds the same class ({_quote(display[values[0]])}); a "
                "multiclass check needs at least two classes."
            )
        elif len(values) > max_classes:
            shown = _show([display[v] for v in _sort_values(set(values))])
            errors[col] = (
                f"{role}: the column holds {len(values):,} classes ({shown}); at most "
                f"{max_classes:,} are allowed. If it holds numbers, run a regression check "
                "(task regression)."
            )
    union = set(present[y_true]) | set(present[y_pred])
    if not errors and len(union) > max_classes:
        shown = _show([display[v] for v in _sort_values(union)])
        errors[y_pred] = (
            f"The two columns hold {len(union):,} classes together ({shown}); at most "
            f"{max_classes:,} are allowed."
        )
    features_frame = _features_frame(df, features, rows.coded, rows.kept, errors)
    if errors:
        raise ValidationFailed("The data cannot be assessed as mapped.", errors=errors)
    groups = _groups(features_frame, features, rows.n_kept)

    order = _sort_values(union)
    index = {c: i for i, c in enumerate(order)}
    labels: dict[str, np.ndarray] = {}
    for col in (y_true, y_pred):
        codes, _uniques, canon = rows.coded[col]
        lookup = np.array(
            [index.get(c, -1) if c is not None else -1 for c in canon] + [-1],
            dtype=small_int_dtype(len(order)),
        )
        labels[col] = chunked_take(lookup, rows.kept(codes))
    return PreparedMulticlass(
        features=features_frame,
        groups=groups,
        n_rows=rows.n_kept,
        n_rows_dropped=rows.n_dropped,
        missing_by_column=rows.missing_by_column,
        frequency=rows.kept_weights(),
        y_true=labels[y_true],
        y_pred=labels[y_pred],
        classes=[display[c] for c in order],
    )


# --------------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------------


@dataclass
class PreparedRegression(_Common):
    """Validated inputs of a regression check: rows (``y_pred``, optional ``y_true``) or
    aggregated ``moments`` (one row per cell, in the order of
    :data:`assessments.metrics_regression.MOMENT_COLUMNS`)."""

    y_pred: np.ndarray | None = None
    y_true: np.ndarray | None = None
    moments: np.ndarray | None = None

    def compute(self, **kwargs: Any) -> Any:
        """Run :func:`assessments.metrics_regression.compute_regression_metrics`."""
        from assessments.metrics_regression import compute_regression_metrics

        return compute_regression_metrics(
            sensitive_features=self.features,
            y_pred=self.y_pred,
            y_true=self.y_true,
            moments=self.moments,
            frequency=self.frequency,
            **kwargs,
        )


def numeric_column_problem(path: str | PathLike[str], column: str) -> str | None:
    """Why a column that should hold numbers does not, with examples (or None).

    Reads the column as text (only on the error path) and lists up to five values that are
    not numbers, with the first row of each.
    """
    frame = read_table(Path(path), columns=[column])
    return _text_problem(frame[column], column)


def _text_problem(col: pd.Series, name: str) -> str | None:
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("string").astype("category")
    categories = [str(c) for c in col.cat.categories]
    numbers = pd.to_numeric(pd.Series(categories, dtype="string"), errors="coerce")
    bad = [i for i, v in enumerate(numbers) if pd.isna(v)]
    if not bad:
        return None
    codes = col.cat.codes.to_numpy()
    examples = []
    for i in bad[:_EXAMPLES]:
        row = int(np.flatnonzero(codes == i)[0]) + 1
        examples.append(f"{_quote(categories[i])} in row {row}")
    more = f" and {len(bad) - _EXAMPLES} more" if len(bad) > _EXAMPLES else ""
    return (
        f"The column {name!r} holds text, not numbers (for example {', '.join(examples)}{more}); "
        "a regression check needs numbers. For classes or categories, run a multiclass check "
        "(task multiclass_classification)."
    )


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float64, or a 422 with examples of its text values."""
    series = df[col]
    if pd.api.types.is_bool_dtype(series.dtype):
        raise _fail(
            col, f"The column {col!r} holds true/false values; a regression check needs numbers."
        )
    if pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    problem = _text_problem(series, col)
    if problem:
        raise _fail(col, problem)
    return pd.to_numeric(series.astype("string"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r) + 1) for r in rows[:_EXAMPLES])
    more = f" and {len(rows) - _EXAMPLES:,} more" if len(rows) > _EXAMPLES else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _check_finite(values: np.ndarray, col: str, what: str) -> None:
    """A 422 naming the column, with rows, for missing values, NaN or infinity."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    where = np.flatnonzero(bad)
    infinite = where[np.isinf(values[where])]
    if len(infinite):
        examples = ", ".join(f"{values[r]:g} in row {r + 1}" for r in infinite[:_EXAMPLES])
        raise _fail(
            col,
            f"The column {col!r} holds infinite values ({examples}); {what} must be finite "
            "numbers.",
        )
    raise _fail(
        col,
        f"The column {col!r} has no number in {_rows_text(where)} (empty, NA or NaN); {what} "
        "needs a number in every row: remove those rows or fill them in.",
    )


def prepare_regression(
    df: pd.DataFrame,
    *,
    y_pred: str,
    sensitive_features: Sequence[str],
    y_true: str | None = None,
    frequency: str | None = None,
    total_rows: int | None = None,
) -> PreparedRegression:
    """Validate a regression mapping: numeric predictions (and true values), features.

    Without ``y_true`` only the mean prediction per group is computed.

    Raises
    ------
    registry.errors.ValidationFailed
        As :func:`assessments.bias_input.prepare`; and keyed by a value column that holds
        text (examples shown), true/false values, missing values, NaN or infinity.
    """
    features = list(sensitive_features)
    roles = {"y_pred": y_pred}
    if y_true is not None:
        roles["y_true"] = y_true
    if frequency is not None:
        roles["frequency"] = frequency
    _check_mapping(df, roles, features)
    numbers = _finite_columns(
        df,
        [c for c in (y_pred, y_true) if c is not None],
        "a regression check",
        "The values cannot be assessed as a regression.",
    )
    errors: dict[str, str] = {}
    rows = _rows(
        df,
        labels=[],
        features=features,
        numbers=numbers,
        frequency=frequency,
        total_rows=total_rows,
    )
    features_frame = _features_frame(df, features, rows.coded, rows.kept, errors)
    if errors:
        raise ValidationFailed("The data cannot be assessed as mapped.", errors=errors)
    groups = _groups(features_frame, features, rows.n_kept)
    return PreparedRegression(
        features=features_frame,
        groups=groups,
        n_rows=rows.n_kept,
        n_rows_dropped=rows.n_dropped,
        missing_by_column=rows.missing_by_column,
        frequency=rows.kept_weights(),
        y_pred=rows.kept(numbers[y_pred]),
        y_true=rows.kept(numbers[y_true]) if y_true is not None else None,
    )


# Relative slack for the consistency checks of moments (sums computed in floating point).
_MOMENT_TOLERANCE = 1e-6


def prepare_regression_moments(
    df: pd.DataFrame,
    *,
    sensitive_features: Sequence[str],
    frequency: str,
    total_rows: int | None = None,
) -> PreparedRegression:
    """Validate aggregated regression moments: one row per cell with its count and sums.

    The columns are :data:`assessments.metrics_regression.MOMENT_COLUMNS` (error = prediction
    − truth, quad = error⁴), each required.

    Raises
    ------
    registry.errors.ValidationFailed
        Keyed by the moment column for a missing column, a value that is not a finite number,
        and sums that no rows could give (a negative sum of squares, an error sum that is not
        the prediction sum minus the truth sum, |Σ error| above Σ |error|, sums of a cell of
        0 rows that are not 0...), naming the row.
    """
    features = list(sensitive_features)
    roles = {"frequency": frequency, **{m: m for m in MOMENT_COLUMNS}}
    _check_mapping(df, roles, features)
    sums = _finite_columns(df, MOMENT_COLUMNS, "a moment", "The moments cannot be assessed.")
    errors: dict[str, str] = {}
    rows = _rows(
        df,
        labels=[],
        features=features,
        numbers={},
        frequency=frequency,
        total_rows=total_rows,
    )
    assert rows.weights is not None
    _check_moments(sums, rows.weights.astype(np.float64))
    features_frame = _features_frame(df, features, rows.coded, rows.kept, errors)
    if errors:
        raise ValidationFailed("The data cannot be assessed as mapped.", errors=errors)
    groups = _groups(features_frame, features, rows.n_kept)
    matrix = np.column_stack([rows.kept(sums[col]) for col in MOMENT_COLUMNS])
    return PreparedRegression(
        features=features_frame,
        groups=groups,
        n_rows=rows.n_kept,
        n_rows_dropped=rows.n_dropped,
        missing_by_column=rows.missing_by_column,
        frequency=rows.kept_weights(),
        moments=matrix,
    )


def _check_moments(sums: dict[str, np.ndarray], n: np.ndarray) -> None:
    """A 422 naming the first row whose sums no set of rows could have."""
    s = sums

    def slack(*values: np.ndarray) -> np.ndarray:
        return _MOMENT_TOLERANCE * (1.0 + sum(np.abs(v) for v in values))

    rules = [
        (
            "sum_sq_pred",
            s["sum_sq_pred"] * n
            < s["sum_pred"] ** 2 - slack(s["sum_pred"] ** 2, s["sum_sq_pred"] * n),
            "the sum of squared predictions is smaller than the squared sum allows",
        ),
        (
            "sum_abs_error",
            np.abs(s["sum_error"]) > s["sum_abs_error"] + slack(s["sum_error"], s["sum_abs_error"]),
            "|sum_error| exceeds sum_abs_error",
        ),
        (
            "sum_sq_error",
            s["sum_sq_error"] * n
            < s["sum_abs_error"] ** 2 - slack(s["sum_abs_error"] ** 2, s["sum_sq_error"] * n),
            "the sum of squared errors is smaller than the sum of absolute errors allows",
        ),
        (
            "sum_quad_error",
            s["sum_quad_error"] * n
            < s["sum_sq_error"] ** 2 - slack(s["sum_sq_error"] ** 2, s["sum_quad_error"] * n),
            "the sum of error⁴ is smaller than the sum of squared errors allows",
        ),
        (
            "sum_error",
            np.abs(s["sum_error"] - (s["sum_pred"] - s["sum_true"]))
            > slack(s["sum_pred"], s["sum_true"]),
            "sum_error is not sum_pred − sum_true (error = prediction − truth)",
        ),
    ]
    for col in ("sum_sq_pred", "sum_abs_error", "sum_sq_error", "sum_quad_error"):
        rules.insert(0, (col, s[col] < 0, f"{col} is negative"))
    empty = n == 0
    nonzero = np.zeros(len(n), dtype=bool)
    for col in MOMENT_COLUMNS:
        nonzero |= empty & (s[col] != 0)
    rules.insert(0, ("frequency", nonzero, "a cell of 0 rows has sums that are not 0"))
    first: tuple[int, str, str] | None = None
    for col, bad, why in rules:
        hits = np.flatnonzero(bad)
        if len(hits) and (first is None or hits[0] < first[0]):
            first = (int(hits[0]), col, why)
    if first is not None:
        row, col, why = first
        message = f"Row {row + 1}: {why}; no rows could give these moments (column {col!r})."
        raise ValidationFailed(message, errors={f"row {row + 1}": message, col: message})


# --------------------------------------------------------------------------------------------
# Outcome rates
# --------------------------------------------------------------------------------------------


@dataclass
class PreparedOutcomes(_Common):
    """Validated inputs of an outcome-rate check: one 0/1 array per outcome column."""

    outcomes: dict[str, np.ndarray] = field(default_factory=dict)
    positive_label: str = "1"

    def compute(self, **kwargs: Any) -> Any:
        """Run :func:`assessments.metrics_outcomes.compute_outcome_rates`."""
        from assessments.metrics_outcomes import compute_outcome_rates

        return compute_outcome_rates(
            outcomes=self.outcomes,
            sensitive_features=self.features,
            frequency=self.frequency,
            **kwargs,
        )


def prepare_outcome_rates(
    df: pd.DataFrame,
    *,
    outcomes: Sequence[str],
    sensitive_features: Sequence[str],
    positive_label: Any = "1",
    frequency: str | None = None,
    total_rows: int | None = None,
) -> PreparedOutcomes:
    """Validate an outcome-rate mapping: yes/no outcome columns and sensitive features.

    Each outcome column holds at most two canonical values, one of which (if two) is the
    positive label (the outcome happened), as binary labels do.

    Raises
    ------
    registry.errors.ValidationFailed
        As :func:`assessments.bias_input.prepare`; keyed by ``"outcomes"`` for none or more
        than :data:`MAX_OUTCOMES`, and by an outcome column that is not yes/no (its values are
        shown).
    """
    columns = list(dict.fromkeys(outcomes))
    if not columns:
        raise _fail("outcomes", "Name at least one outcome column.")
    if len(columns) > MAX_OUTCOMES:
        raise _fail(
            "outcomes", f"Name at most {MAX_OUTCOMES} outcome columns ({len(columns)} were named)."
        )
    features = list(sensitive_features)
    roles = {f"outcome {i}": col for i, col in enumerate(columns, start=1)}
    if frequency is not None:
        roles["frequency"] = frequency
    _check_mapping(df, roles, features)
    positive = _canonical(positive_label)
    if positive is None:
        raise _fail("positive_label", "The positive label must not be empty.")
    rows = _rows(
        df,
        labels=columns,
        features=features,
        numbers={},
        frequency=frequency,
        total_rows=total_rows,
    )
    errors: dict[str, str] = {}
    values_by_col: dict[str, np.ndarray] = {}
    for col in columns:
        codes, _uniques, canon = rows.coded[col]
        kept_codes = rows.kept(codes)
        seen = np.flatnonzero(chunked_bincount(kept_codes, len(canon) + 1)[:-1])
        values = {canon[i] for i in seen if canon[i] is not None}
        if len(values) > 2:
            errors[col] = (
                f"The outcome column {col!r} must be yes/no (two values); found "
                f"{_show(_sort_values(values))}."
            )
            continue
        if len(values) == 2 and positive not in values:
            errors[col] = (
                f"The outcome column {col!r}: the positive label {positive!r} does not occur; "
                f"found {_show(_sort_values(values))}. Choose the value that means the outcome "
                "happened."
            )
            continue
        lookup = np.array([c == positive for c in canon] + [False], dtype=np.int8)
        values_by_col[col] = chunked_take(lookup, kept_codes)
    features_frame = _features_frame(df, features, rows.coded, rows.kept, errors)
    if errors:
        raise ValidationFailed("The data cannot be assessed as mapped.", errors=errors)
    groups = _groups(features_frame, features, rows.n_kept)
    return PreparedOutcomes(
        features=features_frame,
        groups=groups,
        n_rows=rows.n_kept,
        n_rows_dropped=rows.n_dropped,
        missing_by_column=rows.missing_by_column,
        frequency=rows.kept_weights(),
        outcomes=values_by_col,
        positive_label=positive,
    )


def _finite_columns(
    df: Any, columns: Sequence[str], what: str, message: str
) -> dict[str, np.ndarray]:
    """Each column as finite numbers; one 422 naming every column that is not."""
    values: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    for col in columns:
        try:
            values[col] = _numbers(df, col)
            _check_finite(values[col], col, what)
        except ValidationFailed as error:
            errors.update(error.errors)
    if errors:
        raise ValidationFailed(message, errors=errors)
    return values
