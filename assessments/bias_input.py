"""Read and validate an uploaded bias-check file before any metric is computed.

Two steps:

1. :func:`read_table` sniffs the format from the bytes (Parquet magic ``PAR1``, otherwise
   UTF-8 CSV with a comma, semicolon or tab delimiter detected from the header line), rejects
   spreadsheets, binary data, other encodings, ragged rows and formula-like cells, and reads
   only the requested columns. Text columns are read dictionary-encoded (pandas categoricals)
   so that every later check works on the few distinct values, not on every row.
2. :func:`prepare` maps the chosen columns to 0/1 labels, scores and sensitive-feature groups,
   drops and counts rows with missing values, and checks that the result can be assessed.

Every problem is a :class:`registry.errors.ValidationFailed` whose ``errors`` name the place:
``"file"``, a column name, ``"row N"`` (N counts data rows from 1, the header not included) or
``"line N"`` (a line of the file, the header being line 1).

Label values
------------
Labels and the positive label are compared through a canonical text form: surrounding spaces
are removed and letters are case-folded; numbers are written in their shortest form, so ``1``,
``1.0``, ``"1"`` and ``"1.00"`` are all ``"1"``; booleans and ``"true"``/``"false"`` are
``"1"``/``"0"``. Hence ``positive_label="1"`` matches ``1``, ``1.0``, ``"1"``, ``True`` and
``"TRUE"``, and ``positive_label="yes"`` matches ``"Yes"``. A label column must hold at most two
distinct canonical values, one of which (if there are two) is the positive label; the other is
the negative label. The same positive label applies to ``y_true`` and ``y_pred``.

Missing values
--------------
Empty cells and ``NA``, ``N/A``, ``NaN``, ``nan``, ``null``, ``NULL`` and ``None`` are missing.
Rows with a missing value in any used column are dropped and counted in
``Prepared.n_rows_dropped`` (per column in ``Prepared.missing_by_column``), never silently.

Memory
------
The file is streamed: CSV in blocks of 64-256 KiB, Parquet in batches of 16 Ki rows, each
folded at once into one compact array per column (text as int8/int16 codes, Parquet integers
in the smallest type that holds them, scores as float64), so what stays in memory is about a
byte a row per text column, not the file. Arrow's buffers for reading come from the system
allocator (:data:`_POOL`), which hands freed memory back (the Parquet reader's own
decompression buffers still come from Arrow's global pool). Measured figures:
``benchmarks/README.md``.
"""

from __future__ import annotations

import abc
import codecs
import csv
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assessments import bias_aggregates
from assessments.metrics import (
    CHUNK_ROWS,
    MAX_GROUPS,
    chunked_bincount,
    chunked_take,
    encode_groups,
    observed_groups,
    overlapping_bins,
    small_int_dtype,
)
from registry.errors import PayloadTooLarge, ValidationFailed

__all__ = [
    "NULL_MARKERS",
    "Prepared",
    "header_columns",
    "prepare",
    "read_table",
]

NULL_MARKERS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
_HEAD_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_FORMULA_START = ("=", "+", "-", "@")
_DICT_TYPE = pa.dictionary(pa.int32(), pa.string())
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# Reading streams the file: at most a few blocks or row batches are in memory at once (the
# CSV reader reads up to ~40 blocks ahead), and each is folded into compact per-column storage.
# CSV blocks are 1/256 of the file, between these bounds (smaller blocks cost Python time per
# block; larger ones memory).
_CSV_BLOCK_BYTES = (1 << 16, 1 << 18)
_PARQUET_ROWS = 1 << 14
# A column chunk up to this size is read whole (the least memory in all); a larger one
# through a buffer of _PARQUET_BUFFER_BYTES.
_PARQUET_WHOLE_CHUNK_BYTES = 16 << 20
_PARQUET_BUFFER_BYTES = 1 << 20
# Largest storage allocated up front from a declared or estimated row count (it grows beyond).
_MAX_INITIAL_ROWS = 1 << 27
# Arrow memory for reading comes from the system allocator: it hands freed memory back, where
# the default (mimalloc) pool keeps tens of MB resident after a read.
_POOL = pa.system_memory_pool()

_MAGIC = [
    (b"PK\x03\x04", "a ZIP archive (for example an Excel .xlsx workbook)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document (for example an Excel .xls file)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
]


def _fail(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={key: message})


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sniffed:
    kind: str  # "csv" or "parquet"
    delimiter: str = ","
    header: tuple[str, ...] = ()
    bom: bool = False
    head_bytes_per_row: float = 1.0  # average data row length in the head (CSV)


def _sniff(path: Path) -> _Sniffed:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise _fail("file", "The file could not be opened.") from exc
    if size == 0 or not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise _fail("file", "The file is empty.")
    if head.startswith(b"PAR1"):
        return _Sniffed(kind="parquet")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            hint = "save it as UTF-8 CSV or Parquet"
            if "Excel" in what:
                hint = "export the sheet as CSV (UTF-8) or Parquet"
            raise _fail("file", f"The file is {what}, not CSV or Parquet: {hint}.")
    if b"\x00" in head:
        raise _fail("file", "The file holds binary data; upload a UTF-8 CSV or Parquet file.")
    bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if bom else head
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated = len(head) == _HEAD_BYTES and exc.start >= len(body) - 3
        if not truncated:
            line = body[: exc.start].count(b"\n") + 1
            raise _encoding_error(line, body[exc.start]) from exc
        text = body[: exc.start].decode("utf-8")
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise _fail("line 1", "The first line is blank; it must hold the column names.")
    delimiter = _detect_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    header_end = body.find(b"\n") + 1
    n_lines = body.count(b"\n", header_end)
    per_row = (len(body) - header_end) / n_lines if header_end and n_lines else len(body)
    return _Sniffed(
        kind="csv",
        delimiter=delimiter,
        header=tuple(h.strip() for h in header),
        bom=bom,
        head_bytes_per_row=per_row,
    )


def _encoding_error(line: int, byte: int) -> ValidationFailed:
    return _fail(
        f"line {line}",
        f"The file is not UTF-8 text (byte 0x{byte:02X} on line {line}); "
        "save it with UTF-8 encoding.",
    )


def _detect_delimiter(header_line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties keep the first (comma)
    return best if counts[best] else ","


def _check_header(header: Sequence[str], columns: Sequence[str]) -> None:
    errors: dict[str, str] = {}
    available = ", ".join(h for h in header if h) or "(none)"
    for col in columns:
        n = sum(1 for h in header if h == col)
        if n == 0:
            errors[col] = f"Column not found. Available columns: {available}."
        elif n > 1:
            errors[col] = f"The column name appears {n} times in the header."
    if errors:
        raise ValidationFailed("Some columns are missing or ambiguous.", errors=errors)


def header_columns(path: str | PathLike[str]) -> list[str]:
    """List the column names of an uploaded CSV or Parquet file.

    Parameters
    ----------
    path : str or path-like
        The uploaded file.

    Returns
    -------
    list of str
        Column names in file order (surrounding spaces removed for CSV).

    Raises
    ------
    registry.errors.ValidationFailed
        If the file is empty, not CSV or Parquet, binary, or not UTF-8.
    """
    path = Path(path)
    sniffed = _sniff(path)
    if sniffed.kind == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    return list(sniffed.header)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_table(
    path: str | PathLike[str],
    *,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Read the needed columns of an uploaded CSV or Parquet file, rejecting bad files.

    Parameters
    ----------
    path : str or path-like
        The uploaded file. The format is taken from its content, not its name.
    columns : sequence of str
        Columns to read (others are skipped).
    numeric : sequence of str, optional
        Those of ``columns`` that must hold numbers (scores); read as float64. Every other
        column is read as text (a pandas categorical) from CSV, and as text, integers, booleans
        or floats from Parquet.
    max_bytes : int, optional
        Reject larger files with :class:`registry.errors.PayloadTooLarge`.

    Returns
    -------
    pandas.DataFrame
        The requested columns in the requested order; text columns are categoricals with
        surrounding spaces stripped; missing values (see :data:`NULL_MARKERS`) are NaN.

    Raises
    ------
    registry.errors.ValidationFailed
        With ``errors`` keyed by ``"file"`` (empty, spreadsheet, binary, unreadable Parquet, no
        data rows), ``"line N"`` (not UTF-8, wrong number of fields), ``"row N"`` (a cell that
        looks like a spreadsheet formula) or a column name (missing, duplicated, wrong type,
        text in a numeric column).
    registry.errors.PayloadTooLarge
        If the file is larger than ``max_bytes``.
    """
    path = Path(path)
    columns = list(dict.fromkeys(columns))
    numeric = [c for c in dict.fromkeys(numeric) if c in columns]
    if not columns:
        raise _fail("columns", "No columns were chosen.")
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise PayloadTooLarge(
            f"The file is larger than the {max_bytes:,}-byte limit.",
            errors={"file": f"larger than {max_bytes:,} bytes"},
        )
    sniffed = _sniff(path)
    if sniffed.kind == "parquet":
        builders = _read_parquet(path, columns, numeric)
    else:
        builders = _read_csv(path, sniffed, columns, numeric)
    _POOL.release_unused()
    _check_formulas(builders)
    frame = pd.DataFrame({b.name: b.finish() for b in builders}, copy=False)
    if len(frame) == 0:
        raise _fail("file", "The file has no data rows.")
    return frame  # columns in the requested order already


def _room(data: np.ndarray, length: int, need: int, dtype: Any = None) -> np.ndarray:
    """``data`` (first ``length`` rows kept) with room for ``need`` rows, as ``dtype``.

    A larger or retyped array is a fresh ``np.empty`` into which only the filled rows are
    copied; the rows not yet written are never touched, so they take no memory (RSS).
    """
    dtype = np.dtype(dtype or data.dtype)
    if need <= len(data) and dtype == data.dtype:
        return data
    capacity = len(data) if need <= len(data) else max(need, 2 * len(data))
    out = np.empty(capacity, dtype=dtype)
    for start in range(0, length, CHUNK_ROWS):  # in chunks: no row-sized temporary
        stop = min(start + CHUNK_ROWS, length)
        out[start:stop] = data[start:stop]
    return out


class _Builder(abc.ABC):
    """Collects one column batch by batch into compact numpy storage.

    Storage is allocated once for ``capacity`` rows (an upper estimate: pages never written
    cost nothing) and grows by doubling if more rows come.
    """

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = max(int(capacity), 1)
        self.length = 0

    @abc.abstractmethod
    def add(self, array: pa.Array) -> None:
        """Append one batch of the column."""

    @abc.abstractmethod
    def finish(self) -> Any:
        """The whole column."""


class _TextBuilder(_Builder):
    """Text as small-integer codes plus distinct values (stripped; blanks are missing).

    Each batch arrives dictionary-encoded, so only its few dictionary entries are looked at:
    a small dictionary is looked up as a whole (CSV blocks repeat the same few), a large one
    entry by entry with arrow's ``index_in`` (Python sees only entries not seen before). The
    rows are then coded with one ``np.take``.
    """

    _SMALL = 64  # dictionaries up to this size are cached whole
    _CACHE = 1024  # at most this many cached dictionaries

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(name, capacity)
        self.codes = np.empty(self.capacity, dtype=np.int8)
        self.values: list[str] = []  # distinct stripped values, by code
        self._index: dict[str, int] = {}
        self._cache: dict[tuple[str | None, ...], list[int]] = {}
        self._raw: list[str | None] = []  # entries of large dictionaries seen, as read
        self._raw_codes: list[int] = []  # their codes (-1 = missing)
        self._raw_array: pa.Array | None = None

    def _code(self, value: str | None) -> int:
        if value is None:
            return -1
        text = value.strip()
        if text in NULL_MARKERS:
            return -1
        code = self._index.get(text)
        if code is None:
            code = self._index[text] = len(self.values)
            self.values.append(text)
        return code

    def _entry_codes(self, dictionary: pa.Array) -> list[int]:
        """The code of each dictionary entry (-1 = missing)."""
        if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
            dictionary = dictionary.cast(pa.string(), memory_pool=_POOL)
        if len(dictionary) <= self._SMALL:
            key = tuple(dictionary.to_pylist())
            codes = self._cache.get(key)
            if codes is None:
                if len(self._cache) >= self._CACHE:
                    self._cache.clear()
                codes = self._cache[key] = [self._code(v) for v in key]
            return codes
        if self._raw_array is None:
            self._raw_array = pa.array(self._raw, pa.string(), memory_pool=_POOL)
        found = pc.index_in(dictionary, value_set=self._raw_array, memory_pool=_POOL)
        if found.null_count:
            new = pc.filter(dictionary, pc.is_null(found), memory_pool=_POOL).to_pylist()
            for raw in new:
                self._raw.append(raw)
                self._raw_codes.append(self._code(raw))
            self._raw_array = pa.array(self._raw, pa.string(), memory_pool=_POOL)
            found = pc.index_in(dictionary, value_set=self._raw_array, memory_pool=_POOL)
        return np.asarray(self._raw_codes)[found.to_numpy(zero_copy_only=False)].tolist()

    def add(self, array: pa.Array) -> None:
        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(
                array.cast(pa.string(), memory_pool=_POOL), memory_pool=_POOL
            )
        n = len(array)
        entry_codes = self._entry_codes(array.dictionary)
        dtype = small_int_dtype(len(self.values))
        self.codes = _room(self.codes, self.length, self.length + n, dtype)
        remap = np.array([*entry_codes, -1], dtype=self.codes.dtype)
        indices = array.indices
        if array.null_count:  # -1 picks the sentinel at the end of the remap
            indices = pc.coalesce(indices, pa.scalar(-1, indices.type), memory_pool=_POOL)
        np.take(
            remap,
            indices.to_numpy(zero_copy_only=False),
            out=self.codes[self.length : self.length + n],
        )
        self.length += n

    def finish(self) -> pd.Categorical:
        codes = self.codes[: self.length]  # a view; the unused tail was never touched
        return pd.Categorical.from_codes(codes, categories=self.values, validate=False)


class _FloatBuilder(_Builder):
    """Numbers as float64, missing as NaN."""

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(name, capacity)
        self.data = np.empty(self.capacity, dtype=np.float64)

    def add(self, array: pa.Array) -> None:
        n = len(array)
        self.data = _room(self.data, self.length, self.length + n)
        # nulls become NaN (to_numpy of a float array)
        values = array.cast(pa.float64(), memory_pool=_POOL).to_numpy(zero_copy_only=False)
        self.data[self.length : self.length + n] = values
        self.length += n

    def finish(self) -> np.ndarray:
        return self.data[: self.length]


class _NativeBuilder(_Builder):
    """Integers, booleans or floats as they are (float64 with NaN if any is missing).

    Integers are kept in the smallest signed type that holds every value seen (0/1 labels
    written as int64 take one byte a row, not eight).
    """

    def __init__(self, name: str, capacity: int, arrow_type: pa.DataType) -> None:
        super().__init__(name, capacity)
        self.is_integer = pa.types.is_integer(arrow_type)
        if self.is_integer:
            dtype: Any = np.int8
        elif pa.types.is_boolean(arrow_type):
            dtype = np.bool_
        else:
            dtype = arrow_type.to_pandas_dtype()
        self.data = np.empty(self.capacity, dtype=dtype)
        self.has_null = False

    def _integer_dtype(self, values: np.ndarray) -> np.dtype:
        dtype = self.data.dtype
        if not len(values) or np.can_cast(values.dtype, dtype):
            return dtype
        low, high = int(values.min()), int(values.max())
        for candidate in (np.int8, np.int16, np.int32, np.int64):
            info = np.iinfo(candidate)
            if info.min <= low and high <= info.max:
                return np.promote_types(dtype, candidate)
        return np.dtype(np.uint64)  # above the int64 range (the column is unsigned)

    def add(self, array: pa.Array) -> None:
        n = len(array)
        if array.null_count and not self.has_null:
            self.has_null = True
            self.data = _room(self.data, self.length, self.length + n, np.float64)
        if self.has_null:
            values = array.cast(pa.float64(), memory_pool=_POOL).to_numpy(zero_copy_only=False)
            dtype = self.data.dtype
        else:
            values = array.to_numpy(zero_copy_only=False)
            dtype = self._integer_dtype(values) if self.is_integer else self.data.dtype
        self.data = _room(self.data, self.length, self.length + n, dtype)
        self.data[self.length : self.length + n] = values
        self.length += n

    def finish(self) -> np.ndarray:
        return self.data[: self.length]


def _csv_capacity(size: int, sniffed: _Sniffed) -> int:
    """An upper estimate of the data rows of a CSV file, from its size and its head."""
    per_row = max(sniffed.head_bytes_per_row, 1.0)
    return min(int(size / per_row * 1.25) + 1024, _MAX_INITIAL_ROWS)


def _csv_block_bytes(size: int) -> int:
    return min(max(size // 256, _CSV_BLOCK_BYTES[0]), _CSV_BLOCK_BYTES[1])


def _read_csv(
    path: Path, sniffed: _Sniffed, columns: list[str], numeric: list[str]
) -> list[_Builder]:
    """Stream the file in blocks of ``_CSV_BLOCK_BYTES``, folding each into the builders."""
    header = list(sniffed.header)
    _check_header(header, columns)
    types = {c: (pa.float64() if c in numeric else _DICT_TYPE) for c in columns}
    size = path.stat().st_size
    capacity = _csv_capacity(size, sniffed)
    builders: list[_Builder] = [
        (_FloatBuilder if col in numeric else _TextBuilder)(col, capacity) for col in columns
    ]
    try:
        with pa.OSFile(str(path), memory_pool=_POOL) as source:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=header,
                    skip_rows=1,
                    block_size=_csv_block_bytes(size),
                    use_threads=False,
                ),
                parse_options=pacsv.ParseOptions(delimiter=sniffed.delimiter),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types=types,
                    null_values=NULL_MARKERS,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
                memory_pool=_POOL,
            )
            for batch in reader:
                for builder in builders:
                    builder.add(batch.column(builder.name))
                del batch
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return builders  # a header and no rows: reported as "no data rows"
        raise _explain_csv_error(path, sniffed, columns, numeric, str(exc)) from exc
    return builders


def _csv_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record ends, fields) for each non-blank record after the header.

    A field over the csv module's limit (128 KiB) is a ValidationFailed naming its line."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            next(reader, None)
            for record in reader:
                if record:
                    yield reader.line_num, record
        except csv.Error as exc:
            line = reader.line_num
            raise _fail(
                f"line {line}",
                f"Line {line} could not be read as CSV: {exc} (a cell of more than "
                f"{csv.field_size_limit():,} characters, or an unclosed quote).",
            ) from exc


def _long_line(path: Path, limit: int) -> int | None:
    """The number of the first line longer than ``limit`` bytes (read in bounded pieces)."""
    number = 0
    with path.open("rb") as fh:
        while line := fh.readline(limit + 1):
            number += 1
            if len(line) > limit and not line.endswith(b"\n"):
                return number
            if not line.endswith(b"\n"):
                continue
    return None


def _explain_csv_error(
    path: Path, sniffed: _Sniffed, columns: list[str], numeric: list[str], message: str
) -> ValidationFailed:
    """Turn a pyarrow CSV error into a ValidationFailed naming the line, row or column."""
    if "UTF8" in message or "UTF-8" in message:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    return _encoding_error(number, raw[err.start])
        return _fail("file", "The file is not UTF-8 text; save it with UTF-8 encoding.")
    if "straddling" in message:  # a cell longer than a block of the reader
        block = _csv_block_bytes(path.stat().st_size)
        line = _long_line(path, block)
        if line is not None:
            return _fail(
                f"line {line}",
                f"Line {line} is longer than {block:,} bytes; a CSV cell may not be that long "
                "(or a quote is not closed).",
            )
    expected = len(sniffed.header)
    if "Expected" in message and "columns" in message:
        for line, record in _csv_records(path, sniffed.delimiter):
            if len(record) != expected:
                sep = _DELIMITER_NAMES[sniffed.delimiter]
                return _fail(
                    f"line {line}",
                    f"Line {line} has {len(record)} fields but the header has {expected} "
                    f"({sep}-separated).",
                )
    if "conversion error" in message:
        positions = {c: sniffed.header.index(c) for c in numeric}
        for row, (_line, record) in enumerate(_csv_records(path, sniffed.delimiter), start=1):
            for col, pos in positions.items():
                value = record[pos].strip() if pos < len(record) else ""
                if value in NULL_MARKERS:
                    continue
                try:
                    float(value)
                except ValueError:
                    message = (
                        f"Row {row}, column {col!r}: {_quote(value)} is not a number; the column "
                        "must hold numbers."
                    )
                    return ValidationFailed(message, errors={col: message, f"row {row}": message})
    return _fail("file", f"The file could not be read as CSV: {message.splitlines()[0]}")


def _quote(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _parquet_file(path: Path) -> pq.ParquetFile:
    """The file's footer (schema and metadata); the file is closed again."""
    try:
        with pa.OSFile(str(path), memory_pool=_POOL) as source:
            return pq.ParquetFile(source)
    except MemoryError:
        raise  # out of the reader's memory limit: not a damaged file
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail("file", "The file starts like Parquet but could not be read.") from exc


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _allowed_text_type(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _allowed_text_type(t.value_type)
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_floating(t)
    )


def _read_parquet(path: Path, columns: list[str], numeric: list[str]) -> list[_Builder]:
    """Read row batches of ``_PARQUET_ROWS`` rows, folding each into the builders."""
    pf = _parquet_file(path)
    schema = pf.schema_arrow
    _check_header(schema.names, columns)
    errors: dict[str, str] = {}
    for col in columns:
        t = schema.field(col).type
        if col in numeric:
            if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
                errors[col] = f"The column holds Parquet type {t}; it must hold numbers."
        elif not _allowed_text_type(t):
            errors[col] = (
                f"The column holds Parquet type {t}; it must hold text, integers or booleans."
            )
    if errors:
        raise ValidationFailed("Some columns have the wrong type.", errors=errors)
    read_dictionary = [c for c in columns if _is_text(schema.field(c).type)]
    # The declared row count sizes the storage; pages beyond the rows read are never touched
    # (and storage grows if a file holds more rows than it declares).
    capacity = min(pf.metadata.num_rows, _MAX_INITIAL_ROWS)
    builders: list[_Builder] = []
    for col in columns:
        t = schema.field(col).type
        if col in numeric:
            builders.append(_FloatBuilder(col, capacity))
        elif pa.types.is_dictionary(t) or _is_text(t):
            builders.append(_TextBuilder(col, capacity))
        else:
            builders.append(_NativeBuilder(col, capacity, t))
    try:
        with pa.OSFile(str(path), memory_pool=_POOL) as source:
            reader = _parquet_reader(source, read_dictionary, pf.metadata, columns)
            batches = reader.iter_batches(
                batch_size=_PARQUET_ROWS, columns=columns, use_threads=False
            )
            declared, seen = pf.metadata.num_rows, 0
            for batch in batches:
                seen += batch.num_rows
                if seen > declared:  # the footer's row count sized every budget: it must hold
                    raise _fail(
                        "file", f"The Parquet file holds more rows than the {declared:,} it declares."
                    )
                for builder in builders:
                    builder.add(batch.column(builder.name))
                del batch
    except MemoryError:
        raise  # out of the reader's memory limit: not a damaged file
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _fail("file", "The Parquet file could not be read.") from exc
    return builders


def _parquet_reader(
    source: pa.NativeFile,
    read_dictionary: list[str],
    metadata: pq.FileMetaData,
    columns: list[str],
) -> pq.ParquetFile:
    """A ParquetFile whose decoded data comes from ``_POOL``.

    ``ParquetFile`` takes no memory pool; its reader takes pyarrow's default pool when it is
    made, so the default is swapped for that one moment (buffers remember their own pool, so
    another thread allocating meanwhile is merely served by ``_POOL`` too). Column chunks are
    read whole unless one is larger than ``_PARQUET_WHOLE_CHUNK_BYTES``: a buffered stream's
    buffers come from Arrow's global pool, which holds on to more memory than the chunk.
    """
    wanted = set(columns)
    leaves = [j for j in range(metadata.num_columns) if metadata.schema.column(j).path in wanted]
    largest = 0
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in leaves:
            largest = max(largest, group.column(j).total_compressed_size)
    buffer_size = 0 if largest <= _PARQUET_WHOLE_CHUNK_BYTES else _PARQUET_BUFFER_BYTES
    previous = pa.default_memory_pool()
    pa.set_memory_pool(_POOL)
    try:
        return pq.ParquetFile(
            source,
            metadata=metadata,
            read_dictionary=read_dictionary or None,
            pre_buffer=False,
            buffer_size=buffer_size,
        )
    finally:
        pa.set_memory_pool(previous)


def _looks_like_formula(value: str) -> bool:
    v = value.lstrip(" ")
    return len(v) > 1 and v[0] in _FORMULA_START and not _NUMBER.match(v.strip())


def _check_formulas(builders: list[_Builder]) -> None:
    """Reject cells that a spreadsheet would run as formulas (CSV/formula injection)."""
    first: tuple[int, str, str] | None = None
    for builder in builders:
        if not isinstance(builder, _TextBuilder):
            continue
        bad = [i for i, v in enumerate(builder.values) if _looks_like_formula(v)]
        if not bad:
            continue
        lookup = np.zeros(max(bad) + 2, dtype=bool)  # code -1 picks the last entry, False
        lookup[bad] = True
        row = _first_true(builder.codes[: builder.length], lookup.__getitem__)
        if first is None or row < first[0]:
            first = (row, builder.name, builder.values[int(builder.codes[row])])
    if first is not None:
        row, col, value = first
        raise _fail(
            f"row {row + 1}",
            f"Row {row + 1}, column {col!r}: the cell {_quote(value)} looks like a spreadsheet "
            f"formula (it starts with {value[0]!r}); remove it or the leading character.",
        )


# --------------------------------------------------------------------------------------------
# Preparing
# --------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Validated inputs for :func:`assessments.metrics.compute_bias_metrics`.

    Attributes
    ----------
    y_true, y_pred : numpy.ndarray of int8
        1 = the positive label, 0 = the other label.
    features : pandas.DataFrame
        The sensitive features as categoricals of text.
    group_codes : numpy.ndarray of int8, int16 or int32
        Intersectional group of each row (see ``groups``); computed when first asked for, as
        :func:`assessments.metrics.compute_bias_metrics` does not need it.
    groups : list of tuple of str
        Feature values of each group.
    y_score : numpy.ndarray of float64 or None
        Scores in [0, 1].
    n_rows : int
        Rows kept.
    n_rows_dropped : int
        Rows dropped because a used column was missing.
    missing_by_column : dict of str to int
        Missing values per used column (a row can count in several columns).
    columns : dict of str to str
        The mapping used: ``{"y_true": ..., "y_pred": ..., "y_score": ...}``.
    positive_label : str
        Canonical form of the positive label.
    negative_labels : dict of str to str or None
        The other label found in each label column.
    frequency : numpy.ndarray of int64 or None
        Aggregated input: how many rows each kept row stands for (all positive); ``n_rows``
        and ``n_rows_dropped`` are then sums of these counts.
    y_score_bins : pair of numpy.ndarray or None
        Binned scores ``(low, high)`` of the kept rows, instead of ``y_score``.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    features: pd.DataFrame
    groups: list[tuple[str, ...]]
    y_score: np.ndarray | None
    n_rows: int
    n_rows_dropped: int
    missing_by_column: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    positive_label: str = "1"
    negative_labels: dict[str, str | None] = field(default_factory=dict)
    frequency: np.ndarray | None = None
    y_score_bins: tuple[np.ndarray, np.ndarray] | None = None
    _group_codes: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def group_codes(self) -> np.ndarray:
        """Intersectional group of each row (see ``groups``)."""
        if self._group_codes is None:
            self._group_codes, _groups = encode_groups(self.features)
        return self._group_codes

    def compute(self, **kwargs: Any) -> Any:
        """Run :func:`assessments.metrics.compute_bias_metrics` on these inputs.

        Parameters
        ----------
        **kwargs
            ``n_boot``, ``seed``, ``confidence``, ``min_group_size``.

        Returns
        -------
        assessments.metrics.BiasResult
        """
        from assessments.metrics import compute_bias_metrics

        return compute_bias_metrics(
            y_true=self.y_true,
            y_pred=self.y_pred,
            sensitive_features=self.features,
            y_score=self.y_score,
            frequency=self.frequency,
            y_score_bins=self.y_score_bins,
            **kwargs,
        )


def _canonical(value: Any) -> str | None:
    """Canonical text of a label (see the module documentation); None if missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    text = str(value).strip()
    if text in NULL_MARKERS:
        return None
    low = text.casefold()
    if low == "true":
        return "1"
    if low == "false":
        return "0"
    if _NUMBER.match(text):
        return _canonical(float(text))
    return low


def _codes(col: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the distinct values of a column."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.array.codes, list(col.array.categories)  # a view, no copy
    values = col.to_numpy()
    if values.dtype == np.bool_:
        return values.view(np.int8), [False, True]
    if np.issubdtype(values.dtype, np.integer) and len(values):
        low, high = int(values.min()), int(values.max())
        if low == 0 and values.dtype.kind == "i" and values.dtype.itemsize <= 2:
            return values, list(range(high + 1))  # values are their own codes
        if high - low < 2**15:  # small range: codes = value - min, without hashing
            codes = np.empty(len(values), dtype=small_int_dtype(high - low + 1))
            for start in range(0, len(values), CHUNK_ROWS):
                stop = start + CHUNK_ROWS
                np.subtract(values[start:stop], low, out=codes[start:stop], casting="unsafe")
            return codes, list(range(low, high + 1))
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes.astype(small_int_dtype(len(uniques))), list(uniques)


def _show(values: Sequence[str]) -> str:
    shown = [str(v) for v in values[:10]]
    more = f" and {len(values) - 10} more" if len(values) > 10 else ""
    return ", ".join(shown) + more


def _sort_values(values: set[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def prepare(
    df: pd.DataFrame,
    *,
    y_true: str,
    y_pred: str,
    sensitive_features: Sequence[str],
    y_score: str | None = None,
    positive_label: Any = "1",
    frequency: str | None = None,
    total_rows: int | None = None,
    y_score_bins: tuple[str, str] | None = None,
) -> Prepared:
    """Validate a column mapping and turn a table into metric inputs.

    Parameters
    ----------
    df : pandas.DataFrame
        The table, usually from :func:`read_table`.
    y_true : str
        Column with the true outcome.
    y_pred : str
        Column with the model's prediction.
    sensitive_features : sequence of str
        One to three columns whose combinations define the groups.
    y_score : str, optional
        Column with scores in [0, 1].
    positive_label : str, int, float or bool, default ``"1"``
        The label value that means "positive" in both label columns, compared in canonical
        text form (see the module documentation).
    frequency : str, optional
        Column of non-negative whole row counts (aggregated input): a row with count k stands
        for k identical rows; a row with count 0 stands for none and is left out. Counts,
        dropped rows and every result are then those of the expanded rows.
        Two rows may not hold the same cell (the same values in every other column).
    total_rows : int, optional
        The total the frequencies must add up to (checked when ``frequency`` is given).
    y_score_bins : pair of str, optional
        Columns with each row's score bin ``[low, high)``, instead of ``y_score``; two
        distinct bins may not overlap.

    Returns
    -------
    Prepared

    Raises
    ------
    registry.errors.ValidationFailed
        Keyed by the column (or ``"sensitive_features"`` / ``"file"``) for: no sensitive
        feature or more than three, a column used twice, a missing column (the available ones
        are listed), no rows (before or after dropping missing values), a label column that is
        not binary once the positive label is mapped (the values found are listed), scores
        that are not numbers or lie outside [0, 1], a sensitive feature with decimal numbers
        or too many values, and a single group.
    """
    features = list(sensitive_features)
    roles = {"y_true": y_true, "y_pred": y_pred}
    if y_score is not None:
        roles["y_score"] = y_score
    if y_score_bins is not None:
        roles["y_score_low"], roles["y_score_high"] = y_score_bins
    if frequency is not None:
        roles["frequency"] = frequency
    _check_mapping(df, roles, features)
    errors: dict[str, str] = {}

    positive = _canonical(positive_label)
    if positive is None:
        raise _fail("positive_label", "The positive label must not be empty.")

    # ---- codes, missing values, aggregated input (counts, one row per cell, the total) ----
    numbers: dict[str, np.ndarray] = {}
    if y_score is not None:
        numbers[y_score] = _score_array(df[y_score], y_score)
    if y_score_bins is not None:
        for col in y_score_bins:
            numbers[col] = _score_array(df[col], col)
    rows = _rows(
        df,
        labels=[y_true, y_pred],
        features=features,
        numbers=numbers,
        frequency=frequency,
        total_rows=total_rows,
    )
    coded, weights, kept, row_number = rows.coded, rows.weights, rows.kept, rows.row_number
    n_kept, n_dropped, missing_by_column = rows.n_kept, rows.n_dropped, rows.missing_by_column
    score = numbers.get(y_score) if y_score is not None else None
    bins = (numbers[y_score_bins[0]], numbers[y_score_bins[1]]) if y_score_bins else None

    # ---- labels ----
    labels: dict[str, np.ndarray] = {}
    negatives: dict[str, str | None] = {}
    for role, col in (("y_true", y_true), ("y_pred", y_pred)):
        codes, _uniques, canon = coded[col]
        codes = kept(codes)
        values = {c for c in canon if c is not None}
        if len(values) > 2 or (len(values) == 2 and positive not in values):
            # some stored values may not occur (in kept rows): count to be exact
            present = np.flatnonzero(chunked_bincount(codes, len(canon)))
            values = {canon[i] for i in present if canon[i] is not None}
        others = values - {positive}
        if len(values) > 2:
            errors[col] = (
                f"{role}: values must be binary; found {_show(_sort_values(values))}. For more "
                "than two classes, run a multiclass check (task multiclass_classification)."
            )
            continue
        if len(values) == 2 and positive not in values:
            errors[col] = (
                f"{role}: the positive label {positive!r} does not occur; found "
                f"{_show(_sort_values(values))}. Choose the value that means positive."
            )
            continue
        lookup = np.array([c == positive for c in canon] + [False], dtype=np.int8)
        if codes.dtype == np.int8 and np.array_equal(lookup[:-1], np.arange(len(canon))):
            labels[role] = codes  # codes 0/1 already mean negative/positive: no copy
        else:
            labels[role] = chunked_take(lookup, codes)
        negatives[role] = next(iter(others)) if others else None

    # ---- score ----
    if score is not None and y_score is not None:
        score = kept(score)
        if len(score) and (score.min() < 0 or score.max() > 1):
            first = _first_true(score, lambda part: (part < 0) | (part > 1))
            row = row_number(first)
            errors[y_score] = (
                f"Scores must lie between 0 and 1; found {float(score.min()):g} to "
                f"{float(score.max()):g} (first outside the range: row {row}, "
                f"{float(score[first]):g})."
            )
    if bins is not None and y_score_bins is not None:
        low, high = kept(bins[0]), kept(bins[1])
        bins = (low, high)
        bad = (low < 0) | (low > 1) | (high <= low)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            row = row_number(first)
            message = (
                f"Row {row}: the score bin [{low[first]:g}, {high[first]:g}) is not valid; a bin "
                "needs 0 <= low <= 1 and high above low."
            )
            raise ValidationFailed(message, errors={f"row {row}": message})
        pair = overlapping_bins(low, high)
        if pair is not None:
            rows = [row_number(i) for i in pair]
            message = (
                f"Rows {rows[0]} and {rows[1]} hold overlapping score bins "
                f"[{low[pair[0]]:g}, {high[pair[0]]:g}) and [{low[pair[1]]:g}, "
                f"{high[pair[1]]:g}); two bins must be identical or not overlap."
            )
            raise ValidationFailed(message, errors={f"row {r}": message for r in rows})

    # ---- sensitive features ----
    features_frame = _features_frame(df, features, coded, kept, errors)
    if errors:
        raise ValidationFailed("The data cannot be assessed as mapped.", errors=errors)
    groups = _groups(features_frame, features, n_kept)
    columns = dict(roles)
    for i, f in enumerate(features, start=1):
        columns[f"sensitive_feature_{i}"] = f
    return Prepared(
        y_true=labels["y_true"],
        y_pred=labels["y_pred"],
        features=features_frame,
        groups=groups,
        y_score=score,
        n_rows=n_kept,
        n_rows_dropped=n_dropped,
        missing_by_column=missing_by_column,
        columns=columns,
        positive_label=positive,
        negative_labels=negatives,
        frequency=kept(weights) if weights is not None else None,
        y_score_bins=bins,
    )


def _check_mapping(df: pd.DataFrame, roles: dict[str, str], features: list[str]) -> None:
    """A 422 for a mapping that cannot work: features, a column used twice, a missing column."""
    errors: dict[str, str] = {}
    if not features:
        errors["sensitive_features"] = "Choose at least one sensitive feature."
    elif len(features) > 3:
        errors["sensitive_features"] = (
            f"Choose at most three sensitive features ({len(features)} were chosen)."
        )
    elif len(set(features)) != len(features):
        errors["sensitive_features"] = "A sensitive feature was chosen twice."
    used = list(roles.values()) + features
    for role, col in roles.items():
        if used.count(col) > 1:
            errors[col] = f"The column {col!r} is used for {role} and for another role."
    available = ", ".join(map(str, df.columns)) or "(none)"
    for col in dict.fromkeys(used):
        if col not in df.columns:
            errors[col] = f"Column not found. Available columns: {available}."
    if errors:
        raise ValidationFailed("The column mapping is not valid.", errors=errors)
    if len(df) == 0:
        raise _fail("file", "The file has no data rows.")


@dataclass
class _Rows:
    """A mapped table's columns as codes or numbers, and which rows are kept.

    A row is left out when a used column is missing there (dropped, and counted) or, in
    aggregated input, when its frequency is 0 (it stands for no row; not counted).
    """

    coded: dict[str, tuple[np.ndarray, list[Any], list[str | None]]]
    weights: np.ndarray | None
    keep: np.ndarray | None
    n_kept: int
    n_dropped: int
    missing_by_column: dict[str, int]

    def kept(self, a: np.ndarray) -> np.ndarray:
        return a if self.keep is None else a[self.keep]

    def row_number(self, kept_index: int) -> int:
        """The data row (from 1) of a kept row."""
        if self.keep is None:
            return kept_index + 1
        return int(np.flatnonzero(self.keep)[kept_index]) + 1

    def kept_weights(self) -> np.ndarray | None:
        return None if self.weights is None else self.kept(self.weights)


def _rows(
    df: pd.DataFrame,
    *,
    labels: Sequence[str],
    features: Sequence[str],
    numbers: dict[str, np.ndarray],
    frequency: str | None,
    total_rows: int | None,
) -> _Rows:
    """Code the label and feature columns (one pass per column over integer codes), find the
    missing values, and check aggregated input: counts, one row per cell, the declared total.

    ``labels`` are compared by their canonical text (:func:`_canonical`), ``features`` by
    :func:`_feature_label`; ``numbers`` are numeric columns already read (NaN = missing).
    """
    n = len(df)
    missing = np.zeros(n, dtype=bool)
    missing_by_column: dict[str, int] = {}
    coded: dict[str, tuple[np.ndarray, list[Any], list[str | None]]] = {}
    for col in [*labels, *features]:
        if col in coded:
            continue
        codes, uniques = _codes(df[col])
        canon = [_canonical(u) if col in labels else _feature_label(u) for u in uniques]
        if any(c is None for c in canon) or (len(codes) and codes.min() < 0):
            is_missing = np.array([c is None for c in canon] + [True])  # code -1: missing
            missing_by_column[col] = _mark_missing(missing, codes, is_missing.__getitem__)
        else:
            missing_by_column[col] = 0
        coded[col] = (codes, uniques, canon)
    for col, values in numbers.items():
        missing_by_column[col] = _mark_missing(missing, values, np.isnan)

    weights: np.ndarray | None = None
    if frequency is not None:
        weights = bias_aggregates.frequency_counts(df[frequency], frequency)
        cells: dict[str, np.ndarray] = {
            col: _canonical_ids(codes, canon) for col, (codes, _u, canon) in coded.items()
        }
        cells.update(numbers)
        bias_aggregates.check_duplicate_cells(cells)
        bias_aggregates.check_total(weights, total_rows, frequency)
        # a row that stands for no row is left out (it is not a dropped row)
        missing_by_column = {
            col: _weighted_count(mask, weights) for col, mask in _missing_masks(coded, numbers)
        }
        excluded = missing | (weights == 0)
        n_dropped = _weighted_count(missing, weights)
        n_kept = int(weights.sum()) - n_dropped
        keep = ~excluded if excluded.any() else None
    else:
        n_dropped = int(missing.sum())
        keep = ~missing if n_dropped else None
        n_kept = n - n_dropped
    if n_kept == 0:
        if weights is not None and not n_dropped:
            raise _fail("file", "Every frequency is 0: the file stands for no rows.")
        raise _fail(
            "file",
            f"No rows are left after dropping {n_dropped:,} rows with missing values "
            f"({_missing_text(missing_by_column)}).",
        )
    return _Rows(coded, weights, keep, n_kept, n_dropped, missing_by_column)


def _features_frame(
    df: pd.DataFrame,
    features: Sequence[str],
    coded: dict[str, tuple[np.ndarray, list[Any], list[str | None]]],
    kept: Any,
    errors: dict[str, str],
) -> pd.DataFrame:
    """The kept rows' sensitive features as clean categoricals; problems go to ``errors``."""
    frame: dict[str, pd.Categorical] = {}
    for col in features:
        codes, uniques, canon = coded[col]
        codes = kept(codes)
        if pd.api.types.is_float_dtype(df[col].dtype):
            fractional = [u for u in uniques if not float(u).is_integer()]
            if fractional:
                errors[col] = (
                    "A sensitive feature must hold categories, not decimal numbers "
                    f"(found {_show([str(u) for u in fractional])})."
                )
                continue
        if len(canon) > MAX_GROUPS:
            present = np.flatnonzero(chunked_bincount(codes, len(canon)))
        else:
            present = np.arange(len(canon))
        if len(present) > MAX_GROUPS:
            errors[col] = (
                f"The column has {len(present):,} distinct values; a sensitive feature may have "
                f"at most {MAX_GROUPS:,} (is it an identifier?)."
            )
            continue
        names = list(dict.fromkeys(c for c in canon if c is not None))
        position = {c: i for i, c in enumerate(names)}
        remap = np.array(
            [position.get(c, -1) if c is not None else -1 for c in canon] + [-1],
            dtype=small_int_dtype(len(names)),
        )
        if remap.dtype == codes.dtype and np.array_equal(remap[:-1], np.arange(len(canon))):
            new_codes = codes  # already clean: no copy
        else:
            new_codes = chunked_take(remap, codes)
        frame[col] = pd.Categorical.from_codes(new_codes, categories=names, validate=False)
    return pd.DataFrame(frame, copy=False)


def _groups(features_frame: pd.DataFrame, features: Sequence[str], n_kept: int) -> list:
    """The observed intersectional groups; a 422 unless there are at least two."""
    try:
        groups = observed_groups(features_frame)
    except ValueError as exc:
        raise _fail("sensitive_features", f"{exc}.") from exc
    if len(groups) < 2:
        only = ", ".join(f"{f} = {v}" for f, v in zip(features, groups[0], strict=True))
        raise _fail(
            "sensitive_features",
            f"All {n_kept:,} rows are in one group ({only}); at least two groups are needed to "
            "compare.",
        )
    return groups


def _canonical_ids(codes: np.ndarray, canon: list[str | None]) -> np.ndarray:
    """Each row's canonical value as a small integer (missing = -1), for comparing cells."""
    ids: dict[str, int] = {}
    lookup = np.array(
        [ids.setdefault(c, len(ids)) if c is not None else -1 for c in canon] + [-1],
        dtype=np.int64,
    )
    return chunked_take(lookup, codes)


def _missing_masks(
    coded: dict[str, tuple[np.ndarray, list[Any], list[str | None]]],
    numbers: dict[str, np.ndarray],
) -> Iterator[tuple[str, np.ndarray]]:
    """(column, rows where it is missing) for each used column."""
    for col, (codes, _uniques, canon) in coded.items():
        is_missing = np.array([c is None for c in canon] + [True])
        yield col, chunked_take(is_missing, codes)
    for col, values in numbers.items():
        yield col, np.isnan(values)


def _weighted_count(mask: np.ndarray, weights: np.ndarray) -> int:
    """How many rows the masked aggregated rows stand for."""
    return int(weights[mask].sum())


def _mark_missing(missing: np.ndarray, values: np.ndarray, test: Any) -> int:
    """Set ``missing`` where ``test(values)`` holds, in chunks; return how many held."""
    count = 0
    for start in range(0, len(values), CHUNK_ROWS):
        part = test(values[start : start + CHUNK_ROWS])
        n = int(np.count_nonzero(part))
        if n:  # untouched pages of `missing` (np.zeros) take no memory
            count += n
            missing[start : start + CHUNK_ROWS] |= part
    return count


def _first_true(values: np.ndarray, test: Any) -> int:
    """Index of the first value for which ``test`` (applied to a chunk) holds."""
    for start in range(0, len(values), CHUNK_ROWS):
        hits = np.flatnonzero(test(values[start : start + CHUNK_ROWS]))
        if len(hits):
            return start + int(hits[0])
    raise AssertionError("no value passes the test")


def _feature_label(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    text = str(value).strip()
    return None if text in NULL_MARKERS else text


def _score_array(col: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col.dtype):
        raise _fail(name, "Scores must be numbers between 0 and 1, not true/false values.")
    if pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    as_text = col.astype("string").str.strip()
    values = pd.to_numeric(as_text.where(~as_text.isin(NULL_MARKERS)), errors="coerce")
    bad = values.isna() & as_text.notna() & ~as_text.isin(NULL_MARKERS)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fail(
            name,
            f"Scores must be numbers; row {first + 1} holds {_quote(str(as_text.iloc[first]))}.",
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _missing_text(missing_by_column: dict[str, int]) -> str:
    parts = [f"{col}: {count:,}" for col, count in missing_by_column.items() if count]
    return "missing values by column: " + ", ".join(parts) if parts else "no values"
