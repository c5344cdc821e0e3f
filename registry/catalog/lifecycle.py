"""The pilot lifecycle: the only code that changes a pilot's state.

It registers, edits, imports and deletes pilots; sets and overrides the risk tier; submits a
revision; records a decision's effect; sends a pilot back; marks a review due; and stores the
compliance snapshot that the queue, the dashboards and the inventory read. It enforces the
state machine and its invariants from facts the caller passes in (for example the checklist
that `assessments` evaluated against `policies`), so the dependency direction stays
registry → policies → assessments → reports.

Nothing here commits: the calling service owns the transaction, writes the audit events this
module records into it, and commits once. A guard (see `_guard`) refuses any write of a
pilot's state attributes made outside this module, and a test scans the code for others.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, insert, select

from registry import audit, signals
from registry.auth import organizations
from registry.auth.models import User
from registry.auth.permissions import CREATORS, authorize
from registry.catalog import public_record
from registry.catalog.models import (
    DataSource,
    Pilot,
    PilotInvolvement,
    PilotRevision,
    PublishedVersion,
)
from registry.catalog.vocabulary import (
    APPROVED_STATUSES,
    FIELDS_BY_NAME,
    MATERIAL_FIELDS,
    NEVER_WITHHELD_COLUMNS,
    PILOT_FIELDS,
    STATE_FIELDS,
    WITHHOLDING_REASONS,
    ApprovedStage,
    DecisionKind,
    IncidentSeverity,
    IsHighImpact,
    PublicationAction,
    PublicationState,
    ReviewStatus,
    RiskTier,
    Stage,
    TierSource,
    field_label,
)
from registry.errors import Conflict, Forbidden, PreconditionFailed, ValidationFailed
from registry.extensions import db

# ---- the guard -----------------------------------------------------------------------------

_writing: ContextVar[bool] = ContextVar("lifecycle_writing", default=False)
GUARDED = (
    "stage",
    *STATE_FIELDS,
    "decision_epoch",
    "public_since",
    "compliance",
    "publication_state",
    "withheld_fields",
    "withheld_reasons",
)


@contextmanager
def _state_change() -> Iterator[None]:
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


class StateWriteOutsideLifecycle(RuntimeError):
    """A pilot's state was written by code other than the lifecycle."""


def _guard(target, value, oldvalue, initiator):
    if not _writing.get():
        raise StateWriteOutsideLifecycle(
            f"Pilot.{initiator.key} may only be changed by registry.catalog.lifecycle."
        )
    return value


for _name in GUARDED:
    event.listen(getattr(Pilot, _name), "set", _guard, retval=True)


# ---- values --------------------------------------------------------------------------------

AUDIT_FIELDS: tuple[str, ...] = (
    "use_case_id",
    *(field.name for field in PILOT_FIELDS if field.name != "use_case_id"),
    "agency_name",
    *STATE_FIELDS,
    "retired_reason",
    "publication_state",
    "withheld_fields",
    "withheld_reasons",
)
AUDIT_FIELDS = tuple(dict.fromkeys(AUDIT_FIELDS))


def _value(pilot: Any, name: str) -> Any:
    if name == "data_source_ids":
        return sorted(pilot.data_source_ids)
    if name == "team_member_emails":
        return sorted(pilot.team_member_emails)
    if name == "withheld_fields":
        return sorted(pilot.withheld_fields or [])
    return audit.service.jsonable(getattr(pilot, name))


def record_values(pilot: Any) -> dict[str, Any]:
    """The pilot's fields and state as plain JSON, by attribute name: what audit events hold."""
    return {name: _value(pilot, name) for name in AUDIT_FIELDS}


def revision_values(pilot: Pilot) -> dict[str, Any]:
    """The pilot's own fields as a revision freezes them, by API name."""
    values = {field.key: _value(pilot, field.name) for field in PILOT_FIELDS}
    values["data_sources"] = [
        {"id": s.id, "name": s.name, "sensitivity_flags": s.sensitivity_flags}
        for s in sorted(pilot.data_sources, key=lambda s: s.id)
    ]
    values["risk_tier"] = pilot.risk_tier
    values["risk_tier_source"] = pilot.risk_tier_source
    return values


MATERIAL_KEYS: tuple[str, ...] = tuple(FIELDS_BY_NAME[name].key for name in MATERIAL_FIELDS)


def material_differences(pilot: Pilot, frozen: Mapping[str, Any]) -> list[str]:
    """The material fields (API names) whose values differ from a frozen revision's.

    Stage is material, but the gate decides it: a move beyond the approved stage is refused,
    a move within it (or retirement) is what the approval covers, so it is not a difference.
    """
    current = revision_values(pilot)
    return [key for key in MATERIAL_KEYS if key != "stage" and current.get(key) != frozen.get(key)]


def _in_use_without_approval(stage: str, approved_stage: str | None) -> bool:
    if not Stage(stage).in_use:
        return False
    return approved_stage is None or not ApprovedStage(approved_stage).covers(stage)


def _set_in_use_flag(pilot: Pilot) -> None:
    flag = _in_use_without_approval(pilot.stage, pilot.approved_stage)
    if pilot.in_use_without_approval != flag:
        pilot.in_use_without_approval = flag


# ---- public use-case ids ---------------------------------------------------------------------

# Crockford's base32 without the letters people misread.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_use_case_id(agency: str) -> str:
    """A fresh public use-case id: the agency and six random characters, e.g. ``MCG-7KQ2XD``.

    Random, so that an id says nothing of the database sequence or of withheld records; it is
    assigned once and never changes, so it is stable from one year's inventory to the next.
    """
    prefix = "".join(ch for ch in agency.upper() if ch.isalnum())[:20] or "AI"
    for _ in range(20):
        candidate = prefix + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
        taken = db.session.scalar(select(Pilot.id).where(Pilot.use_case_id == candidate))
        if taken is None:
            return candidate
    raise RuntimeError("could not find a free use-case id")  # 32**6 ids: never in practice


def _check_use_case_id(use_case_id: str, pilot_id: int | None = None) -> None:
    clash = db.session.scalar(select(Pilot.id).where(Pilot.use_case_id == use_case_id))
    if clash is not None and clash != pilot_id:
        raise ValidationFailed(
            "The pilot could not be saved.",
            {"use_case_id": [f"Another use case already has the ID {use_case_id}."]},
        )


# ---- people --------------------------------------------------------------------------------


def _user_by_email(email: str, field: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise ValidationFailed(
            "The pilot could not be saved.", {field: [f"No user has the email {email}."]}
        )
    if not user.active:
        raise ValidationFailed(
            "The pilot could not be saved.", {field: [f"The user {email} is deactivated."]}
        )
    return user


def _users_by_email(emails: Iterable[str], field: str) -> list[User]:
    """The active users with these emails, duplicates removed before any lookup."""
    wanted = list(dict.fromkeys(email.strip().lower() for email in emails if email.strip()))
    if not wanted:
        return []
    found = {
        user.email: user for user in db.session.scalars(select(User).where(User.email.in_(wanted)))
    }
    problems = []
    for email in wanted:
        user = found.get(email)
        if user is None:
            problems.append(f"No user has the email {email}.")
        elif not user.active:
            problems.append(f"The user {email} is deactivated.")
    if problems:
        raise ValidationFailed("The pilot could not be saved.", {field: problems})
    return [found[email] for email in wanted]


def _data_sources(ids: Iterable[int]) -> list[DataSource]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = {
        source.id: source
        for source in db.session.scalars(select(DataSource).where(DataSource.id.in_(wanted)))
    }
    missing = [source_id for source_id in wanted if source_id not in found]
    if missing:
        raise ValidationFailed(
            "The pilot could not be saved.",
            {"data_source_ids": [f"No data source has the id {i}." for i in missing]},
        )
    return [found[source_id] for source_id in wanted]


def reference_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems with the users and data sources a payload names, to show beside other errors."""
    errors: dict[str, list[str]] = {}
    checks = []
    if isinstance(data.get("owner_email"), str):
        checks.append(
            ("owner_email", lambda: _users_by_email([data["owner_email"]], "owner_email"))
        )
    emails = [e for e in data.get("team_member_emails") or [] if isinstance(e, str)]
    checks.append(("team_member_emails", lambda: _users_by_email(emails, "team_member_emails")))
    ids = [i for i in data.get("data_source_ids") or [] if isinstance(i, int)]
    checks.append(("data_source_ids", lambda: _data_sources(ids)))
    for field, check in checks:
        try:
            check()
        except ValidationFailed as error:
            errors.setdefault(field, []).extend(error.errors.get(field, []))
    return errors


def _involve(pilot: Pilot, users: Iterable[User], role: str) -> None:
    """Record that these people were the owner or on the team in the current epoch."""
    epoch = pilot.decision_epoch or 0
    known = {
        row.user_id
        for row in db.session.scalars(
            select(PilotInvolvement).where(
                PilotInvolvement.pilot_id == pilot.id, PilotInvolvement.epoch == epoch
            )
        )
    }
    for user in users:
        if user.id not in known:
            db.session.add(
                PilotInvolvement(pilot_id=pilot.id, epoch=epoch, user_id=user.id, role=role)
            )
            known.add(user.id)


def _involve_current(pilot: Pilot) -> None:
    _involve(pilot, [pilot.owner], "owner")
    _involve(pilot, pilot.team_members, "member")


def decision_bar(pilot: Pilot, user: Any) -> str | None:
    """Why this person may not decide on this pilot (separation of duties), or None."""
    return pilot.decision_bar(user)


# ---- applying fields -----------------------------------------------------------------------


def _apply_fields(pilot: Pilot, data: Mapping[str, Any]) -> None:
    data = dict(data)
    if "owner_email" in data:
        pilot.owner = _user_by_email(data.pop("owner_email"), "owner_email")
    if "team_member_emails" in data:
        pilot.team_members = _users_by_email(
            data.pop("team_member_emails") or [], "team_member_emails"
        )
    if "data_source_ids" in data:
        pilot.data_sources = _data_sources(data.pop("data_source_ids") or [])
    if "demographic_features" in data:
        pilot.demographic_features = list(dict.fromkeys(data.pop("demographic_features") or []))
    stage = data.pop("stage", None)
    for field, value in data.items():
        setattr(pilot, field, value)
    if stage is not None and stage != pilot.stage:
        pilot.stage = stage


def _stage_conflict(pilot: Pilot, new_stage: str) -> Conflict:
    stage = Stage(new_stage)
    if pilot.approved_stage:
        approved = ApprovedStage(pilot.approved_stage)
        why = (
            f"The approval in force covers {approved.label.lower()} only; moving to "
            f"{stage.label} needs an approval for it. Submit the pilot for review and ask for "
            f"{stage.label}."
        )
    else:
        why = (
            f"No approval covers {stage.label}. Submit the pilot for review; it can move to "
            f"{stage.label} once a CAIO approves that stage."
        )
    return Conflict(
        f"The pilot cannot move to {stage.label}: {why}",
        {"stage": [why], "approved_stage": [pilot.approved_stage or "none"]},
    )


# ---- create, update, delete ----------------------------------------------------------------


def _organization_for_new_pilot(value: Any, actor: User) -> int:
    """The organisation a new pilot joins: the one named, or the creator's own."""
    if value is None:
        return organizations.home_of(actor)
    organization = organizations.resolve(value, "organization_id")
    if not organizations.in_scope(actor, CREATORS, organization.id):
        raise ValidationFailed(
            "The pilot could not be saved.",
            {
                "organization_id": [
                    f"You may register pilots only for your own organisation and those under "
                    f"it, not for {organization.code}."
                ]
            },
        )
    return organization.id


def create(data: Mapping[str, Any], actor: User) -> Pilot:
    """Register a pilot; its creator joins its team.

    Any stage may be recorded, so that a system already in use is registered truthfully; one
    recorded beyond what an approval covers is flagged as in use without approval.
    """
    authorize(actor, "pilot.create")
    data = dict(data)
    use_case_id = (data.pop("use_case_id", None) or "").strip() or None
    if use_case_id:
        _check_use_case_id(use_case_id)
    if data.get("stage") == Stage.RETIRED and not (data.get("retired_reason") or "").strip():
        raise ValidationFailed(
            "The pilot could not be saved.",
            {"retired_reason": ["Enter the reason the use case was retired."]},
        )
    organization_id = _organization_for_new_pilot(data.pop("organization_id", None), actor)
    use_case_id = use_case_id or new_use_case_id(data["agency"])
    with _state_change(), db.session.no_autoflush:
        pilot = Pilot(
            review_status=ReviewStatus.DRAFT.value,
            demographic_features=[],
            inventory_extra={},
            unreviewed_changes=[],
            decision_epoch=0,
            in_use_without_approval=False,
            stage=data.pop("stage"),
            use_case_id=use_case_id,
            publication_state=PublicationState.DRAFT.value,
            withheld_fields=[],
            withheld_reasons={},
        )
        pilot.created_by_id = actor.id
        pilot.organization_id = organization_id
        _apply_fields(pilot, data)
        if actor.id not in {member.id for member in pilot.team_members}:
            pilot.team_members.append(actor)
        _set_in_use_flag(pilot)
    db.session.add(pilot)
    db.session.flush()
    _involve_current(pilot)
    audit.record_change(actor, "create", "pilot", pilot.id, None, record_values(pilot))
    signals.pilot_created.send(pilot, actor=actor)
    return pilot


def check_version(current: int, expected: int | None) -> None:
    """Refuse a change made against an older version of the record."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            "The record was changed by someone else since you loaded it; reload and try again.",
            {"version": [f"You edited version {expected}; the current version is {current}."]},
        )


def _check_people_change(pilot: Pilot, data: Mapping[str, Any], actor: User) -> User | None:
    """Refuse owner and team changes during a review, and ownership moves by others; returns
    the new owner when ownership moves."""
    new_owner = None
    if "owner_email" in data:
        email = (data["owner_email"] or "").strip().lower()
        if email != pilot.owner.email:
            new_owner = _user_by_email(email, "owner_email")
    team_change = "team_member_emails" in data and sorted(
        dict.fromkeys(e.strip().lower() for e in data["team_member_emails"] or [] if e.strip())
    ) != sorted(pilot.team_member_emails)
    if (new_owner is not None or team_change) and pilot.review_status == ReviewStatus.SUBMITTED:
        fields = [
            name
            for name, changed in (("owner_email", new_owner), ("team_member_emails", team_change))
            if changed
        ]
        raise Conflict(
            "The owner and the team cannot change while the pilot is under review.",
            {
                field: [
                    "The pilot is submitted for review; wait for the decision, then change "
                    f"the {field_label(field).lower()}."
                ]
                for field in fields
            },
        )
    if new_owner is not None and not (actor.id == pilot.owner_id or actor.role == "admin"):
        raise Forbidden(
            "Only the current owner or an administrator may transfer ownership.",
            {"owner_email": ["Only the current owner or an administrator may transfer ownership."]},
        )
    return new_owner


def update(
    pilot: Pilot, data: Mapping[str, Any], actor: User, *, expected_version: int | None = None
) -> Pilot:
    """Change a pilot's fields; status moves only through submit and decide.

    A move to a stage beyond what the approval in force covers is refused (409). After an
    approval, a change to a material field opens a new, unreviewed revision: the approved
    revision stays in force, the changed fields are listed in ``unreviewed_changes`` and the
    CAIOs are told (``material_change``).
    """
    authorize(actor, "pilot.update", pilot)
    check_version(pilot.version, expected_version)
    data = dict(data)
    if "use_case_id" in data:
        given = (data.pop("use_case_id") or "").strip()
        if given and given != pilot.use_case_id:
            raise ValidationFailed(
                "The pilot could not be saved.",
                {"use_case_id": ["A use case ID is assigned once and cannot change."]},
            )
    new_owner = _check_people_change(pilot, data, actor)
    withholding = _withholding_input(pilot, data)
    new_stage = data.get("stage", pilot.stage)
    if new_stage != pilot.stage:
        if Stage(new_stage).in_use and _in_use_without_approval(new_stage, pilot.approved_stage):
            raise _stage_conflict(pilot, new_stage)
        if (
            new_stage == Stage.RETIRED
            and not (data.get("retired_reason") or pilot.retired_reason or "").strip()
        ):
            raise ValidationFailed(
                "The pilot could not be saved.",
                {"retired_reason": ["Enter the reason the use case is being retired."]},
            )
    previous_owner = pilot.owner
    before = record_values(pilot)
    was_retired = pilot.stage == Stage.RETIRED
    with _state_change():
        _apply_fields(pilot, data)
        if withholding is not None:
            pilot.withheld_fields, pilot.withheld_reasons = withholding
        _set_in_use_flag(pilot)
        newly = refresh_unreviewed_changes(pilot)
    after = record_values(pilot)
    changes = audit.service.diff(before, after)
    if not changes:
        return pilot
    db.session.flush()
    _involve_current(pilot)
    audit.record(actor, "update", "pilot", pilot.id, changes)
    _disclose_less_at_once(pilot, actor, retired=not was_retired and pilot.stage == Stage.RETIRED)
    signals.pilot_updated.send(pilot, actor=actor, changes=changes)
    if new_owner is not None:
        signals.ownership_transferred.send(pilot, actor=actor, previous=previous_owner)
    if newly:
        signals.material_change.send(pilot, actor=actor, fields=newly)
    return pilot


def _approved_revision(pilot: Pilot) -> PilotRevision | None:
    if pilot.approved_revision is None:
        return None
    return db.session.scalar(
        select(PilotRevision).where(
            PilotRevision.pilot_id == pilot.id, PilotRevision.number == pilot.approved_revision
        )
    )


def refresh_unreviewed_changes(pilot: Pilot) -> list[str]:
    """Recompute the material fields changed since the approved revision; return those that
    were not listed before (the new, unreviewed changes)."""
    revision = _approved_revision(pilot)
    current = material_differences(pilot, revision.fields) if revision else []
    before = list(pilot.unreviewed_changes or [])
    if current != before:
        with _state_change():
            pilot.unreviewed_changes = current
    return [key for key in current if key not in before]


def delete(pilot: Pilot, actor: User) -> None:
    """Remove a draft that never entered review; anything reviewed is kept for the record."""
    authorize(actor, "pilot.delete", pilot)
    if pilot.review_status != ReviewStatus.DRAFT or _latest_revision_number(pilot):
        raise Conflict(
            "Only draft pilots can be deleted; this one is part of the review record.",
            {
                "review_status": [
                    f"The pilot is {ReviewStatus.label_of(pilot.review_status).lower()}, "
                    "not a draft that never went to review."
                ]
            },
        )
    if _current_version(pilot) is not None:
        message = (
            "This use case has been published, and a published use case stays in the public "
            "history: retract it with a public reason instead."
        )
        raise Conflict(message, {"publication_state": [message]})
    before = record_values(pilot)
    pilot_id = pilot.id
    db.session.delete(pilot)
    db.session.flush()
    audit.record_change(actor, "delete", "pilot", pilot_id, before, None)


# ---- import ----------------------------------------------------------------------------------


@dataclass
class ImportedPilot:
    """A use case from an inventory file, as the import maps it."""

    line: int
    fields: dict[str, Any]
    owner: User
    owner_to_confirm: bool
    inventory_extra: dict[str, Any]
    # The 36 inventory columns as the file published them: the use case's first public version.
    public_row: dict[str, str]


def import_new(batch: Sequence[ImportedPilot], actor: User, *, source: str) -> list[int]:
    """Insert use cases from an inventory file, with an "import" audit event each.

    They keep their inventory id, are public (they were published already) and, when recorded
    in use, are flagged as in use without approval. One multi-row INSERT per batch: the ORM's
    unit of work, one flush per row, was half the import's time.
    """
    authorize(actor, "inventory.import")
    if not batch:
        return []
    now = dt.datetime.now(dt.UTC)
    table = Pilot.__table__
    # A use case joins the organisation whose code is its agency, where the importer
    # administers it; otherwise the importer's own.
    home = organizations.home_of(actor)
    reachable = organizations.scope_ids(actor, {"admin"})
    by_code = {o.code.lower(): o.id for o in organizations.list_organizations()}
    rows = []
    for item in batch:
        stage = item.fields["stage"]
        matched = by_code.get(str(item.fields.get("agency") or "").lower())
        rows.append(
            {
                **item.fields,
                "organization_id": matched if matched in reachable else home,
                "owner_id": item.owner.id,
                "created_by_id": actor.id,
                "owner_to_confirm": item.owner_to_confirm,
                "review_status": ReviewStatus.DRAFT.value,
                "in_use_without_approval": _in_use_without_approval(stage, None),
                "unreviewed_changes": [],
                "decision_epoch": 0,
                "public_since": now,
                "version": 1,
                "inventory_extra": item.inventory_extra,
                "publication_state": PublicationState.PUBLISHED.value,
                "withheld_fields": [],
                "withheld_reasons": {},
            }
        )
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = list(db.session.execute(stmt, rows).scalars())
    db.session.execute(
        insert(PilotInvolvement),
        [
            {"pilot_id": pilot_id, "epoch": 0, "user_id": item.owner.id, "role": "owner"}
            for pilot_id, item in zip(ids, batch, strict=True)
        ],
    )
    db.session.execute(
        insert(PublishedVersion),
        [
            _version_values(
                pilot_id,
                item.public_row,
                number=1,
                use_case_id=item.fields["use_case_id"],
                action=PublicationAction.IMPORTED,
                reason=f"Imported from {source}",
                actor=actor,
                at=now,
                wholly_withheld=public_record.is_wholly_withheld(item.fields.get("is_withheld")),
                stage=item.fields["stage"],
                is_high_impact=item.fields.get("is_high_impact"),
            )
            for pilot_id, item in zip(ids, batch, strict=True)
        ],
    )
    for pilot_id, item, row in zip(ids, batch, rows, strict=True):
        after = _row_values(row, item.owner.email)
        audit.record(
            actor,
            "import",
            "pilot",
            pilot_id,
            {
                "source": source,
                "line": item.line,
                "result": "created",
                "changes": audit.service.diff(None, after),
            },
        )
    return ids


class _Row:
    """A row of inserted values read the way `record_values` reads a Pilot."""

    def __init__(self, row: Mapping[str, Any], owner_email: str):
        self._row = row
        self.owner_email = owner_email
        self.team_member_emails: list[str] = []
        self.data_source_ids: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return self._row.get(name)


def _row_values(row: Mapping[str, Any], owner_email: str) -> dict[str, Any]:
    return record_values(_Row(row, owner_email))


def import_update(
    pilot: Pilot,
    fields: Mapping[str, Any],
    extra: Mapping[str, Any],
    actor: User,
    *,
    line: int,
    source: str,
    public_row: Mapping[str, str] | None = None,
) -> None:
    """Update a use case from a changed inventory row; a retirement reason written here stays.

    The file's row, as published by the agency, becomes a new public version (with any field
    withheld here still withheld) when it differs from the current one."""
    authorize(actor, "inventory.import")
    before = record_values(pilot)
    with _state_change():
        for attr, value in fields.items():
            if attr == "retired_reason" and (pilot.retired_reason or not value):
                continue
            setattr(pilot, attr, value)
        merged = dict(pilot.inventory_extra or {})
        merged.update(extra)
        pilot.inventory_extra = merged
        if pilot.public_since is None:
            pilot.public_since = dt.datetime.now(dt.UTC)
        _set_in_use_flag(pilot)
        refresh_unreviewed_changes(pilot)
    if public_row is not None:
        _store_version(
            pilot,
            public_row,
            action=PublicationAction.IMPORTED,
            reason=f"Imported from {source}",
            actor=actor,
            only_if_changed=True,
        )
    after = record_values(pilot)
    audit.record(
        actor,
        "import",
        "pilot",
        pilot.id,
        {
            "source": source,
            "line": line,
            "result": "updated",
            "changes": audit.service.diff(before, after),
        },
    )


# ---- the tier --------------------------------------------------------------------------------


def set_tier_from_questionnaire(pilot: Pilot, level: str, actor: Any) -> None:
    """The questionnaire's level becomes the tier, unless a CAIO override stands."""
    if level not in RiskTier.values():
        raise ValueError(f"unknown tier {level!r}")
    if pilot.risk_tier_source == TierSource.OVERRIDE:
        return
    if pilot.risk_tier == level and pilot.risk_tier_source == TierSource.QUESTIONNAIRE:
        return
    before = {"risk_tier": pilot.risk_tier, "risk_tier_source": pilot.risk_tier_source}
    with _state_change():
        pilot.risk_tier = level
        pilot.risk_tier_source = TierSource.QUESTIONNAIRE.value
    after = {"risk_tier": pilot.risk_tier, "risk_tier_source": pilot.risk_tier_source}
    audit.record_change(actor, "set_risk_tier", "pilot", pilot.id, before, after)
    signals.tier_changed.send(pilot, before=before, after=after)


def override_tier(
    pilot: Pilot,
    tier: str | None,
    justification: str,
    actor: Any,
    *,
    questionnaire_level: str | None,
) -> None:
    """A CAIO sets the tier by hand, in writing; ``tier=None`` returns to the questionnaire's
    level (``questionnaire_level``, the latest assessment's, or None when there is none)."""
    authorize(actor, "pilot.override_tier", pilot)
    before = {
        "risk_tier": pilot.risk_tier,
        "risk_tier_source": pilot.risk_tier_source,
        "risk_tier_justification": pilot.risk_tier_justification,
    }
    with _state_change():
        if tier is None:
            pilot.risk_tier = questionnaire_level
            pilot.risk_tier_source = TierSource.QUESTIONNAIRE.value if questionnaire_level else None
            pilot.risk_tier_justification = None
        else:
            pilot.risk_tier = tier
            pilot.risk_tier_source = TierSource.OVERRIDE.value
            pilot.risk_tier_justification = justification
    after = {
        "risk_tier": pilot.risk_tier,
        "risk_tier_source": pilot.risk_tier_source,
        "risk_tier_justification": pilot.risk_tier_justification,
    }
    db.session.flush()
    audit.record(
        actor,
        "override_risk_tier" if tier else "clear_risk_tier_override",
        "pilot",
        pilot.id,
        {**audit.service.diff(before, after), "justification": justification},
    )
    signals.tier_changed.send(pilot, before=before, after=after)


# ---- the review ------------------------------------------------------------------------------

# action -> the review states it may start from.
ALLOWED_FROM: dict[str, frozenset[ReviewStatus]] = {
    "submit": frozenset(
        {
            ReviewStatus.DRAFT,
            ReviewStatus.CHANGES_REQUESTED,
            ReviewStatus.REJECTED,
            *APPROVED_STATUSES,
        }
    ),
    **{kind.value: frozenset({ReviewStatus.SUBMITTED}) for kind in DecisionKind},
    "require_resubmission": frozenset(APPROVED_STATUSES),
}
ACTION_LABELS = {
    "submit": "submit it for review",
    "approve": "approve it",
    "approve_with_conditions": "approve it with conditions",
    "request_changes": "request changes",
    "reject": "reject it",
    "require_resubmission": "require it to be resubmitted",
}


def allowed_actions(pilot: Pilot) -> list[str]:
    """The review actions the pilot's state allows now."""
    status = ReviewStatus(pilot.review_status)
    return [action for action, sources in ALLOWED_FROM.items() if status in sources]


def check_transition(pilot: Pilot, action: str) -> None:
    """409 naming the current state and the allowed actions, unless `action` may start here."""
    status = ReviewStatus(pilot.review_status)
    if status in ALLOWED_FROM[action]:
        return
    allowed = [ACTION_LABELS[a] for a in allowed_actions(pilot)]
    message = f"The pilot is {status.label.lower()}, so you cannot {ACTION_LABELS[action]}. " + (
        f"Allowed now: {', '.join(allowed)}." if allowed else "No review action is allowed now."
    )
    raise Conflict(
        message,
        {
            "review_status": [message],
            "allowed_actions": [a for a in allowed_actions(pilot)],
        },
    )


def _latest_revision_number(pilot: Pilot) -> int:
    return int(
        db.session.scalar(
            select(func.max(PilotRevision.number)).where(PilotRevision.pilot_id == pilot.id)
        )
        or 0
    )


def submission_problems(pilot: Pilot) -> dict[str, list[str]]:
    """What the pilot's own record lacks for a submission (fields, as the API names them)."""
    problems: dict[str, list[str]] = {}
    if not pilot.is_high_impact:
        problems["is_high_impact"] = [
            "Record whether the use case is high-impact under M-25-21 before submitting it."
        ]
    elif (
        pilot.is_high_impact == IsHighImpact.PRESUMED_NOT
        and not (pilot.hi_justification or "").strip()
    ):
        problems["HI_justification"] = [
            "Explain why a use case presumed high-impact is not high-impact before submitting it."
        ]
    return problems


def default_approval_stage(pilot: Pilot, requested: str | None = None) -> str:
    """The stage an approval covers when the decision names none: the one asked for at
    submission, else the recorded stage, or a pilot phase for a pre-deployment pilot."""
    if requested:
        return requested
    if pilot.stage == Stage.DEPLOYED:
        return ApprovedStage.DEPLOYED.value
    return ApprovedStage.PILOT.value


def submit(
    pilot: Pilot,
    actor: Any,
    *,
    facts: Mapping[str, Any],
    note: str | None = None,
    requested_stage: str | None = None,
    expected_version: int | None = None,
) -> PilotRevision:
    """Freeze a revision and put the pilot in the review queue.

    ``facts`` are what `assessments` knows and the revision freezes with the pilot's fields:
    the questionnaire answers, the evidence hashes and the bias checks in force. An approved
    pilot may be submitted again for its unreviewed changes or for a further stage.
    """
    authorize(actor, "pilot.submit", pilot)
    check_version(pilot.version, expected_version)
    check_transition(pilot, "submit")
    if requested_stage is not None:
        ApprovedStage(requested_stage)
    if ReviewStatus(pilot.review_status) in APPROVED_STATUSES:
        asks_more = requested_stage is not None and not ApprovedStage(
            pilot.approved_stage or ApprovedStage.PILOT
        ).covers(requested_stage)
        if not (pilot.unreviewed_changes or pilot.in_use_without_approval or asks_more):
            message = (
                "The approval in force covers the pilot as it is: there are no unreviewed "
                "changes and no further stage was asked for."
            )
            raise Conflict(message, {"review_status": [message]})
    problems = submission_problems(pilot)
    if problems:
        raise Conflict("The pilot cannot be submitted yet.", problems)
    number = _latest_revision_number(pilot) + 1
    now = dt.datetime.now(dt.UTC)
    fields = {
        **revision_values(pilot),
        **{key: audit.service.jsonable(value) for key, value in facts.items()},
        "submission_note": (note or "").strip() or None,
    }
    revision = PilotRevision(
        pilot_id=pilot.id,
        number=number,
        frozen_at=now,
        frozen_by_id=actor.id,
        reason="submission",
        requested_stage=requested_stage,
        fields=fields,
    )
    db.session.add(revision)
    previous = pilot.review_status
    with _state_change():
        pilot.review_status = ReviewStatus.SUBMITTED.value
        if pilot.public_since is None:
            pilot.public_since = now
    db.session.flush()
    audit.record(
        actor,
        "submit",
        "pilot",
        pilot.id,
        {
            "review_status": {"before": previous, "after": ReviewStatus.SUBMITTED.value},
            "revision": number,
            "requested_stage": requested_stage,
        },
    )
    signals.pilot_submitted.send(
        pilot, actor=actor, revision=number, note=fields["submission_note"]
    )
    return revision


@dataclass(frozen=True)
class DecisionEffect:
    """What a decision did to the pilot: the revision decided on and the stage approved."""

    revision: int
    stage: str | None
    status_before: str
    status_after: str


def check_may_decide(pilot: Pilot, actor: Any) -> None:
    """403 for anyone but an independent CAIO, saying why."""
    authorize(actor, "pilot.decide", pilot)


def decide(
    pilot: Pilot,
    actor: Any,
    *,
    kind: str,
    checklist: Any,
    covered_items: Iterable[str] = (),
    blocking_incidents: Sequence[Mapping[str, Any]] = (),
    stage: str | None = None,
    review_months: int | None = None,
    expected_version: int | None = None,
) -> DecisionEffect:
    """Apply a CAIO's decision on the revision under review.

    ``checklist`` is the compliance checklist `assessments` evaluated with the decision's
    waivers. A plain approval needs every item met, waived or not applicable; an approval with
    conditions may leave unmet the items in ``covered_items`` (items its conditions cover).
    An approval keeps the revision in force for ``stage`` (a pilot phase or deployment) and
    sets the next review ``review_months`` ahead; a rejection ends the approval in force.
    ``blocking_incidents`` are the pilot's serious or critical incidents that are neither
    resolved nor accepted (``{"id", "title", "severity", "status"}``): while any is open, no
    approval is given (409 naming each).
    """
    check_may_decide(pilot, actor)
    check_version(pilot.version, expected_version)
    decision = DecisionKind(kind)
    check_transition(pilot, decision.value)
    revision_number = _latest_revision_number(pilot)
    revision = db.session.scalar(
        select(PilotRevision).where(
            PilotRevision.pilot_id == pilot.id, PilotRevision.number == revision_number
        )
    )
    approved_stage = None
    if decision.approves:
        approved_stage = ApprovedStage(
            stage or default_approval_stage(pilot, revision.requested_stage if revision else None)
        ).value
        if blocking_incidents:
            raise Conflict(
                "The pilot cannot be approved while a serious incident is open: resolve it, or "
                "accept it with a written justification.",
                {
                    f"incident {incident['id']}": [
                        f"Incident {incident['id']}, “{incident['title']}”, is "
                        f"{IncidentSeverity.label_of(incident['severity']).lower()} and "
                        f"{incident['status']}."
                    ]
                    for incident in blocking_incidents
                },
            )
        covered = set(covered_items) if decision == DecisionKind.APPROVE_WITH_CONDITIONS else set()
        blocking = [item for item in checklist.blocking() if item.id not in covered]
        if blocking:
            how = (
                "meet them, waive them with a justification, or approve with conditions that "
                "cover them"
                if decision == DecisionKind.APPROVE
                else "meet them, waive them, or add a condition for each"
            )
            raise Conflict(
                f"The pilot cannot be approved while checklist items are unmet: {how}.",
                {item.id: [f"{item.title}: {item.reason}"] for item in blocking},
            )
    before = record_values(pilot)
    with _state_change():
        pilot.review_status = decision.resulting_status.value
        if decision.approves:
            pilot.approved_revision = revision_number
            pilot.approved_stage = approved_stage
            if review_months is not None:
                pilot.next_review_at = add_months(today(), review_months)
            pilot.review_due_since = None
            pilot.review_due_reason = None
        elif decision == DecisionKind.REJECT:
            pilot.approved_revision = None
            pilot.approved_stage = None
        pilot.decision_epoch = (pilot.decision_epoch or 0) + 1
        _set_in_use_flag(pilot)
        refresh_unreviewed_changes(pilot)
    db.session.flush()
    _involve_current(pilot)
    audit.record(
        actor,
        "decide",
        "pilot",
        pilot.id,
        {
            "decision": decision.value,
            "revision": revision_number,
            "stage": approved_stage,
            "changes": audit.service.diff(before, record_values(pilot)),
        },
    )
    effect = DecisionEffect(
        revision=revision_number,
        stage=approved_stage,
        status_before=before["review_status"],
        status_after=pilot.review_status,
    )
    return effect


def announce_decision(pilot: Pilot, actor: Any, decision: Any) -> None:
    """Tell the subscribers about a recorded decision (after its row exists)."""
    signals.decision_recorded.send(pilot, actor=actor, decision=decision)


def require_resubmission(pilot: Pilot, reason: str, actor: Any) -> None:
    """A CAIO sends an approved pilot back; the approval stays in force until the next decision."""
    check_may_decide(pilot, actor)
    check_transition(pilot, "require_resubmission")
    previous = pilot.review_status
    with _state_change():
        pilot.review_status = ReviewStatus.CHANGES_REQUESTED.value
    db.session.flush()
    audit.record(
        actor,
        "require_resubmission",
        "pilot",
        pilot.id,
        {
            "review_status": {"before": previous, "after": pilot.review_status},
            "reason": reason,
        },
    )
    signals.resubmission_required.send(pilot, actor=actor, reason=reason)


def mark_review_due(
    pilot: Pilot,
    reason: str,
    actor: Any = None,
    *,
    on: dt.date | None = None,
    announce: bool = True,
) -> bool:
    """Mark the pilot "review due" (once; already-marked pilots are left alone) and, unless
    the caller tells them itself (``announce=False``), tell the owner and the CAIOs. Returns
    whether it was newly marked."""
    if pilot.review_due_since is not None:
        return False
    on = on or today()
    with _state_change():
        pilot.review_due_since = on
        pilot.review_due_reason = reason
    db.session.flush()
    audit.record(
        actor, "review_due", "pilot", pilot.id, {"reason": reason, "since": on.isoformat()}
    )
    if announce:
        signals.review_due.send(pilot, reason=reason)
    return True


def store_compliance(pilot: Pilot, checklist: Mapping[str, Any]) -> None:
    """Keep the checklist as last evaluated (``Checklist.to_dict()``) for readers."""
    if pilot.compliance == checklist:
        return
    with _state_change():
        pilot.compliance = dict(checklist)


# ---- the public record -----------------------------------------------------------------------
#
# Every publication stores an immutable PublishedVersion (see registry.catalog.models). A
# change that discloses less (a field withheld, the whole use case withheld, a retirement)
# reaches the public record at once; one that discloses more waits for a publisher: the record
# goes draft -> ready -> published, and can be retracted with a public reason.


def current_version(pilot: Pilot) -> PublishedVersion | None:
    """The latest published version of the use case's public record, or None."""
    return _current_version(pilot)


def _current_version(pilot: Pilot) -> PublishedVersion | None:
    if pilot.id is None:
        return None
    return db.session.scalar(
        select(PublishedVersion).where(
            PublishedVersion.pilot_id == pilot.id, PublishedVersion.is_current.is_(True)
        )
    )


def _wholly_withheld_row(row: Mapping[str, str]) -> dict[str, str]:
    """A wholly withheld use case's public trace: who and what OMB reason, nothing else."""
    keep = set(NEVER_WITHHELD_COLUMNS)
    return public_record.withhold(row, [column for column in row if column not in keep])


def _version_values(
    pilot_id: int,
    row: Mapping[str, str],
    *,
    number: int,
    action: PublicationAction,
    reason: str | None,
    actor: Any,
    at: dt.datetime,
    use_case_id: str | None = None,
    withheld: Mapping[str, str] | None = None,
    waivers: Sequence[Mapping[str, Any]] = (),
    wholly_withheld: bool = False,
    stage: str | None = None,
    is_high_impact: str | None = None,
) -> dict[str, Any]:
    """A version's row. ``stage`` and ``is_high_impact`` are the pilot's codes, kept (unless
    withheld) for the inventory's filters, since an imported cell may be a long-form answer."""
    withheld = dict(withheld or {})
    row = {column: str(row.get(column) or "") for column in public_record.COLUMNS}
    row = _wholly_withheld_row(row) if wholly_withheld else public_record.withhold(row, withheld)
    listed = not wholly_withheld and action != PublicationAction.RETRACTED
    return {
        "pilot_id": pilot_id,
        "use_case_id": use_case_id or row["id"],
        "number": number,
        "action": PublicationAction(action).value,
        "reason": reason,
        "published_at": at,
        "published_by_id": getattr(actor, "id", None),
        "row": row,
        "withheld": withheld,
        # Kept for a wholly withheld use case too: the inventory publishes only their count.
        "waivers": [dict(w) for w in waivers] if action != PublicationAction.RETRACTED else [],
        "is_current": True,
        "listed": listed,
        "wholly_withheld": wholly_withheld,
        "agency": row["agency"][:100],
        "name": row["use_case_name"][:300],
        "topic_area": row["topic_area"][:100] or None,
        "development_stage": None
        if "development_stage" in withheld or wholly_withheld or not stage
        else Stage.label_of(stage),
        "is_high_impact": None
        if "is_high_impact" in withheld or wholly_withheld
        else is_high_impact,
        "search_text": public_record.search_text(row),
    }


def _store_version(
    pilot: Pilot,
    row: Mapping[str, str],
    *,
    action: PublicationAction,
    reason: str | None,
    actor: Any,
    withheld: Mapping[str, str] | None = None,
    waivers: Sequence[Mapping[str, Any]] | None = None,
    wholly_withheld: bool | None = None,
    only_if_changed: bool = False,
) -> PublishedVersion:
    current = _current_version(pilot)
    if withheld is None:
        withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    if waivers is None:
        waivers = current.waivers if current is not None else []
    if wholly_withheld is None:
        wholly_withheld = public_record.is_wholly_withheld(pilot.is_withheld)
    values = _version_values(
        pilot.id,
        {**row, "id": row.get("id") or pilot.use_case_id or ""},
        number=(current.number if current is not None else 0) + 1,
        action=action,
        reason=reason,
        actor=actor,
        at=dt.datetime.now(dt.UTC),
        use_case_id=pilot.use_case_id,
        withheld=withheld,
        waivers=waivers,
        wholly_withheld=wholly_withheld,
        stage=pilot.stage,
        is_high_impact=pilot.is_high_impact,
    )
    if (
        only_if_changed
        and current is not None
        and current.row == values["row"]
        and current.listed == values["listed"]
    ):
        return current
    if current is not None:
        current.is_current = False
        db.session.flush()
    version = PublishedVersion(**values)
    db.session.add(version)
    db.session.flush()
    return version


def _announce_publication(pilot: Pilot, actor: Any, version: PublishedVersion | None) -> None:
    audit.record(
        actor,
        "publication",
        "pilot",
        pilot.id,
        {
            "publication_state": pilot.publication_state,
            "version": version.number if version is not None else None,
            "action": version.action if version is not None else None,
            "reason": version.reason if version is not None else None,
        },
    )
    signals.publication_changed.send(pilot, actor=actor, version=version)


def publication_problems(row: Mapping[str, str]) -> dict[str, list[str]]:
    """The required public fields a row leaves empty, by inventory column, in plain words."""
    return {
        column: [f"Fill in “{public_record_label(column)}” before the record is published."]
        for column in public_record.empty_required(row)
    }


def public_record_label(column: str) -> str:
    """The words for an inventory column (the pilot field's label where one fills it)."""
    field = next((f for f in PILOT_FIELDS if f.omb == column), None)
    if field is not None:
        return field.label
    return {
        "development_stage": "Stage",
        "contact_email": "Public contact",
        "use_case_name": "Name",
        "problem_solved": "Purpose",
    }.get(column, column.replace("_", " ").capitalize())


def _check_publication_state(pilot: Pilot, allowed: Iterable[PublicationState], doing: str) -> None:
    state = PublicationState(pilot.publication_state)
    if state in allowed:
        return
    message = f"The public record is {state.label.lower()}, so you cannot {doing}."
    raise Conflict(message, {"publication_state": [message]})


def mark_ready(pilot: Pilot, actor: Any, *, row: Mapping[str, str]) -> None:
    """An editor puts the public record forward for publication (409 listing empty required
    fields). ``row`` is the record as it would be published now."""
    authorize(actor, "pilot.update", pilot)
    _check_publication_state(
        pilot,
        (PublicationState.DRAFT, PublicationState.PUBLISHED, PublicationState.RETRACTED),
        "mark it ready",
    )
    withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    problems = publication_problems(public_record.withhold(row, withheld))
    if problems:
        raise Conflict("The public record is missing required fields.", problems)
    with _state_change():
        pilot.publication_state = PublicationState.READY.value
    db.session.flush()
    _announce_publication(pilot, actor, None)


def publish(
    pilot: Pilot,
    actor: Any,
    *,
    row: Mapping[str, str],
    waivers: Sequence[Mapping[str, Any]] = (),
    reason: str | None = None,
    automatic: bool = False,
) -> PublishedVersion:
    """Store a new published version of the record (``row``: the 36 columns as they stand,
    before withholding; ``waivers``: the waivers in force, published with it).

    The caller has checked that ``actor`` may publish (a policy setting). A record is
    published from "ready". ``automatic`` is a publication the review makes itself, as the
    policy says: the first submission publishes a draft record, and an approval updates a
    record that is published with what was approved. Withheld fields are replaced by
    "withheld".
    """
    if automatic:
        first = _current_version(pilot) is None
        if not (first or pilot.publication_state == PublicationState.PUBLISHED):
            message = "The record is not published, so the review does not publish it."
            raise Conflict(message, {"publication_state": [message]})
    else:
        _check_publication_state(pilot, (PublicationState.READY,), "publish it")
        withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
        problems = publication_problems(public_record.withhold(row, withheld))
        if problems:
            raise Conflict("The public record is missing required fields.", problems)
    version = _store_version(
        pilot, row, action=PublicationAction.PUBLISHED, reason=reason, actor=actor, waivers=waivers
    )
    with _state_change():
        pilot.publication_state = PublicationState.PUBLISHED.value
    db.session.flush()
    _announce_publication(pilot, actor, version)
    return version


def retract(pilot: Pilot, actor: Any, reason: str) -> PublishedVersion:
    """Take the record out of the current inventory, with a public reason; the history keeps
    every version and says when and why it was retracted."""
    current = _current_version(pilot)
    if current is None or not current.listed:
        message = "The record is not in the public inventory, so there is nothing to retract."
        raise Conflict(message, {"publication_state": [message]})
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationFailed(
            "Say publicly why the record is retracted.",
            {"reason": ["Explain in at least a sentence why the record is retracted."]},
        )
    version = _store_version(
        pilot,
        current.row,
        action=PublicationAction.RETRACTED,
        reason=reason,
        actor=actor,
        withheld=current.withheld,
        waivers=[],
        wholly_withheld=False,
    )
    with _state_change():
        pilot.publication_state = PublicationState.RETRACTED.value
    db.session.flush()
    _announce_publication(pilot, actor, version)
    return version


def _withholding_input(
    pilot: Pilot, data: dict[str, Any]
) -> tuple[list[str], dict[str, str]] | None:
    """Pop and check ``withheld_fields`` and ``withheld_reasons`` from an update (422 naming
    what is wrong); None when the update does not touch them."""
    if "withheld_fields" not in data and "withheld_reasons" not in data:
        return None
    fields = data.pop("withheld_fields", None)
    reasons = data.pop("withheld_reasons", None)
    fields = list(pilot.withheld_fields or []) if fields is None else list(fields)
    fields = list(dict.fromkeys(name.strip() for name in fields if name and name.strip()))
    reasons = dict(pilot.withheld_reasons or {}) if reasons is None else dict(reasons)
    errors: dict[str, list[str]] = {}
    for name in fields:
        if name not in public_record.WITHHOLDABLE:
            errors.setdefault("withheld_fields", []).append(
                f"“{name}” is not an inventory field that can be withheld on its own."
            )
    for name, reason in reasons.items():
        if reason not in WITHHOLDING_REASONS:
            errors.setdefault("withheld_reasons", []).append(
                f"The reason for “{name}” must be one of OMB's: {', '.join(WITHHOLDING_REASONS)}."
            )
    if errors:
        raise ValidationFailed("The withheld fields could not be saved.", errors)
    return fields, {name: reason for name, reason in reasons.items() if name in fields}


def _disclose_less_at_once(pilot: Pilot, actor: Any, *, retired: bool) -> None:
    """Put into the public record at once what discloses less: newly withheld fields, the
    whole use case withheld, a retirement (with its reason)."""
    current = _current_version(pilot)
    if current is None or not current.listed:
        return
    if public_record.is_wholly_withheld(pilot.is_withheld):
        version = _store_version(
            pilot,
            current.row,
            action=PublicationAction.WITHHELD,
            reason=f"The use case is withheld from the public inventory ({pilot.is_withheld}).",
            actor=actor,
            wholly_withheld=True,
        )
        _announce_publication(pilot, actor, version)
        return
    wanted = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    more = [column for column in wanted if column not in current.withheld]
    if more:
        current = _store_version(
            pilot,
            current.row,
            action=PublicationAction.WITHHELD,
            reason="Withheld from the public: "
            + ", ".join(public_record_label(c) for c in more)
            + ".",
            actor=actor,
            withheld={**current.withheld, **{c: wanted[c] for c in more}},
        )
        _announce_publication(pilot, actor, current)
    if retired:
        row = dict(current.row)
        if "development_stage" not in current.withheld:
            row["development_stage"] = Stage.RETIRED.omb
        version = _store_version(
            pilot,
            row,
            action=PublicationAction.RETIRED,
            reason=pilot.retired_reason,
            actor=actor,
            withheld=current.withheld,
        )
        _announce_publication(pilot, actor, version)


# ---- dates ---------------------------------------------------------------------------------


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# ---- reading ---------------------------------------------------------------------------------


def revisions_for(pilot: Pilot) -> list[PilotRevision]:
    return list(
        db.session.scalars(
            select(PilotRevision)
            .where(PilotRevision.pilot_id == pilot.id)
            .order_by(PilotRevision.number.desc())
        )
    )


def get_revision(pilot: Pilot, number: int) -> PilotRevision:
    from registry.errors import NotFound

    revision = db.session.scalar(
        select(PilotRevision).where(
            PilotRevision.pilot_id == pilot.id, PilotRevision.number == number
        )
    )
    if revision is None:
        raise NotFound(f"Pilot {pilot.id} has no revision {number}.")
    return revision


def approved_revision(pilot: Pilot) -> PilotRevision | None:
    """The revision in force, or None before any approval."""
    return _approved_revision(pilot)


def revision_diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Field-by-field differences between two revisions' fields, in field order, labelled."""
    before = before or {}
    order = [field.key for field in PILOT_FIELDS]
    keys = order + sorted(k for k in set(before) | set(after) if k not in order)
    rows = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old != new:
            rows.append(
                {
                    "field": key,
                    "label": field_label(key),
                    "before": old,
                    "after": new,
                    "material": key in MATERIAL_KEYS,
                }
            )
    return rows
