"""The aggregate file: canonical cells, counts and moments, in a repeatable CSV form.

Every engine (pandas, Polars, SQL databases, DuckDB, Spark) hands its ``GROUP BY`` result to
:func:`collect`, which writes each cell value in one canonical text form, merges cells that
become equal (``1`` and ``1.0``; ``"a "`` and ``"a"``), checks the registry's limits while the
rows stream in, and sorts the cells. :meth:`Aggregate.to_csv` then writes the file the
registry receives. The same data gives the same bytes, whatever engine read it and in
whatever order its rows came back, so the same query at the same data gives the same sha256.

Cell values
-----------
Missing values (None, NaN, NA, NaT, an empty or blank string, and the texts the registry reads
as missing: ``NA``, ``N/A``, ``NaN``, ``nan``, ``null``, ``NULL``, ``None``) become an empty cell,
which the registry drops and counts as it does for rows. Integers and integral numbers are
written without a decimal point (``1.0`` is ``1``); other numbers in their shortest round-trip
form (in label and outcome columns, numbers written as text too: ``"1.0"`` is ``1``, as the
registry compares labels by value); booleans ``True``/``False``; dates and times in ISO 8601; text with surrounding spaces
removed.

Moments
-------
Regression moments are sums of floating-point numbers, which a parallel engine may add in a
different order from one run to the next, moving the last bits. They are written with 12
significant digits, far finer than any metric the registry reports, so that such runs still
give the same file unless a sum falls within a few units in the last place of a 12th-digit
rounding boundary. Counts are exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry_bias.spec import FREQUENCY, CheckSpec

__all__ = [
    "Aggregate",
    "AggregateError",
    "TooManyGroups",
    "cell_text",
    "collect",
    "label_text",
]

MISSING_TEXTS = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})
_FORMULA_START = ("=", "+", "-", "@")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
MOMENT_DIGITS = 12


class AggregateError(ValueError):
    """The data cannot be sent as it is; ``column`` names the column at fault, if one is."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


class TooManyGroups(AggregateError):
    """The sensitive features define more groups (or the labels more classes) than allowed."""


def _plain(value: Any) -> Any:
    """Unwrap numpy and pandas scalars without importing either."""
    module = type(value).__module__
    if module.startswith("numpy") and hasattr(value, "item"):
        return value.item()
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def cell_text(value: Any) -> str | None:
    """The canonical text of one cell value; None when the registry would read it as missing.

    Parameters
    ----------
    value : Any
        A value as an engine returns it (Python, numpy or pandas scalar, Decimal, date...).

    Returns
    -------
    str or None
        See the module documentation for the forms.
    """
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return None
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).strip()
    return None if text in MISSING_TEXTS else text


def label_text(value: Any) -> str | None:
    """The canonical text of a label or outcome: as :func:`cell_text`, numbers in text too.

    The registry compares labels by value (``"1.0"`` is ``1``), so a label read as text from a
    CSV file is written in the same form as the number.
    """
    text = cell_text(value)
    if text is not None and _NUMBER.match(text):
        number = float(text)
        if math.isfinite(number):
            return cell_text(number)
    return text


def _count(value: Any, column: str) -> int:
    value = _plain(value)
    if value is None:
        return 0
    number = int(value)
    if number != value or number < 0:
        raise AggregateError(f"The engine returned a count of {value!r}.", column)
    return number


def _moment(value: Any) -> float:
    value = _plain(value)
    return 0.0 if value is None else float(value)


def _moment_text(value: float) -> str:
    text = format(value, f".{MOMENT_DIGITS}g")
    return "0" if text in ("0", "-0") else text


def _check_formula(text: str | None, column: str) -> None:
    if text and len(text) > 1 and text[0] in _FORMULA_START and not _NUMBER.match(text):
        raise AggregateError(
            f"The value {text[:40]!r} in column {column} starts like a spreadsheet formula, "
            "which the registry refuses; recode it (for example without the leading "
            f"{text[0]!r}).",
            column,
        )


@dataclass
class Aggregate:
    """One aggregated submission: sorted cells with their counts (and moments), and provenance.

    ``cells`` maps each cell (a tuple of canonical texts or None, in ``spec.key_columns``
    order) to its count and, for regression, its moments (``spec.value_columns`` order).
    """

    spec: CheckSpec
    cells: list[tuple[tuple[str | None, ...], tuple[float, ...]]]
    engine: str
    query: str | None = None
    source_sha256: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        """The number of rows the cells stand for (the sum of the counts)."""
        return sum(int(values[0]) for _, values in self.cells)

    @property
    def n_groups(self) -> int:
        """The number of distinct combinations of the sensitive features (none missing)."""
        k = len(self.spec.sensitive_features)
        return len({key[:k] for key, _ in self.cells if None not in key[:k]})

    def to_csv(self) -> bytes:
        """The aggregate file the registry receives (UTF-8 CSV, ``\\n`` line ends)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.spec.columns)
        for key, values in self.cells:
            row = ["" if v is None else v for v in key]
            row.append(str(int(values[0])))
            row.extend(_moment_text(v) for v in values[1:])
            writer.writerow(row)
        return out.getvalue().encode("utf-8")

    @property
    def sha256(self) -> str:
        """sha256 of :meth:`to_csv`: the registry records it as the check's ``input_sha256``."""
        return hashlib.sha256(self.to_csv()).hexdigest()

    def provenance(self, client_version: str) -> dict[str, str]:
        """The repeatability form fields sent with the file."""
        fields = {
            "client_version": client_version,
            "engine": self.engine,
            "total_rows": str(self.total_rows),
        }
        if self.query:
            fields["query"] = self.query
        if self.source_sha256:
            fields["source_sha256"] = self.source_sha256
        return fields


def _sort_key(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is not None, v or "") for v in key)


def collect(
    spec: CheckSpec,
    records: Iterable[Sequence[Any]],
    *,
    engine: str,
    query: str | None = None,
    source_sha256: str | None = None,
    max_groups: int | None = None,
    max_classes: int | None = None,
) -> Aggregate:
    """Turn an engine's ``GROUP BY`` rows into an :class:`Aggregate`.

    Parameters
    ----------
    spec : CheckSpec
        The check the rows were aggregated for.
    records : iterable of sequences
        Rows in ``spec.columns`` order: the cell values, the count, then any moments. Read
        once, lazily: the limits are checked as the rows arrive.
    engine, query, source_sha256 : str
        Provenance recorded with the check.
    max_groups, max_classes : int, optional
        The registry's limits; more groups (or, for a multiclass check, more classes)
        raise :class:`TooManyGroups` before the rest of the rows are read.

    Returns
    -------
    Aggregate
        Cells merged by canonical value, sorted, without empty (zero-count) cells.

    Raises
    ------
    TooManyGroups
        When a limit is passed.
    AggregateError
        When a value would be refused by the registry (a formula-like text).
    """
    n_keys = len(spec.key_columns)
    n_features = len(spec.sensitive_features)
    key_columns = spec.key_columns
    merged: dict[tuple[str | None, ...], list[float]] = {}
    groups: set[tuple[str | None, ...]] = set()
    classes: set[str] = set()
    label_slice = slice(n_features, n_features + 2)
    multiclass = spec.task == "multiclass_classification"
    n_labels = len(spec.outcomes) if spec.task == "outcome_rates" else 2
    if spec.task == "regression":
        n_labels = 0
    # Labels and outcomes compare by value; sensitive features (and bins) keep their text.
    formats = [
        label_text if n_features <= i < n_features + n_labels else cell_text for i in range(n_keys)
    ]
    for record in records:
        key = tuple(fmt(v) for fmt, v in zip(formats, record[:n_keys], strict=True))
        count = _count(record[n_keys], FREQUENCY)
        if count == 0:
            continue
        moments = [_moment(v) for v in record[n_keys + 1 :]]
        cell = merged.get(key)
        if cell is None:
            for text, column in zip(key, key_columns, strict=True):
                _check_formula(text, column)
            merged[key] = [count, *moments]
            if None not in key[:n_features]:  # the registry drops rows with a missing feature
                groups.add(key[:n_features])
            if max_groups is not None and len(groups) > max_groups:
                raise TooManyGroups(
                    f"The sensitive features {', '.join(spec.sensitive_features)} define more "
                    f"than {max_groups:,} groups, the registry's limit; group some values "
                    "together or use fewer features.",
                    "sensitive_features",
                )
            if multiclass:
                classes.update(v for v in key[label_slice] if v is not None)
                if max_classes is not None and len(classes) > max_classes:
                    raise TooManyGroups(
                        f"The labels hold more than {max_classes:,} classes, the registry's limit.",
                        spec.y_true,
                    )
        else:
            cell[0] += count
            for i, m in enumerate(moments, start=1):
                cell[i] += m
    cells = [
        (key, tuple(values))
        for key, values in sorted(merged.items(), key=lambda kv: _sort_key(kv[0]))
    ]
    return Aggregate(
        spec=spec, cells=cells, engine=engine, query=query, source_sha256=source_sha256
    )
