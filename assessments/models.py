"""Assessment tables: impact assessments and evidence files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.auth.models import User
from registry.catalog.vocabulary import ApprovedStage, ConditionStatus, DecisionKind
from registry.extensions import db


class QuestionnaireDraft(db.Model):
    """The impact questionnaire's answers so far, saved at each step until it is submitted."""

    __tablename__ = "questionnaire_drafts"

    pilot_id: Mapped[int] = mapped_column(
        ForeignKey("pilots.id", ondelete="CASCADE"), primary_key=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ImpactAssessment(db.Model):
    """One completed impact questionnaire and its score; re-answering adds a new one."""

    __tablename__ = "impact_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    policy_version_label: Mapped[str] = mapped_column(String(260))
    questionnaire_version: Mapped[str] = mapped_column(String(40))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw_score: Mapped[int] = mapped_column(Integer)
    max_raw_score: Mapped[int] = mapped_column(Integer)
    mitigation_score: Mapped[int] = mapped_column(Integer)
    max_mitigation_score: Mapped[int] = mapped_column(Integer)
    mitigation_applied: Mapped[bool] = mapped_column(default=False)
    current_score: Mapped[float] = mapped_column(Float)
    impact_level: Mapped[str] = mapped_column(String(3))
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    created_by: Mapped[User | None] = relationship()


class Evidence(db.Model):
    """A file attached to a pilot as evidence for a checklist item; stored by sha256."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    item_id: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str | None] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    notes: Mapped[str | None] = mapped_column(Text)

    uploaded_by: Mapped[User | None] = relationship()


class BiasCheck(db.Model):
    """A fairness check of uploaded model outputs: the upload, the job state and the results."""

    __tablename__ = "bias_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # The upload
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    file_format: Mapped[str] = mapped_column(String(10))
    # binary_classification | multiclass_classification | regression | outcome_rates
    task: Mapped[str] = mapped_column(String(40), server_default="binary_classification")
    y_true: Mapped[str | None] = mapped_column(String(200))
    y_pred: Mapped[str | None] = mapped_column(String(200))
    y_score: Mapped[str | None] = mapped_column(String(200))
    y_score_low: Mapped[str | None] = mapped_column(String(200))
    y_score_high: Mapped[str | None] = mapped_column(String(200))
    outcomes: Mapped[list[str] | None] = mapped_column(JSON)
    sensitive_features: Mapped[list[str]] = mapped_column(JSON)
    positive_label: Mapped[str] = mapped_column(String(100))
    # Aggregated input: the column of row counts and the total the submitter declared
    frequency: Mapped[str | None] = mapped_column(String(200))
    total_rows: Mapped[int | None] = mapped_column(BigInteger)
    # Repeatability: client_version, engine, query, source_sha256 as submitted
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The guided choice of metrics: the answers, the recommended metrics and why
    guidance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The job
    status: Mapped[str] = mapped_column(String(12), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # A failed check's reason: "error" (its own) or "interrupted" (its process stopped)
    failure_reason: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # The results
    # BIGINT: an aggregated check can stand for billions of rows
    n_rows: Mapped[int | None] = mapped_column(BigInteger)
    n_rows_dropped: Mapped[int | None] = mapped_column(BigInteger)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[str | None] = mapped_column(String(20), index=True)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    charts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    policy_version_label: Mapped[str | None] = mapped_column(String(260))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    created_by: Mapped[User | None] = relationship()

    @property
    def aggregated(self) -> bool:
        """Whether the check was computed from aggregates (a frequency column)."""
        return self.frequency is not None


class Submission(db.Model):
    """A team's request for review; each resubmission after a rejection starts a new round."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    # The revision the submission froze, and the stage the team asks approval for.
    revision: Mapped[int | None] = mapped_column(Integer)
    requested_stage: Mapped[str | None] = mapped_column(String(20))

    submitted_by: Mapped[User | None] = relationship()


class Decision(db.Model):
    """A CAIO's decision, with a frozen snapshot of what it was based on."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(30))
    rationale: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    policy_version_label: Mapped[str | None] = mapped_column(String(260))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The revision decided on, and for an approval the stage it approves (pilot or deployed).
    revision: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(20))

    decided_by: Mapped[User | None] = relationship()

    @property
    def decision_label(self) -> str:
        return DecisionKind.label_of(self.decision)

    @property
    def stage_label(self) -> str:
        return ApprovedStage.label_of(self.stage)

    waivers: Mapped[list[Waiver]] = relationship(back_populates="decision", order_by="Waiver.id")
    conditions: Mapped[list[Condition]] = relationship(
        back_populates="decision", order_by="Condition.id"
    )


class Waiver(db.Model):
    """A requirement the CAIO waived in writing (the M-25-21 'CAIO waived' status)."""

    __tablename__ = "waivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(80))
    justification: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    decision: Mapped[Decision] = relationship(back_populates="waivers")


class Condition(db.Model):
    """Something an approval with conditions requires by a date; it may cover a checklist item
    that was unmet at the decision, and is then met when that item is."""

    __tablename__ = "conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    item_id: Mapped[str | None] = mapped_column(String(80))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    # open, reported or met (overdue is an open or reported condition past its date).
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    # The team's report that it is met, which a CAIO verifies.
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    report_note: Mapped[str | None] = mapped_column(Text)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="SET NULL"))
    # How it became met: "verified" by a CAIO, or "item" when its checklist item became met.
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    met_note: Mapped[str | None] = mapped_column(Text)
    met_how: Mapped[str | None] = mapped_column(String(10))
    overdue_since: Mapped[date | None] = mapped_column(Date)

    decision: Mapped[Decision] = relationship(back_populates="conditions")
    met_by: Mapped[User | None] = relationship(foreign_keys=[met_by_id])
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])

    def state(self, today: date) -> str:
        """open, reported, met or overdue."""
        if self.status == ConditionStatus.MET:
            return ConditionStatus.MET.value
        if self.due_date < today:
            return ConditionStatus.OVERDUE.value
        return self.status

    def state_label(self, today: date) -> str:
        return ConditionStatus.label_of(self.state(today))


class Comment(db.Model):
    """A remark in a pilot's review thread."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    author: Mapped[User | None] = relationship()
