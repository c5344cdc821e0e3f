"""Neutralising CSV cells against formula injection, for every CSV the registry writes.

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and
some also a leading tab or carriage return), so a value such as ``=HYPERLINK(...)`` typed into
a pilot's name would run on the computer of whoever opens the export. Every such cell is
prefixed with a single quote, which spreadsheets show as text and never evaluate.

The rule is applied to every cell, whatever its column, so a legitimate value that starts with
one of these characters (for example a bulleted ``- Reduce manual work`` description) comes out
as ``'- Reduce manual work``. Readers that want the original value strip that one quote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """The cell text for a value: None is empty, and a formula-like text gets a leading quote."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def safe_row(values: Iterable[Any]) -> list[str]:
    """A row of cells, each neutralised."""
    return [neutralise(value) for value in values]
