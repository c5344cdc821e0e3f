"""The public AI use-case inventory in the OMB M-25-21 (2025) format: export and import.

Export
------
`export_rows()` gives one row per published pilot: the 36 columns of the OMB 2025 data
dictionary (`vocabulary.INVENTORY_COLUMNS`), in order, as text. A pilot is published unless
its `is_withheld` starts with "Yes" or "Other" (so "No", empty and NULL are published). No
internal field (review status, risk tier, owner account, ...) is exported. Rows come in pilot
order, so an imported file comes back in its own order.

A pilot registered here is exported from its own fields: `id` is its `use_case_id`, or
``{agency}-REG-{pilot.id:04d}`` when it has none; `contact_email` is its owner's email;
`development_stage` is `STAGE_TO_OMB[stage]`; `demographic_features` is the Python-style
list ``['b) Sex', 'c) Age']`` (``[]`` when empty), as the consolidated file writes it. The
nine hi_* columns come from the M-25-21 checklist for high-impact pilots (met "Yes", unmet
"In-progress", waived "CAIO Waived"; `hi_public_consultation` as a one-item list such as
``['Yes']``; `hi_potential_impacts` is the pilot's own text); for other pilots they are empty
(``[]`` for `hi_public_consultation`).

An imported pilot keeps the file's cell text, so that exporting gives back exactly what was
imported (see `inventory_extra` below):

- a column is exported as the imported cell text for as long as the registry's value for
  that column (what the export of a registry pilot would show) is still the value the import
  stored; once someone changes the pilot's field, the registry's value is exported. So the
  imported contact stays the `contact_email` until the pilot's owner is changed, and a
  long-form answer such as "a) Pre-deployment – ..." stays until the stage changes.
- the hi_* practice columns are the imported answers until the pilot is assessed here (it has
  an impact assessment or an evidence file); from then on they come from the checklist.

`inventory_extra` of an imported pilot holds ``{"raw": {column: cell text} for the 36
columns, "as_imported": {column: registry value}}`` where `as_imported` lists only the columns
whose registry value differed from the cell text at import time.

Import
------
`import_inventory()` loads a CSV in this format (UTF-8, with or without a BOM; every one of
the 36 columns must be in the header, in any order; other columns are ignored). Rules:

- Key. A row is keyed on (agency, id) and stored in `Pilot.use_case_id`: the id itself when it
  already starts with "{agency}-" (``DOJ-0357``), else ``{agency}-{id}`` (the consolidated
  file reuses bare numbers such as ``35`` across EPA, NSF and Treasury). A row with an empty or
  placeholder id (``TBD``, ``N/A``, ``none``, ``unknown``, ``-``) gets ``{agency}-NOID-{hash}``
  where the hash is of agency, bureau and use-case name, with ``-2``, ``-3`` ... for the
  second and later rows with the same three values in the file: stable across imports of the
  same file, so importing it again changes nothing. The exported `id` is still the file's own
  cell (empty stays empty).
- Duplicates. A row identical in all 36 cells to an earlier row, and a row whose key an
  earlier row already used with different content, are rejected with the earlier line.
- Rejections. Missing agency or use_case_name, an unrecognised development_stage,
  is_high_impact or is_withheld, an agency, name or key longer than its column, and a row with
  the wrong number of cells are rejected with the line and the reason; nothing is dropped
  silently. The line is the record's row as a spreadsheet numbers it: the header is line 1,
  the first use case line 2, and a cell holding line breaks does not shift the numbering.
- Values. Shorthand codes and the data dictionary's long forms ("a) Pre-deployment – ...",
  "c) Not high-impact", "b) Developed in-house", "['Sex', 'Age']") are both understood:
  development_stage sets `stage` (empty: ``pre_deployment``), is_high_impact and is_withheld
  are stored as the shorthand codes, the Yes/No and multiple-choice columns as their codes
  when recognised (else as written), demographic_features as the vocabulary items recognised.
  An optional text longer than its column is not stored in that column (the export still
  gives it back from the raw cell). An empty problem_solved gives the purpose
  "Not stated in the inventory."; a retired row gets a `retired_reason` saying so.
- Owner. The pilot is owned by the active user whose email is the contact's first email
  address, if there is one; otherwise by the importing admin, with `owner_to_confirm` set when
  the row has no usable contact email.
- Re-import. A pilot whose stored raw row equals the file's row is unchanged (edits made in
  the registry since are kept); a different row updates the pilot's imported fields.
- Every created or updated pilot gets an "import" audit event in the same transaction; the
  import commits every `BATCH_SIZE` rows.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import selectinload

from registry.auth.models import User
from registry.auth.permissions import authorize
from registry.catalog import lifecycle, vocabulary
from registry.catalog.models import Pilot, PilotRevision
from registry.errors import ValidationFailed
from registry.extensions import db
from reports.csv_safety import safe_row

COLUMNS: tuple[str, ...] = tuple(vocabulary.INVENTORY_COLUMNS)
BATCH_SIZE = 500
NO_PURPOSE = "Not stated in the inventory."
RETIRED_REASON = "Reported as retired in the imported AI use-case inventory."
PLACEHOLDER_IDS = frozenset({"", "tbd", "n/a", "na", "none", "null", "unknown", "-", "--"})

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
HIGH_IMPACT = "High-impact"

# ---- reading values ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def stringify_list(values: Iterable[str] | None) -> str:
    """A list as the consolidated inventory writes it: Python's ``['a', 'b']``."""
    return str(list(values or []))


def parse_list(cell: str) -> list[str]:
    """A stringified list cell as a list of strings (a bare text is a one-item list)."""
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            parsed = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list | tuple):
            return [str(item).strip() for item in parsed if str(item).strip()]
        cell = cell.strip("[]")
    return [part.strip().strip("'\"").strip() for part in cell.split(",") if part.strip()]


_LETTER = re.compile(r"^\(?[a-z]\)\s*", re.IGNORECASE)
_EXPLANATION = re.compile(r"\s+[–—:-]\s+|\s*[–—]\s*")


def _plain(cell: str) -> str:
    """A long-form answer reduced to its lower-case head: "a) Pilot – The use..." -> "pilot"."""
    text = _LETTER.sub("", cell.strip())
    return text.strip().lower()


def _head(cell: str) -> str:
    """`_plain` without the explanation after a dash: "pre-deployment – the use..." -> ..."""
    return _EXPLANATION.split(_plain(cell), maxsplit=1)[0].strip(" .")


def map_stage(cell: str) -> str | None:
    """Our stage for a development_stage cell; "" gives pre_deployment; None if unknown."""
    head = _head(cell)
    if not head:
        return vocabulary.Stage.PRE_DEPLOYMENT.value
    for prefix, stage in (
        ("pre-deployment", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("predeployment", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("pre deployment", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("initiated", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("acquisition", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("development", vocabulary.Stage.PRE_DEPLOYMENT.value),
        ("pilot", "pilot"),
        ("implementation", "pilot"),
        ("deployed", "deployed"),
        ("in production", "deployed"),
        ("operation", "deployed"),
        ("retired", "retired"),
    ):
        if head.startswith(prefix):
            return stage
    return None


def map_high_impact(cell: str) -> tuple[bool, str | None]:
    """(recognised, shorthand code or None for empty)."""
    head = _plain(cell)
    if not head:
        return True, None
    if head.startswith("presumed"):
        return True, "Presumed High-Impact, but Not High-impact"
    if head.startswith(("not high", "not a high", "no")):
        return True, "Not High-impact"
    if head.startswith(("high", "yes")):
        return True, HIGH_IMPACT
    return False, None


def map_withheld(cell: str) -> tuple[bool, str | None]:
    """(recognised, shorthand code or None for empty)."""
    head = _plain(cell)
    if not head:
        return True, None
    if head == "no" or head.startswith(("no ", "no,", "no-", "no –", "no.")):
        return True, "No"
    if head.startswith("yes"):
        if "law" in head or "prohibit" in head:
            return True, "Yes - Prohibited by Law"
        return True, "Yes - Disclosure Risk"
    if head.startswith("other"):
        return True, "Other"
    return False, None


def _choice(cell: str, choices: Iterable[str]) -> str | None:
    """The vocabulary code a cell names (by code or long form), else None."""
    head = _head(cell)
    plain = _plain(cell)
    for choice in choices:
        code = choice.lower()
        if head == code or plain == code:
            return choice
    return None


def map_yes_no(cell: str) -> str | None:
    head = _plain(cell)
    if head == "yes" or head.startswith(("yes ", "yes,", "yes-", "yes.")):
        return "Yes"
    if head == "no" or head.startswith(("no ", "no,", "no-", "no.")):
        return "No"
    return None


def map_contracting(cell: str) -> str | None:
    found = _choice(cell, vocabulary.CONTRACTING_USAGE)
    if found:
        return found
    head = _plain(cell)
    in_house = "in-house" in head or "in house" in head
    if in_house and ("contract" in head or "both" in head or "vendor" in head):
        return "Contracting and In House"
    if in_house:
        return "In-house Development"
    if "vendor" in head or "purchase" in head or "contract" in head:
        return "Vendor Purchased"
    return None


_DEMOGRAPHIC_BY_TEXT = {_plain(item): item for item in vocabulary.DEMOGRAPHIC_FEATURES}
_DEMOGRAPHIC_BY_TEXT.update({item.lower(): item for item in vocabulary.DEMOGRAPHIC_FEATURES})


def map_demographics(cell: str) -> list[str]:
    """The vocabulary items a demographic_features cell names ('Sex' or 'b) Sex')."""
    found = []
    for item in parse_list(cell):
        code = _DEMOGRAPHIC_BY_TEXT.get(item.lower()) or _DEMOGRAPHIC_BY_TEXT.get(_plain(item))
        if code and code not in found:
            found.append(code)
    return found


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def contact_address(cell: str) -> str | None:
    """The first email address in a contact cell, lower-cased; None when there is none."""
    match = _EMAIL.search(cell or "")
    return match.group(0).lower() if match else None


# ---- export --------------------------------------------------------------------------------


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


EMPTY_PRACTICES = {column: ("[]" if column in LIST_COLUMNS else "") for column in PRACTICE_COLUMNS}


def _published():
    """The WHERE condition of published pilots: submitted, approved or imported at some point
    (never a team's unsubmitted draft), and is_withheld neither "Yes..." nor "Other..."."""
    pilots = Pilot.__table__.c
    withheld = func.coalesce(pilots.is_withheld, "")
    return and_(
        pilots.public_since.is_not(None),
        not_(or_(withheld.like("Yes%"), withheld.like("Other%"))),
    )


def _assessed_ids(pilot_ids: list[int] | None) -> set[int]:
    """Pilots with an impact assessment or an evidence file (their hi_* come from here)."""
    from assessments.models import Evidence, ImpactAssessment

    found: set[int] = set()
    for model in (ImpactAssessment, Evidence):
        stmt = select(model.pilot_id).distinct()
        if pilot_ids is not None:
            for start in range(0, len(pilot_ids), 500):
                chunk = pilot_ids[start : start + 500]
                found.update(db.session.scalars(stmt.where(model.pilot_id.in_(chunk))))
        else:
            found.update(db.session.scalars(stmt))
    return found


def _as_approved(pilot: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pilot with its unreviewed material changes replaced by the approved revision's
    values: the public sees what was approved until a CAIO decides on the changes."""
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
    """One pilot's inventory row: the 36 columns, in order, as text (not yet neutralised)."""
    pilot = _as_approved(pilot)
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


_ROW_FIELDS = (
    "id",
    "use_case_id",
    "name",
    "purpose",
    "agency",
    "stage",
    "demographic_features",
    "inventory_extra",
    "compliance",
    "unreviewed_changes",
    *TEXT_COLUMNS.values(),
)


def _export_statement(filters: Mapping[str, Any] | None = None):
    """The published pilots' columns, their owner's email and, for the few with unreviewed
    changes, the approved revision's fields: one query, whatever the inventory's size."""
    pilots = Pilot.__table__
    users = User.__table__
    revisions = PilotRevision.__table__
    stmt = (
        select(
            *(pilots.c[name] for name in dict.fromkeys(_ROW_FIELDS)),
            revisions.c.fields.label("approved_fields"),
            users.c.email,
        )
        .join(users, users.c.id == pilots.c.owner_id)
        .outerjoin(
            revisions,
            and_(
                revisions.c.pilot_id == pilots.c.id,
                revisions.c.number == pilots.c.approved_revision,
            ),
        )
        .where(_published())
        .order_by(pilots.c.id)
    )
    return stmt.where(*_filter_conditions(filters or {}))


def export_rows(
    filters: Mapping[str, Any] | None = None, *, page: int | None = None, page_size: int = 25
) -> Iterator[dict[str, str]]:
    """The published inventory as rows of the 36 columns, in pilot order (import order)."""
    stmt = _export_statement(filters)
    if page is not None:
        stmt = stmt.limit(page_size).offset((page - 1) * page_size)
    result = db.session.execute(stmt).all()
    ids = [row.id for row in result]
    assessed = _assessed_ids(ids if page is not None else None)
    keys = [*dict.fromkeys(_ROW_FIELDS), "approved_fields", "owner_email"]
    for row in result:
        pilot = dict(zip(keys, row, strict=True))
        yield row_for(pilot, pilot["owner_email"], assessed=pilot["id"] in assessed)


def count_rows(filters: Mapping[str, Any] | None = None) -> int:
    stmt = select(func.count()).select_from(_export_statement(filters).order_by(None).subquery())
    return int(db.session.scalar(stmt) or 0)


def export_csv(rows: Iterable[Mapping[str, str]] | None = None) -> str:
    """The inventory as CSV text: the header, then every row with each cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in export_rows() if rows is None else rows:
        writer.writerow(safe_row(row[column] for column in COLUMNS))
    return buffer.getvalue()


# ---- filters for the public page -------------------------------------------------------------

FILTERS = ("q", "agency", "topic_area", "development_stage", "is_high_impact")


def _filter_conditions(filters: Mapping[str, Any]) -> list:
    pilots = Pilot.__table__.c
    conditions = []
    if q := (filters.get("q") or "").strip().lower():
        pattern = f"%{q}%"
        conditions.append(
            or_(
                func.lower(pilots.name).like(pattern),
                func.lower(pilots.purpose).like(pattern),
                func.lower(pilots.agency).like(pattern),
                func.lower(func.coalesce(pilots.agency_name, "")).like(pattern),
            )
        )
    if agency := (filters.get("agency") or "").strip():
        conditions.append(func.lower(pilots.agency) == agency.lower())
    if topic := (filters.get("topic_area") or "").strip():
        conditions.append(pilots.topic_area == topic)
    if stage := (filters.get("development_stage") or "").strip():
        conditions.append(pilots.stage == vocabulary.OMB_TO_STAGE.get(stage, stage))
    if impact := (filters.get("is_high_impact") or "").strip():
        conditions.append(pilots.is_high_impact == impact)
    return conditions


def agencies() -> list[str]:
    """The agencies with a published use case, for the page's filter."""
    pilots = Pilot.__table__.c
    stmt = select(pilots.agency).where(_published()).distinct().order_by(pilots.agency)
    return list(db.session.scalars(stmt))


def topic_areas() -> list[str]:
    pilots = Pilot.__table__.c
    stmt = (
        select(pilots.topic_area)
        .where(_published(), pilots.topic_area.is_not(None), pilots.topic_area != "")
        .distinct()
        .order_by(pilots.topic_area)
    )
    return list(db.session.scalars(stmt))


# ---- import --------------------------------------------------------------------------------


class InventoryFileError(ValidationFailed):
    """The file as a whole can't be read as an inventory (encoding, header)."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {len(self.rejected)}"
        )

    def rejection_lines(self) -> list[str]:
        return [f"line {line}: {reason}" for line, reason in self.rejected]


@dataclass
class _Candidate:
    line: int
    key: str
    raw: dict[str, str]
    fields: dict[str, Any]
    contact: str | None


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line, row) for each record, or (line, reason) for a record of the wrong width."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InventoryFileError("The file is empty.", {"file": ["The file is empty."]}) from None
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        message = "The header lacks the columns " + ", ".join(missing) + "."
        raise InventoryFileError(
            "This is not an OMB 2025 AI use-case inventory file.", {"file": [message]}
        )
    positions = {column: header.index(column) for column in COLUMNS}
    for start, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield start, f"the row has {len(cells)} cells; the header has {len(header)}"
            continue
        yield start, {column: cells[index] for column, index in positions.items()}


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"The file is not UTF-8 text (byte {error.start})."
        raise InventoryFileError(message, {"file": [message]}) from None


def _limit(attr: str) -> int | None:
    return getattr(Pilot.__table__.c[attr].type, "length", None)


def _fits(attr: str, value: str | None) -> bool:
    limit = _limit(attr)
    return value is None or limit is None or len(value) <= limit


def _synthetic_base(agency: str, bureau: str, name: str) -> str:
    digest = hashlib.sha256(
        "\x1f".join(part.strip().lower() for part in (agency, bureau, name)).encode()
    ).hexdigest()[:10]
    return f"{agency}-NOID-{digest}"


def _map_row(raw: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """The pilot fields a row gives, or (None, reason)."""
    cell = {column: raw[column].strip() for column in COLUMNS}
    if not cell["agency"]:
        return None, "agency is empty"
    if not cell["use_case_name"]:
        return None, "use_case_name is empty"
    stage = map_stage(cell["development_stage"])
    if stage is None:
        return None, f"unknown development_stage {cell['development_stage']!r}"
    ok, high_impact = map_high_impact(cell["is_high_impact"])
    if not ok:
        return None, f"unknown is_high_impact {cell['is_high_impact']!r}"
    ok, withheld = map_withheld(cell["is_withheld"])
    if not ok:
        return None, f"unknown is_withheld {cell['is_withheld']!r}"
    for column, attr in (("agency", "agency"), ("use_case_name", "name")):
        if not _fits(attr, cell[column]):
            return None, f"{column} is longer than {_limit(attr)} characters"

    def optional(column: str, mapped: str | None = None) -> str | None:
        value = mapped if mapped is not None else (cell[column] or None)
        attr = TEXT_COLUMNS.get(column, column)
        return value if _fits(attr, value) else None

    fields: dict[str, Any] = {
        "name": cell["use_case_name"],
        "purpose": cell["problem_solved"] or NO_PURPOSE,
        "agency": cell["agency"],
        "stage": stage,
        "retired_reason": RETIRED_REASON if stage == "retired" else None,
        "is_withheld": withheld,
        "is_high_impact": high_impact,
        "topic_area": optional("topic_area", _choice(cell["topic_area"], vocabulary.TOPIC_AREAS)),
        "classification": optional(
            "classification", _choice(cell["classification"], vocabulary.CLASSIFICATIONS)
        ),
        "contracting_usage": optional(
            "contracting_usage", map_contracting(cell["contracting_usage"])
        ),
        "demographic_features": map_demographics(cell["demographic_features"]),
    }
    for column in ("have_ato", "has_pii", "has_custom_code"):
        fields[column] = optional(column, map_yes_no(cell[column]))
    for column, attr in TEXT_COLUMNS.items():
        if attr not in fields:
            fields[attr] = optional(column)
    return fields, ""


def _registry_view(fields: Mapping[str, Any], key: str, owner_email: str) -> dict[str, str]:
    pilot = {**fields, "id": 0, "use_case_id": key, "inventory_extra": None}
    return registry_values(pilot, owner_email)


def _extra(raw: dict[str, str], fields: Mapping[str, Any], key: str, owner_email: str) -> dict:
    view = _registry_view(fields, key, owner_email)
    as_imported = {column: value for column, value in view.items() if value != raw[column]}
    return {"raw": dict(raw), "as_imported": as_imported}


def _candidates(text: str, result: ImportResult) -> list[_Candidate]:
    """The rows to import, keyed; rejected rows go to result.rejected."""
    accepted: list[_Candidate] = []
    seen_rows: dict[tuple[str, ...], int] = {}
    seen_keys: dict[str, int] = {}
    synthetic: Counter[str] = Counter()
    limit = _limit("use_case_id") or 64
    for line, row in read_rows(text):
        if isinstance(row, str):
            result.rejected.append((line, row))
            continue
        signature = tuple(row[column] for column in COLUMNS)
        if signature in seen_rows:
            result.rejected.append(
                (line, f"duplicate row: identical to line {seen_rows[signature]}")
            )
            continue
        seen_rows[signature] = line
        fields, reason = _map_row(row)
        if fields is None:
            result.rejected.append((line, reason))
            continue
        agency, given = fields["agency"], row["id"].strip()
        if given.lower() in PLACEHOLDER_IDS:
            base = _synthetic_base(agency, row["agency_bureau"], row["use_case_name"])
            synthetic[base] += 1
            key = base if synthetic[base] == 1 else f"{base}-{synthetic[base]}"
        elif given.upper().startswith(agency.upper() + "-"):
            key = given
        else:
            key = f"{agency}-{given}"
        if len(key) > limit:
            result.rejected.append((line, f"id {given!r} is longer than the registry keeps"))
            continue
        if key in seen_keys:
            result.rejected.append(
                (
                    line,
                    f"duplicate id {given!r} for agency {agency}: line {seen_keys[key]} "
                    "has the same id with different content",
                )
            )
            continue
        seen_keys[key] = line
        fields["use_case_id"] = key
        accepted.append(_Candidate(line, key, row, fields, contact_address(row["contact_email"])))
    return accepted


def _existing(keys: list[str]) -> dict[str, tuple[int, dict | None]]:
    """use_case_id -> (pilot id, stored raw row) for the keys already in the registry."""
    pilots = Pilot.__table__.c
    found: dict[str, tuple[int, dict | None]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(pilots.use_case_id, pilots.id, pilots.inventory_extra).where(
            pilots.use_case_id.in_(chunk)
        )
        for use_case_id, pilot_id, extra in db.session.execute(stmt):
            raw = extra.get("raw") if isinstance(extra, dict) else None
            found[use_case_id] = (pilot_id, raw)
    return found


def _owner_for(candidate: _Candidate, users: Mapping[str, User], admin: User) -> User:
    if candidate.contact and candidate.contact in users:
        return users[candidate.contact]
    return admin


def import_inventory(text: str, actor: User, *, source: str = "upload") -> ImportResult:
    """Import an inventory CSV (already decoded) as `actor`, an administrator."""
    authorize(actor, "inventory.import")
    result = ImportResult()
    candidates = _candidates(text, result)
    existing = _existing([c.key for c in candidates])
    users = {
        user.email.lower(): user
        for user in db.session.scalars(select(User).where(User.active.is_(True)))
    }
    to_create: list[_Candidate] = []
    to_update: list[tuple[int, _Candidate]] = []
    for candidate in candidates:
        if candidate.key not in existing:
            to_create.append(candidate)
        elif existing[candidate.key][1] == candidate.raw:
            result.unchanged += 1
        else:
            to_update.append((existing[candidate.key][0], candidate))

    for start in range(0, len(to_create), BATCH_SIZE):
        batch = []
        for candidate in to_create[start : start + BATCH_SIZE]:
            owner = _owner_for(candidate, users, actor)
            batch.append(
                lifecycle.ImportedPilot(
                    line=candidate.line,
                    fields=candidate.fields,
                    owner=owner,
                    owner_to_confirm=candidate.contact is None,
                    inventory_extra=_extra(
                        candidate.raw, candidate.fields, candidate.key, owner.email
                    ),
                )
            )
        result.created += len(lifecycle.import_new(batch, actor, source=source))
        db.session.commit()

    for start in range(0, len(to_update), BATCH_SIZE):
        batch = dict(to_update[start : start + BATCH_SIZE])
        pilots = db.session.scalars(
            select(Pilot)
            .where(Pilot.id.in_(list(batch)))
            .options(selectinload(Pilot.team_members), selectinload(Pilot.data_sources))
        ).all()
        for pilot in pilots:
            candidate = batch[pilot.id]
            lifecycle.import_update(
                pilot,
                candidate.fields,
                _extra(candidate.raw, candidate.fields, candidate.key, pilot.owner.email),
                actor,
                line=candidate.line,
                source=source,
            )
            result.updated += 1
        db.session.commit()
    result.rejected.sort()
    return result
