"""The public inventory as the public sees it: read from stored published versions only.

The current inventory is each use case's latest version when it is listed (published, not
retracted, not withheld as a whole). The history holds every version of every use case that
was ever listed, with its date, action and reason; a field withheld now is shown as "withheld"
in every earlier version too, so the history never gives away what the current record hides.
The year-over-year comparison reads the same versions as of two dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import and_, func, or_, select

from registry.auth import organizations
from registry.catalog import public_record
from registry.catalog.models import Pilot, PublishedVersion
from registry.catalog.vocabulary import PublicationAction
from registry.extensions import db
from reports.csv_safety import safe_row

COLUMNS = public_record.COLUMNS
FILTERS = ("q", "agency", "topic_area", "development_stage", "is_high_impact")
HISTORY_COLUMNS = ("use_case_key", "version", "published_at", "action", "reason", *COLUMNS)
DIFF_COLUMNS = ("use_case_key", "use_case_name", "change", "date", "reason", "fields")
V = PublishedVersion


def _agency_condition(agency: str):
    """An organisation's code (its bureaus and offices included) or the agency as published.

    Below the root, a use case whose bureau or office is withheld is not listed under its
    bureau: listing it there would tell what the record hides."""
    organization = organizations.by_code(agency)
    by_text = func.lower(V.agency) == agency.lower()
    if organization is None:
        return by_text
    pilot_ids = select(Pilot.id).where(
        Pilot.organization_id.in_(organizations.subtree_ids([organization.id]))
    )
    by_organization = V.pilot_id.in_(pilot_ids)
    if organization.parent_id is not None:
        bureau = func.coalesce(V.row["agency_bureau"].as_string(), "")
        by_organization = and_(by_organization, bureau != public_record.WITHHELD)
    return or_(by_text, by_organization)


def _conditions(filters: Mapping[str, Any]) -> list:
    conditions = [V.is_current.is_(True), V.listed.is_(True)]
    if q := (filters.get("q") or "").strip().lower():
        conditions.append(V.search_text.like(f"%{q}%"))
    if agency := (filters.get("agency") or "").strip():
        conditions.append(_agency_condition(agency))
    if topic := (filters.get("topic_area") or "").strip():
        conditions.append(V.topic_area == topic)
    if stage := (filters.get("development_stage") or "").strip():
        conditions.append(V.development_stage == stage)
    if impact := (filters.get("is_high_impact") or "").strip():
        conditions.append(V.is_high_impact == impact)
    return conditions


def export_rows(
    filters: Mapping[str, Any] | None = None, *, page: int | None = None, page_size: int = 25
) -> Iterator[dict[str, str]]:
    """The current inventory's rows (36 columns), in the order the use cases were registered."""
    stmt = select(V.row).where(*_conditions(filters or {})).order_by(V.pilot_id, V.id)
    if page is not None:
        stmt = stmt.limit(page_size).offset((page - 1) * page_size)
    for (row,) in db.session.execute(stmt):
        yield {column: row.get(column, "") for column in COLUMNS}


def page_of_versions(
    filters: Mapping[str, Any], *, page: int, page_size: int
) -> list[PublishedVersion]:
    stmt = (
        select(V)
        .where(*_conditions(filters))
        .order_by(V.pilot_id, V.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return list(db.session.scalars(stmt))


def count_rows(filters: Mapping[str, Any] | None = None) -> int:
    stmt = select(func.count()).select_from(V).where(*_conditions(filters or {}))
    return int(db.session.scalar(stmt) or 0)


def agencies() -> list[str]:
    stmt = select(V.agency).where(*_conditions({})).distinct().order_by(V.agency)
    return list(db.session.scalars(stmt))


def topic_areas() -> list[str]:
    stmt = (
        select(V.topic_area)
        .where(*_conditions({}), V.topic_area.is_not(None), V.topic_area != "")
        .where(V.topic_area != public_record.WITHHELD)
        .distinct()
        .order_by(V.topic_area)
    )
    return list(db.session.scalars(stmt))


def current(use_case_id: str) -> PublishedVersion | None:
    """The current version of a use case, listed or not (a permalink says when and why a
    retracted or withheld record left the inventory); None for one never listed."""
    if not use_case_id or len(use_case_id) > 64:
        return None
    version = db.session.scalar(
        select(V).where(V.use_case_id == use_case_id, V.is_current.is_(True))
    )
    if version is None or not _ever_listed(use_case_id):
        return None
    return version


def _ever_listed(use_case_id: str) -> bool:
    return (
        db.session.scalar(
            select(V.id).where(V.use_case_id == use_case_id, V.listed.is_(True)).limit(1)
        )
        is not None
    )


def versions_of(use_case_id: str) -> list[dict[str, Any]]:
    """A use case's public versions, newest first, as the history shows them."""
    rows = [row for row in _history(use_case_id=use_case_id) if row["use_case_key"] == use_case_id]
    return sorted(rows, key=lambda r: -r["version"])


# ---- the history -----------------------------------------------------------------------------


def _history(*, use_case_id: str | None = None, until: dt.datetime | None = None) -> list[dict]:
    """Every version of every use case ever listed, redacted by what is withheld now."""
    ever = select(V.use_case_id).where(V.listed.is_(True))
    latest = select(V.use_case_id, V.withheld, V.wholly_withheld).where(V.is_current.is_(True))
    if use_case_id is not None:
        latest = latest.where(V.use_case_id == use_case_id)
    latest_withheld = {
        key: (withheld or {}, wholly) for key, withheld, wholly in db.session.execute(latest)
    }
    stmt = select(
        V.use_case_id, V.number, V.published_at, V.action, V.reason, V.row, V.withheld, V.listed
    ).where(V.use_case_id.in_(ever))
    if use_case_id is not None:
        stmt = stmt.where(V.use_case_id == use_case_id)
    if until is not None:
        stmt = stmt.where(V.published_at <= until)
    out = []
    for key, number, at, action, reason, row, withheld, listed in db.session.execute(
        stmt.order_by(V.use_case_id, V.number)
    ):
        now_withheld, _ = latest_withheld.get(key, ({}, False))
        hidden = set(withheld or {}) | set(now_withheld)
        row = public_record.withhold(row, hidden)
        out.append(
            {
                "use_case_key": key,
                "version": number,
                "published_at": _utc(at),
                "action": action,
                "action_label": PublicationAction.label_of(action),
                "reason": reason or "",
                "listed": bool(listed),
                "row": {column: row.get(column, "") for column in COLUMNS},
            }
        )
    return out


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def history_csv() -> str:
    """Every published version with its date, action and reason, then its 36 columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HISTORY_COLUMNS)
    for entry in _history():
        writer.writerow(
            _csv_row(
                [
                    entry["use_case_key"],
                    entry["version"],
                    entry["published_at"].isoformat(timespec="seconds"),
                    entry["action"],
                    entry["reason"],
                    *(entry["row"][column] for column in COLUMNS),
                ]
            )
        )
    return buffer.getvalue()


def _csv_row(values) -> list[str]:
    """A CSV row: an empty list is an empty cell (the stored rows keep the inventory's ``[]``)."""
    return safe_row("" if value == "[]" else value for value in values)


def export_csv(rows=None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in export_rows() if rows is None else rows:
        writer.writerow(_csv_row(row[column] for column in COLUMNS))
    return buffer.getvalue()


# ---- year over year ---------------------------------------------------------------------------


def _state_on(entries: list[dict], day: dt.date) -> dict[str, dict]:
    end = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    state: dict[str, dict] = {}
    for entry in entries:
        if entry["published_at"] <= end:
            state[entry["use_case_key"]] = entry  # entries come in version order
    return state


def _listed(entry: dict | None) -> bool:
    return entry is not None and entry["listed"]


def diff(day_from: dt.date, day_to: dt.date) -> list[dict[str, Any]]:
    """What changed in the inventory between two dates: each use case added, changed,
    retired, retracted or withheld, with the date and the public reason. A use case listed
    on the first date is always accounted for on the second."""
    entries = _history()
    before, after = _state_on(entries, day_from), _state_on(entries, day_to)
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        was, now = _listed(old), _listed(new)
        if new is None or (not was and not now):
            continue
        row = new["row"]
        change = None
        fields: list[str] = []
        if not was and now:
            change = "added"
        elif was and not now:
            change = "retracted" if new["action"] == PublicationAction.RETRACTED else "withheld"
        elif old is not new:
            fields = [c for c in COLUMNS if old["row"].get(c) != row.get(c)]
            stage_now = row.get("development_stage", "")
            if (
                stage_now.lower().startswith(("retired", "e) retired"))
                and old["row"].get("development_stage") != stage_now
            ):
                change = "retired"
            elif fields:
                change = "changed"
        if change is None:
            continue
        changes.append(
            {
                "use_case_key": key,
                "use_case_name": row.get("use_case_name", ""),
                "change": change,
                "date": new["published_at"].date().isoformat(),
                "reason": new["reason"],
                "fields": fields,
            }
        )
    return changes


def diff_csv(day_from: dt.date, day_to: dt.date) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(DIFF_COLUMNS)
    for change in diff(day_from, day_to):
        writer.writerow(
            safe_row([*(change[c] for c in DIFF_COLUMNS[:-1]), " ".join(change["fields"])])
        )
    return buffer.getvalue()


# ---- waivers ------------------------------------------------------------------------------------


def waivers() -> dict[str, Any]:
    """Each active waiver of a listed use case (its item and justification), and for wholly
    withheld use cases only how many there are and how many have waivers."""
    listed = []
    withheld = with_waivers = 0
    stmt = select(V.use_case_id, V.name, V.listed, V.wholly_withheld, V.waivers).where(
        V.is_current.is_(True)
    )
    for key, name, is_listed, wholly, found in db.session.execute(stmt.order_by(V.pilot_id)):
        if wholly:
            withheld += 1
            with_waivers += bool(found)
        elif is_listed:
            for waiver in found or []:
                listed.append(
                    {
                        "use_case_key": key,
                        "use_case_name": name,
                        "item": waiver.get("title") or waiver.get("item_id"),
                        "justification": waiver.get("justification", ""),
                    }
                )
    return {
        "waivers": listed,
        "withheld_use_cases": withheld,
        "withheld_use_cases_with_waivers": with_waivers,
    }
