"""The catalog tables: pilots (AI use cases), data sources and who is on each pilot's team."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from registry.auth.models import User
from registry.catalog import vocabulary
from registry.extensions import db

pilot_team_members = Table(
    "pilot_team_members",
    db.metadata,
    Column("pilot_id", ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

pilot_data_sources = Table(
    "pilot_data_sources",
    db.metadata,
    Column("pilot_id", ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "data_source_id",
        ForeignKey("data_sources.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class DataSource(db.Model):
    """A data set or system a pilot draws on, with the sensitivity of what it holds."""

    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    system_of_record: Mapped[str | None] = mapped_column(String(200))
    provenance_url: Mapped[str | None] = mapped_column(String(500))
    retention: Mapped[str | None] = mapped_column(String(200))
    contains_pii: Mapped[bool] = mapped_column(Boolean, default=False)
    contains_phi: Mapped[bool] = mapped_column(Boolean, default=False)
    contains_criminal_justice: Mapped[bool] = mapped_column(Boolean, default=False)
    contains_federal_tax: Mapped[bool] = mapped_column(Boolean, default=False)
    contains_demographics: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    pilots: Mapped[list[Pilot]] = relationship(
        secondary=pilot_data_sources, back_populates="data_sources"
    )

    __mapper_args__ = {"version_id_col": version}

    SENSITIVITY_FLAGS = {
        "contains_pii": "Personally identifiable information",
        "contains_phi": "Protected health information",
        "contains_criminal_justice": "Criminal justice information",
        "contains_federal_tax": "Federal tax information",
        "contains_demographics": "Demographic features",
    }

    @property
    def sensitivity_flags(self) -> list[str]:
        return [flag for flag in self.SENSITIVITY_FLAGS if getattr(self, flag)]

    @property
    def sensitivity_labels(self) -> list[str]:
        return [self.SENSITIVITY_FLAGS[flag] for flag in self.sensitivity_flags]


class Pilot(db.Model):
    """An AI use case under oversight, with the OMB M-25-21 inventory fields."""

    __tablename__ = "pilots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The inventory's own identifier (for example "DOJ-0357"), kept for imports and exports.
    use_case_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(String(100), index=True)
    agency_name: Mapped[str | None] = mapped_column(String(200))
    agency_bureau: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The agency, bureau or office the use case belongs to; oversight roles are scoped by it.
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_to_confirm: Mapped[bool] = mapped_column(Boolean, default=False)

    # The pilot's state: written only by registry.catalog.lifecycle (a guard enforces it).
    stage: Mapped[str] = mapped_column(String(20), index=True)
    review_status: Mapped[str] = mapped_column(String(30), default="draft", index=True)
    risk_tier: Mapped[str | None] = mapped_column(String(3), index=True)
    risk_tier_source: Mapped[str | None] = mapped_column(String(20))
    risk_tier_justification: Mapped[str | None] = mapped_column(Text)
    next_review_at: Mapped[date | None] = mapped_column(Date, index=True)
    # Set by the daily review sweep when the review date passed or evidence expired.
    review_due_since: Mapped[date | None] = mapped_column(Date, index=True)
    review_due_reason: Mapped[str | None] = mapped_column(Text)
    retired_reason: Mapped[str | None] = mapped_column(Text)
    # The revision an approval keeps in force, and the furthest stage it covers.
    approved_revision: Mapped[int | None] = mapped_column(Integer)
    approved_stage: Mapped[str | None] = mapped_column(String(20))
    # The recorded stage is beyond what any approval covers (registered or imported in use).
    in_use_without_approval: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Material fields changed since the approved revision, not yet reviewed.
    unreviewed_changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Incremented by every decision; separation of duties looks at who was involved since.
    decision_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # When the use case first became eligible for the public inventory (submitted, approved
    # or imported); None for a pilot that never left the team's drafts.
    public_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # The compliance checklist as last evaluated (Checklist.to_dict()), stored by the
    # lifecycle whenever its inputs change; the queue, dashboards and inventory read it.
    compliance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The public record: where it is in the publishing workflow, and the inventory fields
    # withheld from the public one by one (names as given; each with its OMB reason).
    publication_state: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    withheld_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    withheld_reasons: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    # OMB 2025 inventory fields, under the data dictionary's names where one exists.
    is_withheld: Mapped[str | None] = mapped_column(String(60))
    is_high_impact: Mapped[str | None] = mapped_column(String(60), index=True)
    hi_justification: Mapped[str | None] = mapped_column(Text)
    topic_area: Mapped[str | None] = mapped_column(String(100))
    classification: Mapped[str | None] = mapped_column(String(100))
    benefits: Mapped[str | None] = mapped_column(Text)
    system_outputs: Mapped[str | None] = mapped_column(Text)
    operational_date: Mapped[str | None] = mapped_column(String(40))
    contracting_usage: Mapped[str | None] = mapped_column(String(100))
    vendor_name: Mapped[str | None] = mapped_column(String(300))
    have_ato: Mapped[str | None] = mapped_column(String(10))
    system_name_ato: Mapped[str | None] = mapped_column(String(300))
    data_description: Mapped[str | None] = mapped_column(Text)
    link_to_data: Mapped[str | None] = mapped_column(Text)
    has_pii: Mapped[str | None] = mapped_column(String(10))
    pia_url: Mapped[str | None] = mapped_column(Text)
    demographic_features: Mapped[list[str]] = mapped_column(JSON, default=list)
    has_custom_code: Mapped[str | None] = mapped_column(String(10))
    code_url: Mapped[str | None] = mapped_column(Text)
    hi_potential_impacts: Mapped[str | None] = mapped_column(Text)
    # Values imported from an existing inventory that have no column of their own here
    # (for example the hi_* answers an agency reported), kept so that exports round-trip.
    inventory_extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    team_members: Mapped[list[User]] = relationship(secondary=pilot_team_members)
    data_sources: Mapped[list[DataSource]] = relationship(
        secondary=pilot_data_sources, back_populates="pilots", order_by=DataSource.name
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def owner_email(self) -> str:
        return self.owner.email

    @property
    def data_source_ids(self) -> list[int]:
        return [source.id for source in self.data_sources]

    @property
    def team_member_emails(self) -> list[str]:
        return sorted(member.email for member in self.team_members)

    @property
    def development_stage(self) -> str:
        return vocabulary.Stage(self.stage).omb

    @property
    def stage_label(self) -> str:
        return vocabulary.Stage.label_of(self.stage)

    @property
    def review_status_label(self) -> str:
        return vocabulary.ReviewStatus.label_of(self.review_status)

    @property
    def is_approved(self) -> bool:
        return self.review_status in vocabulary.APPROVED_STATUSES

    @property
    def unreviewed_change_labels(self) -> list[str]:
        return [vocabulary.field_label(name) for name in self.unreviewed_changes or []]

    def decision_bar(self, user: Any) -> str | None:
        """Why this person may not decide on this pilot (separation of duties), or None.

        Barred: the pilot's creator, the person who submitted the current round, and anyone
        who was its owner or a team member at any point since the last decision.
        """
        if self.created_by_id == user.id:
            return "You registered this pilot, so you may not decide on it."
        if self.owner_id == user.id or any(m.id == user.id for m in self.team_members):
            return "You are this pilot's owner or on its team, so you may not decide on it."
        session = object_session(self)
        if session is None:
            return None
        if self.review_status == vocabulary.ReviewStatus.SUBMITTED:
            submitter = session.scalar(
                select(PilotRevision.frozen_by_id)
                .where(PilotRevision.pilot_id == self.id)
                .order_by(PilotRevision.number.desc())
                .limit(1)
            )
            if submitter == user.id:
                return (
                    "You submitted this pilot for the current review, so you may not decide on it."
                )
        involved = session.scalar(
            select(PilotInvolvement.role).where(
                PilotInvolvement.pilot_id == self.id,
                PilotInvolvement.epoch == (self.decision_epoch or 0),
                PilotInvolvement.user_id == user.id,
            )
        )
        if involved is not None:
            return (
                "You were this pilot's owner or on its team since the last decision, so you "
                "may not decide on it."
            )
        return None

    def __repr__(self) -> str:
        return f"<Pilot {self.id} {self.name!r}>"


class PilotRevision(db.Model):
    """A frozen copy of what was submitted for review: the pilot's fields, its data sources,
    the questionnaire answers, the tier, the evidence hashes and the bias checks in force."""

    __tablename__ = "pilot_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    frozen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    frozen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(40))
    requested_stage: Mapped[str | None] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)

    frozen_by: Mapped[User | None] = relationship()

    __table_args__ = (
        db.UniqueConstraint("pilot_id", "number", name="uq_pilot_revisions_pilot_id_number"),
    )


class PilotInvolvement(db.Model):
    """Who was the owner or on the team of a pilot during one decision epoch (the time between
    two decisions): such a person may not make the next decision."""

    __tablename__ = "pilot_involvement"

    pilot_id: Mapped[int] = mapped_column(
        ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))


class PublishedVersion(db.Model):
    """One version of a use case's public record, immutable once stored.

    ``row`` holds the 36 inventory columns exactly as the public saw them on ``published_at``,
    each withheld field already replaced by "withheld" (``withheld`` maps those columns to
    their OMB reason). ``listed`` says whether the version is in the current inventory (a
    retracted record or a wholly withheld use case is not); ``is_current`` marks the latest
    version of each use case. The filter columns repeat public values of ``row`` so that the
    inventory page can search and page without reading every row.
    """

    __tablename__ = "published_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A published use case is never deleted (the lifecycle refuses); SET NULL is belt and braces.
    pilot_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilots.id", ondelete="SET NULL"), index=True
    )
    use_case_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    row: Mapped[dict[str, str]] = mapped_column(JSON)
    withheld: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Waivers in force: [{"item_id", "title", "justification"}], published with the record.
    waivers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    wholly_withheld: Mapped[bool] = mapped_column(Boolean, default=False)
    agency: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    topic_area: Mapped[str | None] = mapped_column(String(100))
    development_stage: Mapped[str | None] = mapped_column(String(100))
    is_high_impact: Mapped[str | None] = mapped_column(String(60))
    search_text: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        db.UniqueConstraint("use_case_id", "number", name="uq_published_versions_use_case_number"),
        db.Index("ix_published_versions_current_listed", "is_current", "listed", "pilot_id"),
        # A use case by its ID (permalinks, concerns): see migration 0023.
        db.Index("ix_published_versions_use_case_current", "use_case_id", "is_current", "listed"),
    )
