"""Human-readable differences between two policy versions stored as YAML text."""

from __future__ import annotations

import difflib
from typing import Any

from .schema import parse_yaml

__all__ = ["changed_sections", "readable_diff"]


def readable_diff(
    old_yaml: str,
    new_yaml: str,
    *,
    old_label: str = "previous",
    new_label: str = "proposed",
    context: int = 3,
) -> str:
    """Return a unified diff of two YAML texts, or "" when they are identical.

    Parameters
    ----------
    old_yaml, new_yaml : str
        The two policy bodies; they need not be valid.
    old_label, new_label : str
        Names shown on the ``---`` and ``+++`` lines, e.g. ``"v1.0.0"`` and ``"v1.1.0"``.
    context : int, default 3
        Unchanged lines shown around each change.
    """
    lines = difflib.unified_diff(
        old_yaml.splitlines(),
        new_yaml.splitlines(),
        fromfile=old_label,
        tofile=new_label,
        n=context,
        lineterm="",
    )
    text = "\n".join(lines)
    return f"{text}\n" if text else ""


def changed_sections(old_yaml: str, new_yaml: str) -> dict[str, list[str]]:
    """Summarise which sections changed between two policy bodies.

    Top-level keys are compared, and for mapping values (``requirements``, ``fairness``, ...)
    their keys too, giving paths such as ``requirements.III``.

    Parameters
    ----------
    old_yaml, new_yaml : str
        The two policy bodies; each must at least be YAML.

    Returns
    -------
    dict
        ``{"added": [...], "removed": [...], "changed": [...]}``, each sorted.

    Raises
    ------
    PolicyInvalid
        If either text is not YAML (path ``yaml``).
    """
    old, new = parse_yaml(old_yaml), parse_yaml(new_yaml)
    summary: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    _compare(
        old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}, "", 2, summary
    )
    return {key: sorted(paths) for key, paths in summary.items()}


def _compare(
    old: dict[Any, Any], new: dict[Any, Any], prefix: str, depth: int, out: dict[str, list[str]]
) -> None:
    for key in old.keys() | new.keys():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in new:
            out["removed"].append(path)
        elif key not in old:
            out["added"].append(path)
        elif old[key] != new[key]:
            if depth > 1 and isinstance(old[key], dict) and isinstance(new[key], dict):
                _compare(old[key], new[key], path, depth - 1, out)
            else:
                out["changed"].append(path)
