"""Public-trust tables: concerns from the public, incidents with their actions, the risk
register, and the results of the background link check of public text."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.auth.models import User
from registry.catalog.vocabulary import (
    ConcernStatus,
    IncidentSeverity,
    IncidentStatus,
)
from registry.extensions import db


class Concern(db.Model):
    """A concern a member of the public reported about a published use case.

    ``description`` is kept verbatim (it is escaped wherever it is shown). ``contact_email``
    is optional and is used only to tell the submitter when the status changes.
    """

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    use_case_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(12), default="new", index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # The service level: a first response is due by this day (working days from receipt).
    first_response_due: Mapped[date] = mapped_column(Date, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the agency says publicly: a response, or the reason for dismissing.
    public_response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("concerns.id", ondelete="SET NULL")
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))

    responded_by: Mapped[User | None] = relationship()
    merged_into: Mapped[Concern | None] = relationship(remote_side=[id])
    incident: Mapped[Incident | None] = relationship(foreign_keys=[incident_id])

    @property
    def status_label(self) -> str:
        return ConcernStatus.label_of(self.status)


class Incident(db.Model):
    """Something that went wrong with a use case, from a concern or reported by staff."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    harm_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    affected_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Links to what was involved, validated as the pilot's own.
    bias_check_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    evidence_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    revision_numbers: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Closing it: the resolution, or the CAIO's written acceptance of the remaining risk.
    resolution: Mapped[str | None] = mapped_column(Text)
    acceptance_justification: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    actions: Mapped[list[IncidentAction]] = relationship(
        back_populates="incident",
        order_by="IncidentAction.id",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def severity_label(self) -> str:
        return IncidentSeverity.label_of(self.severity)

    @property
    def status_label(self) -> str:
        return IncidentStatus.label_of(self.status)

    @property
    def is_blocking(self) -> bool:
        """Serious or critical and neither resolved nor accepted: it blocks approvals."""
        return (
            IncidentSeverity(self.severity).is_serious and not IncidentStatus(self.status).is_closed
        )


class IncidentAction(db.Model):
    """The immediate action or a corrective action on an incident, with an owner and a date."""

    __tablename__ = "incident_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # immediate | corrective
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_date: Mapped[date] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)

    incident: Mapped[Incident] = relationship(back_populates="actions")
    owner: Mapped[User | None] = relationship()


class Risk(db.Model):
    """One entry of a use case's risk register: inherent and residual likelihood x severity."""

    __tablename__ = "risks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    likelihood: Mapped[int] = mapped_column(Integer)
    severity: Mapped[int] = mapped_column(Integer)
    mitigation: Mapped[str | None] = mapped_column(Text)
    mitigation_evidence_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    mitigation_condition_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    residual_likelihood: Mapped[int | None] = mapped_column(Integer)
    residual_severity: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_date: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def inherent_level(self) -> int:
        return self.likelihood * self.severity

    @property
    def residual_level(self) -> int:
        """Residual likelihood x severity; the inherent level while no residual is recorded."""
        if self.residual_likelihood is None or self.residual_severity is None:
            return self.inherent_level
        return self.residual_likelihood * self.residual_severity

    @property
    def owner_email(self) -> str | None:
        return self.owner.email if self.owner else None


class PublicLinkCheck(db.Model):
    """Whether a link in a use case's public text answered, as the background job found."""

    __tablename__ = "public_link_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
