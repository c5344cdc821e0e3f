"""Read-only gathering of everything a report shows, as plain data with a verification hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from typing import Any

from sqlalchemy import and_, func, or_, select

from assessments import bias_checks, concerns, incidents, risks, service, workflow
from assessments.models import BiasCheck, Condition, Decision, Evidence, ImpactAssessment
from registry.audit import checkpoints
from registry.audit.models import AuditEvent
from registry.audit.service import chain_head, jsonable
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import (
    REVIEW_STATUS_LABELS,
    REVIEW_STATUSES,
    RISK_TIERS,
    STAGE_LABELS,
    STAGES,
    ApprovedStage,
    ReviewStatus,
    field_label,
)
from registry.extensions import db

TIER_ORDER = {"IV": 0, "III": 1, "II": 2, "I": 3, None: 4}


def input_digest(data: Any) -> str:
    """sha256 over the canonical JSON of a report's input data."""
    canonical = json.dumps(jsonable(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _person(user) -> dict[str, Any] | None:
    return {"name": user.name, "email": user.email, "role": user.role} if user else None


def _pilot_event_filter(pilot: Pilot):
    related = [("pilot", [pilot.id])]
    for entity_type, model in (("impact_assessment", ImpactAssessment), ("bias_check", BiasCheck),
                               ("evidence", Evidence), ("condition", Condition)):
        ids = db.session.scalars(select(model.id).where(model.pilot_id == pilot.id)).all()
        if ids:
            related.append((entity_type, ids))
    return or_(*(and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_([str(i) for i in ids]))
                 for kind, ids in related))


def audit_excerpt(pilot: Pilot, limit: int = 40) -> list[dict[str, Any]]:
    events = db.session.scalars(select(AuditEvent).where(_pilot_event_filter(pilot))
                                .order_by(AuditEvent.seq.desc()).limit(limit)).all()
    return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "entity_type": e.entity_type,
             "entity_id": e.entity_id, "hash": e.hash,
             "fields": sorted(e.changes)[:8] if isinstance(e.changes, dict) else []} for e in reversed(events)]


def bias_check_data(check: BiasCheck) -> dict[str, Any]:
    from assessments import charts
    from assessments.charts import metric_table
    from policies.fairness import BINARY_REPORT_TABLE, TASK_LABELS

    results = check.results or {}
    return {
        "task": check.task, "task_label": TASK_LABELS.get(check.task, check.task),
        "aggregated": check.aggregated, "provenance": check.provenance or {},
        "group_table": charts.group_table(results, BINARY_REPORT_TABLE) if results else None,
        "routing": charts.class_table(results) if results else None,
        "labels": charts.result_metric_labels(results),
        "id": check.id, "name": check.name, "status": check.status, "verdict": check.verdict,
        "finished_at": check.finished_at, "filename": check.filename, "sha256": check.sha256,
        "n_rows": check.n_rows, "n_rows_dropped": check.n_rows_dropped,
        "sensitive_features": check.sensitive_features, "policy_version": check.policy_version_label,
        "by_group": results.get("by_group", []), "disparities": results.get("disparities", {}),
        "summary": results.get("summary", {}), "bootstrap": results.get("bootstrap", {}),
        "findings": check.findings or [], "charts": check.charts or {},
        "tables": {metric: metric_table(results, metric) for metric in (check.charts or {}) if metric not in ("routing", "what_if")}
        if results else {},
    }


def pilot_report(pilot: Pilot) -> dict[str, Any]:
    """Everything the accountability report shows about one pilot."""
    version, checklist = service.compliance(pilot)
    decisions = workflow.decisions_for(pilot)
    latest_assessment = service.latest_assessment(pilot)
    today = workflow.today()
    deciding = next((d for d in decisions), None)
    data = {
        "pilot": {
            "id": pilot.id, "use_case_id": pilot.use_case_id, "name": pilot.name, "agency": pilot.agency,
            "agency_name": pilot.agency_name, "agency_bureau": pilot.agency_bureau, "purpose": pilot.purpose,
            "benefits": pilot.benefits, "system_outputs": pilot.system_outputs, "stage": pilot.stage,
            "stage_label": STAGE_LABELS.get(pilot.stage, pilot.stage), "review_status": pilot.review_status,
            "review_status_label": REVIEW_STATUS_LABELS.get(pilot.review_status, pilot.review_status),
            "vendor_name": pilot.vendor_name, "contracting_usage": pilot.contracting_usage,
            "topic_area": pilot.topic_area, "classification": pilot.classification,
            "is_high_impact": pilot.is_high_impact, "hi_justification": pilot.hi_justification,
            "is_withheld": pilot.is_withheld, "risk_tier": pilot.risk_tier,
            "risk_tier_source": pilot.risk_tier_source, "risk_tier_justification": pilot.risk_tier_justification,
            "next_review_at": pilot.next_review_at, "review_due_since": pilot.review_due_since,
            "review_due_reason": pilot.review_due_reason, "demographic_features": pilot.demographic_features,
        },
        "revision": _revision_status(pilot),
        "officials": {
            "owner": _person(pilot.owner),
            "team": [_person(m) for m in sorted(pilot.team_members, key=lambda m: m.email)],
            "deciding_caio": _person(deciding.decided_by) if deciding else None,
        },
        "assessment": None if latest_assessment is None else {
            "id": latest_assessment.id, "created_at": latest_assessment.created_at,
            "raw_score": latest_assessment.raw_score, "max_raw_score": latest_assessment.max_raw_score,
            "mitigation_score": latest_assessment.mitigation_score,
            "max_mitigation_score": latest_assessment.max_mitigation_score,
            "mitigation_applied": latest_assessment.mitigation_applied,
            "current_score": latest_assessment.current_score, "impact_level": latest_assessment.impact_level,
            "breakdown": latest_assessment.breakdown, "questionnaire_version": latest_assessment.questionnaire_version,
            "policy_version": latest_assessment.policy_version_label,
        },
        "data_sources": [{"name": s.name, "system_of_record": s.system_of_record, "retention": s.retention,
                          "flags": s.sensitivity_labels} for s in pilot.data_sources],
        "checklist": {"policy_version": version.label, "tier": checklist.tier,
                      "summary": checklist.summary(),
                      "items": [{"id": i.id, "title": i.title, "status": i.status, "reason": i.reason,
                                 "nist": list(i.nist), "source": i.source} for i in checklist.items]},
        "bias_checks": [bias_check_data(c) for c in bias_checks.for_pilot(pilot) if c.status == "succeeded"],
        "decisions": [{
            "id": d.id, "round": d.round, "decision": d.decision, "rationale": d.rationale,
            "decision_label": d.decision_label, "revision": d.revision, "stage": d.stage,
            "stage_label": d.stage_label if d.stage else None,
            "decided_by": _person(d.decided_by), "decided_at": d.decided_at,
            "policy_version": d.policy_version_label,
            "waivers": [{"item_id": w.item_id, "justification": w.justification} for w in d.waivers],
            "conditions": [{"text": c.text, "due_date": c.due_date, "state": c.state(today),
                            "met_note": c.met_note} for c in d.conditions],
        } for d in decisions],
        "evidence": [{"kind": e.kind, "item_id": e.item_id, "filename": e.filename, "sha256": e.sha256,
                      "uploaded_at": e.created_at} for e in service.evidence_for(pilot)],
        "audit": audit_excerpt(pilot),
    }
    return data


def _revision_status(pilot: Pilot) -> dict[str, Any]:
    """Which revision the report describes, what is in force, and what is not yet reviewed."""
    revisions = lifecycle.revisions_for(pilot)
    latest = revisions[0] if revisions else None
    return {
        "latest": latest.number if latest else None,
        "latest_frozen_at": latest.frozen_at if latest else None,
        "approved": pilot.approved_revision,
        "approved_stage": pilot.approved_stage,
        "approved_stage_label": ApprovedStage.label_of(pilot.approved_stage) if pilot.approved_stage else None,
        "unreviewed_changes": [field_label(name) for name in pilot.unreviewed_changes or []],
        "in_use_without_approval": pilot.in_use_without_approval,
        "under_review": pilot.review_status == ReviewStatus.SUBMITTED,
    }


def verification(data: dict[str, Any]) -> dict[str, Any]:
    """The hash of the report's inputs, the audit chain head at render time and its last signed checkpoint."""
    head_seq, head_hash = chain_head()
    signed = checkpoints.latest()
    return {"input_sha256": input_digest(data), "chain_head_seq": head_seq, "chain_head_hash": head_hash,
            "rendered_at": dt.datetime.now(dt.UTC),
            # The newest signed checkpoint: a copy kept outside the registry, which
            # `flask --app wsgi audit verify --checkpoint FILE` checks the chain against.
            "checkpoint": checkpoints.as_dict(signed) if signed is not None else None}


# ---- the portfolio -------------------------------------------------------------------------


def _counts(column, values, organization_ids: set[int] | None = None) -> list[dict[str, Any]]:
    stmt = select(column, func.count()).group_by(column)
    if organization_ids is not None:
        stmt = stmt.where(Pilot.organization_id.in_(organization_ids))
    found = dict(db.session.execute(stmt).all())
    return [{"value": v, "count": found.get(v, 0)} for v in values]


def _urgency(pilot: Pilot, overdue_by_pilot: Counter, failing: set[int]) -> int:
    score = 0
    if pilot.review_due_since or (pilot.next_review_at and pilot.next_review_at < workflow.today()):
        score += 4
    score += 2 * overdue_by_pilot.get(pilot.id, 0)
    if pilot.id in failing:
        score += 3
    if pilot.review_status == ReviewStatus.SUBMITTED:
        score += 1
    if pilot.in_use_without_approval:
        score += 4
    return score


def portfolio(*, since: dt.date | None = None, include_withheld: bool = True,
              organization_ids: set[int] | None = None) -> dict[str, Any]:
    """The board's view: counts, what needs attention, and recent decisions.

    `organization_ids` limits it to the pilots of those organisations (a reader's subtree).
    """
    today = workflow.today()
    since = since or (today - dt.timedelta(days=90))
    stmt = select(Pilot).order_by(Pilot.id)
    if organization_ids is not None:
        stmt = stmt.where(Pilot.organization_id.in_(organization_ids))
    pilots = db.session.scalars(stmt).all()
    in_scope_ids = {p.id for p in pilots}
    overdue = [c for c in workflow.overdue_conditions() if c.pilot_id in in_scope_ids]
    overdue_by_pilot = Counter(c.pilot_id for c in overdue)
    latest_checks: dict[int, BiasCheck] = {}
    for check in db.session.scalars(select(BiasCheck).where(BiasCheck.status == "succeeded").order_by(BiasCheck.id)):
        if check.pilot_id in in_scope_ids:
            latest_checks[check.pilot_id] = check
    failing = {pid for pid, c in latest_checks.items() if c.verdict in ("fail", "inconclusive")}
    due = [p for p in pilots if p.review_due_since or (p.is_approved
                                                       and p.next_review_at and p.next_review_at < today)]
    upcoming = [p for p in pilots if p.is_approved and p.next_review_at
                and today <= p.next_review_at <= today + dt.timedelta(days=60)]
    unapproved_in_use = [p for p in pilots if p.in_use_without_approval]
    unreviewed = [p for p in pilots if p.unreviewed_changes]
    decisions = db.session.scalars(select(Decision).where(
        Decision.decided_at >= dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC))
        .order_by(Decision.decided_at.desc())).all()
    decisions = [d for d in decisions if d.pilot_id in in_scope_ids]
    by_id = {p.id: p for p in pilots}
    return {
        "today": today, "since": since, "total": len(pilots),
        "by_tier": _counts(Pilot.risk_tier, [*RISK_TIERS, None], organization_ids),
        "by_stage": _counts(Pilot.stage, STAGES, organization_ids),
        "by_status": _counts(Pilot.review_status, REVIEW_STATUSES, organization_ids),
        "high_impact": sum(1 for p in pilots if p.is_high_impact == "High-impact"),
        "reviews_due": due, "reviews_upcoming": upcoming,
        "in_use_without_approval": unapproved_in_use, "unreviewed_changes": unreviewed,
        "overdue_conditions": [{"condition": c, "pilot": by_id.get(c.pilot_id)} for c in overdue],
        "failing_checks": [{"check": latest_checks[pid], "pilot": by_id[pid]} for pid in sorted(failing)],
        "decisions": [{"decision": d, "pilot": by_id.get(d.pilot_id)} for d in decisions],
        "pilots_by_priority": sorted(
            pilots, key=lambda p: (TIER_ORDER.get(p.risk_tier, 4), -_urgency(p, overdue_by_pilot, failing), p.name)),
        "latest_checks": latest_checks, "overdue_by_pilot": overdue_by_pilot,
        "top_risks": [{"risk": r, "pilot": by_id.get(r.pilot_id)} for r in risks.top_residual(10)
                      if organization_ids is None or r.pilot_id in in_scope_ids],
        "serious_incidents": [{"incident": i, "pilot": by_id.get(i.pilot_id)}
                              for i in incidents.open_serious()
                              if organization_ids is None or i.pilot_id in in_scope_ids],
        "overdue_concerns": [{"pilot": by_id[pid], "count": n}
                             for pid, n in sorted(concerns.overdue_by_pilot(today).items()) if pid in by_id],
    }
