"""A use case's public record: its 36 inventory columns as the public reads them.

Pure functions over plain values (no database, no Flask), so that the lifecycle can store a
published version, the publishing service can build one and a migration can fill the history,
all with the same rules:

- `row_for` gives a pilot's inventory row (see `reports.inventory` for how registry and
  imported values become cells);
- `withhold` replaces each withheld column by "withheld" and says which OMB reason covers it;
- `withheld_columns` maps the names a pilot's ``withheld_fields`` may use (inventory column
  names, or the pilot fields' API names) to the inventory columns they hide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from registry.catalog import vocabulary

COLUMNS: tuple[str, ...] = tuple(vocabulary.INVENTORY_COLUMNS)
# Inventory columns read straight from a pilot column of the same meaning (name, purpose and
# agency are written by registry_values itself).
TEXT_COLUMNS: dict[str, str] = {
    column: attr
    for column, attr in vocabulary.OMB_COLUMN_FIELDS.items()
    if column not in ("use_case_name", "problem_solved", "agency")
}
# The M-25-21 practices the checklist answers (hi_potential_impacts is the pilot's own text).
PRACTICE_COLUMNS: tuple[str, ...] = vocabulary.HI_PRACTICE_COLUMNS
LIST_COLUMNS = frozenset({"demographic_features", "hi_public_consultation"})
CHECKLIST_ANSWERS = {"met": "Yes", "unmet": "In-progress", "waived": "CAIO Waived"}
HIGH_IMPACT = vocabulary.IsHighImpact.HIGH_IMPACT.value
EMPTY_PRACTICES = {column: ("[]" if column in LIST_COLUMNS else "") for column in PRACTICE_COLUMNS}
WITHHELD = vocabulary.WITHHELD_TEXT
REQUIRED_PUBLIC_COLUMNS = vocabulary.REQUIRED_PUBLIC_COLUMNS


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def stringify_list(values: Iterable[str] | None) -> str:
    """A list as the consolidated inventory writes it: Python's ``['a', 'b']``."""
    return str(list(values or []))


def registry_values(pilot: Mapping[str, Any], owner_email: str) -> dict[str, str]:
    """The inventory columns a pilot's own fields give (every column but the hi_* practices)."""
    values = {
        "agency": _text(pilot["agency"]),
        "id": _text(pilot["use_case_id"]),
        "use_case_name": _text(pilot["name"]),
        "contact_email": _text(owner_email),
        "development_stage": vocabulary.Stage.label_of(pilot["stage"]),
        "problem_solved": _text(pilot["purpose"]),
        "demographic_features": stringify_list(pilot["demographic_features"]),
    }
    for column, attr in TEXT_COLUMNS.items():
        values[column] = _text(pilot[attr])
    return values


def checklist_answers(checklist: Mapping[str, Any]) -> dict[str, str]:
    """The hi_* practice columns from a stored M-25-21 checklist (``Checklist.to_dict()``)."""
    statuses = {item["id"]: item["status"] for item in checklist.get("items", [])}
    answers = {}
    for column in PRACTICE_COLUMNS:
        answer = CHECKLIST_ANSWERS.get(statuses.get(column, ""), "")
        if column in LIST_COLUMNS:
            answer = stringify_list([answer] if answer else [])
        answers[column] = answer
    return answers


def as_approved(pilot: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pilot with its unreviewed material changes replaced by the approved revision's
    values (``approved_fields``): the public sees what was approved until a CAIO decides."""
    frozen = pilot.get("approved_fields")
    if not pilot.get("unreviewed_changes") or not isinstance(frozen, dict):
        return pilot
    values = dict(pilot)
    for key in pilot["unreviewed_changes"]:
        spec = vocabulary.FIELDS_BY_KEY.get(key)
        if spec is not None and spec.name in values and key in frozen:
            values[spec.name] = frozen[key]
    return values


def row_for(pilot: Mapping[str, Any], owner_email: str, *, assessed: bool) -> dict[str, str]:
    """One pilot's inventory row: the 36 columns, in order, as text (not yet neutralised).

    ``owner_email`` is the contact to publish (an inquiry address where one is configured);
    ``assessed`` says whether the pilot was assessed here (its hi_* answers then come from
    the stored checklist rather than from an imported file).
    """
    pilot = as_approved(pilot)
    values = registry_values(pilot, owner_email)
    extra = pilot["inventory_extra"] or {}
    raw = extra.get("raw") if isinstance(extra, dict) else None
    if isinstance(raw, dict):
        as_imported = extra.get("as_imported") or {}
        for column, current in values.items():
            if column in raw and current == as_imported.get(column, raw[column]):
                values[column] = raw[column]
        if not assessed:
            for column in PRACTICE_COLUMNS:
                values[column] = _text(raw.get(column, EMPTY_PRACTICES[column]))
    if PRACTICE_COLUMNS[0] not in values:
        if pilot["is_high_impact"] == HIGH_IMPACT and pilot.get("compliance"):
            values.update(checklist_answers(pilot["compliance"]))
        else:
            values.update(EMPTY_PRACTICES)
    return {column: values[column] for column in COLUMNS}


# ---- withholding -----------------------------------------------------------------------------

# Names a withheld field may go by: the inventory's columns, and the pilot fields' API names
# for the columns they fill (purpose -> problem_solved, name -> use_case_name, ...).
_FIELD_TO_COLUMN: dict[str, str] = {
    **{column: column for column in COLUMNS},
    **{field.key: field.omb for field in vocabulary.PILOT_FIELDS if field.omb},
    "stage": "development_stage",
    "owner_email": "contact_email",
}
WITHHOLDABLE: dict[str, str] = {
    name: column
    for name, column in _FIELD_TO_COLUMN.items()
    if column not in vocabulary.NEVER_WITHHELD_COLUMNS
}


def withheld_columns(fields: Iterable[str], reasons: Mapping[str, str] | None) -> dict[str, str]:
    """The inventory columns the withheld fields hide, each with its OMB reason."""
    reasons = reasons or {}
    default = vocabulary.IsWithheld.DISCLOSURE_RISK.value
    found: dict[str, str] = {}
    for name in fields or ():
        column = WITHHOLDABLE.get(name)
        if column is not None:
            found[column] = reasons.get(name) or reasons.get(column) or default
    return found


def withhold(row: Mapping[str, str], columns: Iterable[str]) -> dict[str, str]:
    """The row with each of ``columns`` replaced by "withheld" (a withheld column that was
    empty stays empty: there is nothing to hide, and "withheld" would claim there is)."""
    hidden = set(columns)
    return {
        column: (WITHHELD if column in hidden and value else value) for column, value in row.items()
    }


def empty_required(row: Mapping[str, str]) -> list[str]:
    """The required public columns that are empty in a row."""
    return [column for column in REQUIRED_PUBLIC_COLUMNS if not (row.get(column) or "").strip()]


def is_wholly_withheld(is_withheld: str | None) -> bool:
    """A use case withheld as a whole ("Yes - ..." or "Other") stays out of the inventory."""
    value = is_withheld or ""
    return value.startswith("Yes") or value.startswith("Other")


def search_text(row: Mapping[str, str]) -> str:
    """What the public page's search looks in: only public (never withheld) values."""
    parts = [row.get(c, "") for c in ("use_case_name", "problem_solved", "agency", "agency_name")]
    return " ".join(part for part in parts if part and part != WITHHELD).lower()
