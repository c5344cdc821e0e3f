"""Catalog rules: registering, editing and removing pilots and data sources, with audit events."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from registry import audit
from registry.auth.models import User
from registry.auth.permissions import authorize
from registry.catalog import lifecycle, vocabulary
from registry.catalog.models import DataSource, Pilot, pilot_data_sources, pilot_team_members
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

DATA_SOURCE_AUDIT_FIELDS = (
    "name",
    "description",
    "system_of_record",
    "provenance_url",
    "retention",
    "contains_pii",
    "contains_phi",
    "contains_criminal_justice",
    "contains_federal_tax",
    "contains_demographics",
)


# ---- reading -------------------------------------------------------------------------------


_EQUALITY_FILTERS = ("stage", "risk_tier", "review_status", "is_high_impact", "topic_area")


def _filter_params(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The list filters that are set, as the values of _filter_conditions' bound parameters."""
    params: dict[str, Any] = {}
    if q := (filters.get("q") or "").strip():
        params["filter_q"] = f"%{q.lower()}%"
    for field in _EQUALITY_FILTERS:
        if value := filters.get(field):
            params[f"filter_{field}"] = value
    for field in ("agency", "owner_email", "member_email"):
        if value := filters.get(field):
            params[f"filter_{field}"] = value.lower()
    return params


# The statements below are built once for each set of filters in use and reused with the
# values bound at execution: building and hashing a 45-column SELECT every time took about as
# long as running it.


@lru_cache(maxsize=512)  # 2**9 sets of the nine filters
def _filter_conditions(names: frozenset[str]) -> tuple[ColumnElement[bool], ...]:
    """The WHERE conditions for the filters named (as their _filter_params keys).

    They compare table columns, not ORM attributes, so that a statement made of them and of
    columns runs as plain SQL: the ORM's handling of each row doubled page_of_pilot_rows' time.
    """
    pilots = Pilot.__table__.c
    users = User.__table__.c
    conditions: list[ColumnElement[bool]] = []
    if "filter_q" in names:
        pattern = bindparam("filter_q")
        conditions.append(
            or_(func.lower(pilots.name).like(pattern), func.lower(pilots.purpose).like(pattern))
        )
    for field in _EQUALITY_FILTERS:
        if f"filter_{field}" in names:
            conditions.append(pilots[field] == bindparam(f"filter_{field}"))
    if "filter_agency" in names:
        conditions.append(func.lower(pilots.agency) == bindparam("filter_agency"))
    if "filter_owner_email" in names:
        owner_ids = select(users.id).where(users.email == bindparam("filter_owner_email"))
        conditions.append(pilots.owner_id.in_(owner_ids))
    if "filter_member_email" in names:
        member_ids = select(users.id).where(users.email == bindparam("filter_member_email"))
        conditions.append(
            or_(
                pilots.owner_id.in_(member_ids),
                pilots.id.in_(
                    select(pilot_team_members.c.pilot_id).where(
                        pilot_team_members.c.user_id.in_(member_ids)
                    )
                ),
            )
        )
    return tuple(conditions)


def pilot_query(filters: Mapping[str, Any]) -> Select:
    """A SELECT of pilots narrowed by the list filters."""
    params = _filter_params(filters)
    return select(Pilot).where(*_filter_conditions(frozenset(params))).params(params)


@lru_cache(maxsize=512)
def _count_statement(names: frozenset[str]) -> Select:
    return select(func.count()).select_from(Pilot.__table__).where(*_filter_conditions(names))


def count_pilots(filters: Mapping[str, Any]) -> int:
    """How many pilots the list filters match."""
    params = _filter_params(filters)
    return int(db.session.scalar(_count_statement(frozenset(params)), params) or 0)


def page_of_pilots(
    filters: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[Pilot], int]:
    """One page of the filtered pilots, newest first, and the total count."""
    items = db.session.scalars(
        pilot_query(filters)
        .options(selectinload(Pilot.data_sources), selectinload(Pilot.team_members))
        .order_by(Pilot.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(items), count_pilots(filters)


@lru_cache(maxsize=512)
def _page_statement(names: frozenset[str]) -> Select:
    """A page of pilot rows, newest first, with the owner's email (see page_of_pilot_rows)."""
    pilots = Pilot.__table__
    users = User.__table__
    # inventory_extra is kept for inventory exports and compliance for the readers of the
    # stored checklist; neither is part of the API's pilot.
    columns = [c for c in pilots.c if c.key not in ("inventory_extra", "compliance")]
    return (
        select(*columns, users.c.email.label("owner_email"))
        .join(users, users.c.id == pilots.c.owner_id)
        .where(*_filter_conditions(names))
        .order_by(pilots.c.id.desc())
        .limit(bindparam("page_limit"))
        .offset(bindparam("page_offset"))
    )


@cache
def _members_and_sources_statements() -> tuple[Select, Select]:
    """The team members' emails and the data sources of the pilots with the ids given."""
    users = User.__table__
    sources = DataSource.__table__
    pilot_ids = bindparam("pilot_ids", expanding=True)
    members = (
        select(pilot_team_members.c.pilot_id, users.c.email)
        .join(users, users.c.id == pilot_team_members.c.user_id)
        .where(pilot_team_members.c.pilot_id.in_(pilot_ids))
    )
    data_sources = (
        select(
            pilot_data_sources.c.pilot_id,
            sources.c.id,
            sources.c.name,
            *(sources.c[flag] for flag in DataSource.SENSITIVITY_FLAGS),
        )
        .join(sources, sources.c.id == pilot_data_sources.c.data_source_id)
        .where(pilot_data_sources.c.pilot_id.in_(pilot_ids))
        .order_by(sources.c.name)
    )
    return members, data_sources


# What page_of_pilot_rows adds to the columns: the values of Pilot's properties.
PILOT_ROW_PROPERTIES = (
    "team_member_emails",
    "development_stage",
    "data_sources",
    "data_source_ids",
)


def pilot_row_keys() -> frozenset[str]:
    """The keys of every dict page_of_pilot_rows returns."""
    columns = _page_statement(frozenset()).selected_columns
    return frozenset(column.key for column in columns) | frozenset(PILOT_ROW_PROPERTIES)


def page_of_pilot_rows(
    filters: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[dict[str, Any]], int]:
    """page_of_pilots for the JSON list: the same page as plain dicts, and the total count.

    Each dict holds what PilotSchema reads from a Pilot: its columns, and what its properties
    give (owner_email, team_member_emails, development_stage, data_source_ids, and data_sources
    as {id, name, sensitivity_flags} in name order). Flat queries and no ORM objects: loading
    ~100 objects and two collections for each page was most of the list's time.
    """
    params = _filter_params(filters)
    names = frozenset(params)
    result = db.session.execute(
        _page_statement(names),
        {**params, "page_limit": page_size, "page_offset": (page - 1) * page_size},
    )
    keys = list(result.keys())
    items = {row.id: dict(zip(keys, row, strict=True)) for row in result.all()}
    # A first page that is not full holds every match: no need to count them.
    if page == 1 and len(items) < page_size:
        total = len(items)
    else:
        total = int(db.session.scalar(_count_statement(names), params) or 0)
    if not items:
        return [], total
    members_stmt, sources_stmt = _members_and_sources_statements()
    ids = {"pilot_ids": list(items)}
    emails: dict[int, list[str]] = {pilot_id: [] for pilot_id in items}
    for pilot_id, email in db.session.execute(members_stmt, ids).all():
        emails[pilot_id].append(email)
    briefs: dict[int, list[dict[str, Any]]] = {pilot_id: [] for pilot_id in items}
    flags = tuple(DataSource.SENSITIVITY_FLAGS)
    for pilot_id, source_id, name, *flag_values in db.session.execute(sources_stmt, ids).all():
        briefs[pilot_id].append(
            {
                "id": source_id,
                "name": name,
                "sensitivity_flags": [f for f, on in zip(flags, flag_values, strict=True) if on],
            }
        )
    for pilot_id, item in items.items():
        item["team_member_emails"] = sorted(emails[pilot_id])
        item["development_stage"] = vocabulary.STAGE_TO_OMB[item["stage"]]
        item["data_sources"] = briefs[pilot_id]
        item["data_source_ids"] = [brief["id"] for brief in briefs[pilot_id]]
    return list(items.values()), total


def get_pilot(pilot_id: int) -> Pilot:
    """The pilot with this id, or 404."""
    pilot = db.session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(f"There is no pilot {pilot_id}.")
    return pilot


def get_data_source(source_id: int) -> DataSource:
    """The data source with this id, or 404."""
    source = db.session.get(DataSource, source_id)
    if source is None:
        raise NotFound(f"There is no data source {source_id}.")
    return source


def data_source_query(filters: Mapping[str, Any]) -> Select:
    """A SELECT of data sources, alphabetical."""
    stmt = select(DataSource).order_by(DataSource.name)
    if q := (filters.get("q") or "").strip():
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(DataSource.name).like(pattern),
                func.lower(func.coalesce(DataSource.description, "")).like(pattern),
            )
        )
    if filters.get("sensitive"):
        stmt = stmt.where(
            or_(*(getattr(DataSource, flag) for flag in DataSource.SENSITIVITY_FLAGS))
        )
    return stmt


def page_of_data_sources(
    filters: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[DataSource], int]:
    stmt = data_source_query(filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(
        stmt.options(selectinload(DataSource.pilots))
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(items), int(total or 0)


def all_data_sources() -> list[DataSource]:
    return list(db.session.scalars(select(DataSource).order_by(DataSource.name)))


# ---- pilots --------------------------------------------------------------------------------
# The lifecycle holds the rules; these own the transaction around them.

reference_errors = lifecycle.reference_errors
check_version = lifecycle.check_version


def create_pilot(data: Mapping[str, Any], actor: User) -> Pilot:
    """Register a pilot; its creator joins its team."""
    pilot = lifecycle.create(data, actor)
    db.session.commit()
    return pilot


def update_pilot(
    pilot: Pilot, data: Mapping[str, Any], actor: User, *, expected_version: int | None = None
) -> Pilot:
    """Change a pilot's fields (see lifecycle.update for the gates)."""
    lifecycle.update(pilot, data, actor, expected_version=expected_version)
    db.session.commit()
    return pilot


def delete_pilot(pilot: Pilot, actor: User) -> None:
    """Remove a draft pilot; anything that has entered review is kept for the record."""
    lifecycle.delete(pilot, actor)
    db.session.commit()


# ---- data sources --------------------------------------------------------------------------


def _check_source_name(name: str | None, source_id: int | None = None) -> None:
    if not name:
        return
    clash = db.session.scalar(
        select(DataSource.id).where(
            func.lower(func.trim(DataSource.name)) == name.strip().lower()
        )
    )
    if clash is not None and clash != source_id:
        raise ValidationFailed(
            "The data source could not be saved.",
            {"name": [f"Data source {clash} already has the name {name!r}."]},
        )


def create_data_source(data: Mapping[str, Any], actor: User) -> DataSource:
    """Register a data source."""
    authorize(actor, "data_source.create")
    _check_source_name(data.get("name"))
    source = DataSource(created_by_id=actor.id)
    for flag in DataSource.SENSITIVITY_FLAGS:
        setattr(source, flag, False)
    for field, value in data.items():
        setattr(source, field, value)
    db.session.add(source)
    db.session.flush()
    audit.record_change(
        actor,
        "create",
        "data_source",
        source.id,
        None,
        audit.snapshot(source, DATA_SOURCE_AUDIT_FIELDS),
    )
    db.session.commit()
    return source


def update_data_source(
    source: DataSource,
    data: Mapping[str, Any],
    actor: User,
    *,
    expected_version: int | None = None,
) -> DataSource:
    """Change a data source's description or sensitivity flags."""
    authorize(actor, "data_source.update", source)
    check_version(source.version, expected_version)
    if "name" in data:
        _check_source_name(data["name"], source.id)
    before = audit.snapshot(source, DATA_SOURCE_AUDIT_FIELDS)
    for field, value in data.items():
        setattr(source, field, value)
    changes = audit.service.diff(before, audit.snapshot(source, DATA_SOURCE_AUDIT_FIELDS))
    if changes:
        db.session.flush()
        audit.record(actor, "update", "data_source", source.id, changes)
    db.session.commit()
    return source
