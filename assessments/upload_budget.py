"""Uploads within a budget: a bias-check file's rows and decoded size, known before any data.

A Parquet file's footer says how many rows it holds and the type of each column; a column's
data is compressed and encoded (dictionaries, run lengths), so a 1.4 MB file can hold 10^8
rows that decode to gigabytes. :func:`check_budget` works out, from the footer alone, the
rows and the bytes the columns a check reads decode to (rows × each column's decoded width),
and refuses a file over the row cap or the memory budget before a byte of data is read. A CSV
file's rows are counted by streaming it (newlines, never more than a block in memory); its
decoded size follows from the same widths.

Figures and settings: ``BIAS_CHECK_MAX_ROWS`` (default 5,000,000 rows) and
``BIAS_CHECK_MEMORY_BUDGET_BYTES`` (default 1 GiB); the README has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from registry.errors import ValidationFailed

__all__ = ["Budget", "Estimate", "check_budget", "check_rows", "count_csv_rows", "estimate"]

# Bytes a value takes once decoded, by Parquet physical type. Numbers the check reads as
# scores are float64 whatever they are stored as; text is read dictionary-encoded (an int32
# index a row), and its values are counted at their longest known length.
_PHYSICAL_WIDTHS = {
    "BOOLEAN": 1,
    "INT32": 4,
    "INT64": 8,
    "INT96": 12,
    "FLOAT": 4,
    "DOUBLE": 8,
}
# A text value whose length the footer's statistics do not give is counted at this many bytes.
TEXT_VALUE_BYTES = 32
NUMBER_BYTES = 8
TEXT_INDEX_BYTES = 4
_COUNT_BLOCK = 1 << 20


@dataclass(frozen=True)
class Budget:
    """The most rows, and the most decoded bytes, one upload may hold."""

    max_rows: int
    max_bytes: int


@dataclass(frozen=True)
class Estimate:
    """What a file holds: rows, and the bytes its read columns decode to."""

    rows: int
    decoded_bytes: int
    exact_rows: bool = True  # False: a CSV's rows counted from its lines (quoted newlines too)


def _human(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"


def _parquet_width(metadata: pq.FileMetaData, index: int, numeric: bool) -> int:
    column = metadata.schema.column(index)
    if numeric:
        return NUMBER_BYTES
    physical = column.physical_type
    if physical in _PHYSICAL_WIDTHS:
        return _PHYSICAL_WIDTHS[physical]
    if physical == "FIXED_LEN_BYTE_ARRAY":
        return TEXT_INDEX_BYTES + max(int(column.length or 0), 1)
    longest = 0
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            return TEXT_INDEX_BYTES + TEXT_VALUE_BYTES
        for value in (stats.min, stats.max):
            longest = max(longest, len(value) if isinstance(value, (str, bytes)) else 8)
    return TEXT_INDEX_BYTES + max(longest, 1)


def _estimate_parquet(path: Path, columns: Sequence[str], numeric: Sequence[str]) -> Estimate:
    with path.open("rb") as fh, pq.ParquetFile(fh) as parquet:
        metadata = parquet.metadata
        wanted = set(columns)
        width = sum(
            _parquet_width(metadata, j, metadata.schema.column(j).path in numeric)
            for j in range(metadata.num_columns)
            if metadata.schema.column(j).path in wanted
        )
        rows = metadata.num_rows
    return Estimate(rows=rows, decoded_bytes=rows * width)


def count_csv_rows(path: Path, stop_after: int | None = None) -> int:
    """Data rows of a CSV file (lines after the header, a last line without a newline too),
    counted in blocks; counting stops once more than ``stop_after`` are seen."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(_COUNT_BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
            if stop_after is not None and lines > stop_after + 1:
                return lines - 1
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _estimate_csv(
    path: Path, columns: Sequence[str], numeric: Sequence[str], stop_after: int | None
) -> Estimate:
    rows = count_csv_rows(path, stop_after)
    width = sum(NUMBER_BYTES if c in numeric else TEXT_INDEX_BYTES for c in dict.fromkeys(columns))
    return Estimate(rows=rows, decoded_bytes=rows * width, exact_rows=False)


def estimate(
    path: str | Path,
    file_format: str,
    *,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
    stop_after_rows: int | None = None,
) -> Estimate:
    """The rows and decoded bytes of the ``columns`` of a checked CSV or Parquet file."""
    path = Path(path)
    if file_format == "parquet":
        return _estimate_parquet(path, columns, numeric)
    return _estimate_csv(path, columns, numeric, stop_after_rows)


def check_rows(rows: int, max_rows: int, filename: str = "The file") -> None:
    """Refuse a file found (when read) to hold more than ``max_rows`` rows."""
    if rows > max_rows:
        message = (
            f"{filename} holds {rows:,} rows; a bias check takes at most {max_rows:,} rows "
            "(BIAS_CHECK_MAX_ROWS)."
        )
        raise ValidationFailed(message, {"file": [message]})


def check_budget(
    path: str | Path,
    file_format: str,
    budget: Budget,
    *,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
    filename: str = "The file",
) -> Estimate:
    """Refuse (422, naming the file and the figures) a file over the row cap or the budget."""
    found = estimate(
        path, file_format, columns=columns, numeric=numeric, stop_after_rows=budget.max_rows
    )
    if found.rows > budget.max_rows:
        said = "declares" if found.exact_rows else "has more than"
        rows = f"{found.rows:,}" if found.exact_rows else f"{budget.max_rows:,}"
        message = (
            f"{filename} {said} {rows} rows; a bias check takes at most {budget.max_rows:,} "
            "rows (BIAS_CHECK_MAX_ROWS). Aggregate the rows (a frequency column) or sample them."
        )
        raise ValidationFailed(message, {"file": [message]})
    if found.decoded_bytes > budget.max_bytes:
        message = (
            f"{filename}: {found.rows:,} rows of the {len(set(columns))} columns checked would "
            f"take about {_human(found.decoded_bytes)} in memory once decoded, more than the "
            f"budget of {_human(budget.max_bytes)} (BIAS_CHECK_MEMORY_BUDGET_BYTES); it was not "
            "read."
        )
        raise ValidationFailed(message, {"file": [message]})
    return found
