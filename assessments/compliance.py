"""A pilot's compliance: its facts gathered from the assessment tables, evaluated against the
active policy, and the snapshot the lifecycle stores whenever those facts change.

This module reads only tables (never the other assessment services), so the services that
produce facts (questionnaire, evidence, bias checks, decisions) can all use it without import
cycles. The snapshot is evaluated again on every signal that one of its inputs changed, and
by the daily sweep (evidence and checks age); decisions always evaluate afresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select

import policies
from assessments.models import BiasCheck, Condition, Decision, Evidence, ImpactAssessment
from policies import store
from registry import audit, signals
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import APPROVED_STATUSES, ConditionStatus, DecisionKind
from registry.extensions import db


def today() -> dt.date:
    return lifecycle.today()


def utc_day(moment: dt.datetime | None) -> dt.date:
    """The UTC calendar day of a stored timestamp (naive means UTC); today when missing."""
    if moment is None:
        return today()
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


def standing_approval(pilot: Pilot) -> Decision | None:
    """The latest decision when it is the approval in force."""
    if pilot.review_status not in APPROVED_STATUSES and pilot.approved_revision is None:
        return None
    latest = db.session.scalar(
        select(Decision)
        .where(Decision.pilot_id == pilot.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )
    if latest is None or not DecisionKind(latest.decision).approves:
        return None
    return latest


def waiver_facts(pilot: Pilot) -> tuple[policies.WaiverFact, ...]:
    """The waivers of the approval that stands; a new review round must waive afresh."""
    if pilot.review_status not in APPROVED_STATUSES:
        return ()
    latest = standing_approval(pilot)
    if latest is None:
        return ()
    return tuple(
        policies.WaiverFact(item_id=w.item_id, justification=w.justification)
        for w in latest.waivers
    )


def gather_facts(pilot: Pilot, *, on: dt.date | None = None) -> policies.PilotFacts:
    """Everything the policy needs to know about a pilot, as plain facts."""
    assessments = db.session.scalars(
        select(ImpactAssessment).where(ImpactAssessment.pilot_id == pilot.id)
    ).all()
    evidence = db.session.scalars(
        select(Evidence)
        .where(Evidence.pilot_id == pilot.id)
        .order_by(Evidence.created_at, Evidence.id)
    ).all()
    checks = db.session.scalars(
        select(BiasCheck).where(BiasCheck.pilot_id == pilot.id, BiasCheck.status == "succeeded")
    ).all()
    return policies.PilotFacts(
        tier=pilot.risk_tier,
        is_high_impact=pilot.is_high_impact,
        today=on or today(),
        assessments=tuple(
            policies.AssessmentFact(completed_at=utc_day(a.created_at), impact_level=a.impact_level)
            for a in assessments
        ),
        evidence=tuple(
            policies.EvidenceFact(
                kind=e.kind, uploaded_at=utc_day(e.created_at), item_id=e.item_id, evidence_id=e.id
            )
            for e in evidence
        ),
        bias_checks=tuple(
            policies.BiasCheckFact(completed_at=utc_day(c.finished_at), verdict=c.verdict)
            for c in checks
        ),
        waivers=waiver_facts(pilot),
    )


def evaluate(pilot: Pilot, *, extra_waivers: tuple = (), on: dt.date | None = None):
    """The pilot's checklist under the active policy, and the version that judged it."""
    version, document = store.active_policy()
    facts = gather_facts(pilot, on=on)
    if extra_waivers:
        facts = dataclasses.replace(facts, waivers=facts.waivers + tuple(extra_waivers))
    return version, policies.evaluate(document, facts)


def snapshot_of(version: Any, checklist: policies.Checklist) -> dict[str, Any]:
    """The stored form of a checklist: its dict, with the policy version's id and label."""
    return {
        **checklist.to_dict(),
        "policy_version_id": version.id,
        "policy_version_label": version.label,
    }


def refresh(pilot: Pilot, *, on: dt.date | None = None) -> policies.Checklist:
    """Evaluate the pilot's checklist now, store the snapshot, and meet the conditions whose
    checklist item is now met. Runs in the caller's transaction."""
    version, checklist = evaluate(pilot, on=on)
    lifecycle.store_compliance(pilot, snapshot_of(version, checklist))
    _meet_conditions_by_item(pilot, checklist)
    return checklist


def _meet_conditions_by_item(pilot: Pilot, checklist: policies.Checklist) -> None:
    met = {item.id for item in checklist.items if item.status == "met"}
    if not met:
        return
    pending = db.session.scalars(
        select(Condition).where(
            Condition.pilot_id == pilot.id,
            Condition.item_id.in_(met),
            Condition.status != ConditionStatus.MET,
        )
    ).all()
    now = dt.datetime.now(dt.UTC)
    for condition in pending:
        before = condition.status
        condition.status = ConditionStatus.MET.value
        condition.met_at = now
        condition.met_how = "item"
        condition.met_note = f"Met when “{checklist.item(condition.item_id).title}” was met."
        db.session.flush()
        audit.record(
            None,
            "meet_condition",
            "condition",
            condition.id,
            {
                "pilot_id": pilot.id,
                "status": {"before": before, "after": ConditionStatus.MET.value},
                "how": "its checklist item is met",
                "item_id": condition.item_id,
            },
        )
        signals.condition_met.send(pilot, condition=condition)


def stored_or_evaluated(pilot: Pilot) -> dict[str, Any]:
    """The stored snapshot, or (for a pilot never evaluated) a fresh evaluation, unstored."""
    if pilot.compliance is not None:
        return pilot.compliance
    version, checklist = evaluate(pilot)
    return snapshot_of(version, checklist)


def blocking_titles(snapshot: dict[str, Any]) -> list[str]:
    return [item["title"] for item in snapshot.get("items", []) if item["status"] == "unmet"]


# ---- reactions ---------------------------------------------------------------------------------


def _refresh_on_signal(pilot: Pilot, **_kwargs: Any) -> None:
    refresh(pilot)


def _refresh_when_relevant(pilot: Pilot, changes: dict[str, Any] | None = None, **_kw: Any) -> None:
    if changes is None or {"is_high_impact", "risk_tier"} & set(changes):
        refresh(pilot)


def _refresh_everything(_sender: Any, **_kwargs: Any) -> None:
    for pilot in db.session.scalars(select(Pilot)):
        refresh(pilot)


def init_app(_app) -> None:
    """Keep snapshots current: subscribe to every signal that changes a checklist input."""
    signals.compliance_inputs_changed.connect(_refresh_on_signal)
    signals.tier_changed.connect(_refresh_on_signal)
    signals.pilot_updated.connect(_refresh_when_relevant)
    signals.decision_recorded.connect(_refresh_on_signal)
    signals.pilot_created.connect(_refresh_on_signal)
    signals.policy_published.connect(_refresh_everything)
