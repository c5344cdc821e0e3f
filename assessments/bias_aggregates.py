"""Validate aggregated bias-check input: the frequency column, duplicate cells, the total.

An aggregated file has one row per cell (the values of every column but the count) and a
``frequency`` column saying how many identical rows the cell stands for. Every problem is a
:class:`registry.errors.ValidationFailed` keyed by ``"row N"`` (N counts data rows from 1) or
by the form field, raised before any work, so nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from assessments.metrics import CHUNK_ROWS, MAX_TOTAL_ROWS
from registry.errors import ValidationFailed

__all__ = ["check_duplicate_cells", "check_total", "frequency_counts", "parse_total"]


def _row_error(row: int, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={f"row {row}": message})


def frequency_counts(values: Any, column: str) -> np.ndarray:
    """The frequency column as int64 counts, or a 422 naming the first bad row.

    Parameters
    ----------
    values : pandas.Series or array-like of float or int
        The column as read (missing values as NaN); text is converted to numbers.
    column : str
        Its name, for the messages.

    Returns
    -------
    numpy.ndarray of int64
        Non-negative counts (0 allowed: the row stands for no row).

    Raises
    ------
    registry.errors.ValidationFailed
        ``"row N"`` for a missing, negative, fractional or infinite count; ``column`` when the
        counts add up to more than :data:`assessments.metrics.MAX_TOTAL_ROWS`.
    """
    if isinstance(values, pd.Series) and (
        isinstance(values.dtype, pd.CategoricalDtype) or not is_numeric_dtype(values.dtype)
    ):
        values = _numbers_from_text(values, column)
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValidationFailed(
            f"The frequency column {column!r} must hold whole numbers.",
            errors={column: "The column must hold whole numbers (row counts)."},
        )
    if np.issubdtype(arr.dtype, np.integer):
        if len(arr) and arr.min() < 0:
            row = int(np.flatnonzero(arr < 0)[0])
            raise _row_error(
                row + 1,
                f"Row {row + 1}: the frequency ({column}) is {int(arr[row])}; a row count "
                "cannot be negative.",
            )
        counts = arr.astype(np.int64)
    else:
        counts = np.empty(len(arr), dtype=np.int64)
        for start in range(0, len(arr), CHUNK_ROWS):
            part = arr[start : start + CHUNK_ROWS]
            bad = ~np.isfinite(part) | (part < 0) | (np.floor(part) != part) | (part > 2.0**62)
            if bad.any():
                row = start + int(np.flatnonzero(bad)[0])
                raise _row_error(row + 1, _bad_count_text(row + 1, column, float(arr[row])))
            counts[start : start + CHUNK_ROWS] = part
    total = float(counts.sum(dtype=np.float64))
    if total > MAX_TOTAL_ROWS:
        raise ValidationFailed(
            f"The frequencies add up to {total:,.0f} rows; at most {MAX_TOTAL_ROWS:,} are "
            "supported.",
            errors={column: f"The counts add up to more than {MAX_TOTAL_ROWS:,} rows."},
        )
    return counts


def _numbers_from_text(values: pd.Series, column: str) -> np.ndarray:
    """Text counts as float64 (missing as NaN), or a 422 naming the first row with text."""
    text = values.astype("string").str.strip()
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = (numbers.isna() & text.notna() & (text != "")).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _row_error(
            row + 1,
            f"Row {row + 1}: the frequency ({column}) is {str(text.iloc[row])[:40]!r}, not a "
            "number; give the row count.",
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _bad_count_text(row: int, column: str, value: float) -> str:
    if np.isnan(value):
        return f"Row {row}: the frequency ({column}) is missing; every row needs its count."
    if np.isinf(value):
        return f"Row {row}: the frequency ({column}) is infinite; give the row count."
    if value < 0:
        return f"Row {row}: the frequency ({column}) is {value:g}; a row count cannot be negative."
    if value > 2.0**62:
        return f"Row {row}: the frequency ({column}) is {value:g}, too large for a row count."
    return f"Row {row}: the frequency ({column}) is {value:g}; a row count must be a whole number."


def parse_total(value: Any) -> int | None:
    """The optional declared total (form field ``total_rows``) as an int, or a 422."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        total = int(text)
    except ValueError:
        total = -1
    if total < 0 or str(total) != text.lstrip("+"):
        raise ValidationFailed(
            "The declared total is not a whole number.",
            errors={
                "total_rows": f"Enter the total number of rows as a whole number, not {text!r}."
            },
        )
    return total


def check_total(counts: np.ndarray, total_rows: int | None, column: str) -> None:
    """A 422 on ``total_rows`` when the declared total disagrees with the counts."""
    if total_rows is None:
        return
    found = int(counts.sum())
    if found != total_rows:
        message = (
            f"The frequencies in column {column!r} add up to {found:,} rows, but the declared "
            f"total (total_rows) is {total_rows:,}."
        )
        raise ValidationFailed(message, errors={"total_rows": message})


def check_duplicate_cells(cells: Mapping[str, np.ndarray]) -> None:
    """A 422 naming two rows that hold the same cell (equal values in every non-count column).

    Parameters
    ----------
    cells : mapping of str to numpy.ndarray
        Each non-count column as canonical codes or numbers, one value per data row (missing
        values as one code of their own, or NaN).

    Raises
    ------
    registry.errors.ValidationFailed
        Keyed by both rows (``"row N"``), the first repeated cell found.
    """
    frame = pd.DataFrame(dict(cells), copy=False)
    if len(frame) < 2:
        return
    repeated = frame.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    second = int(np.flatnonzero(repeated)[0])
    same = (frame.iloc[:second] == frame.iloc[second]) | (
        frame.iloc[:second].isna() & frame.iloc[second].isna()
    )
    first = int(np.flatnonzero(same.all(axis=1).to_numpy())[0])
    columns = ", ".join(cells)
    message = (
        f"Rows {first + 1} and {second + 1} hold the same cell (the same values in {columns}); "
        "an aggregated file has one row per cell: add their counts into one row."
    )
    raise ValidationFailed(
        message, errors={f"row {first + 1}": message, f"row {second + 1}": message}
    )
