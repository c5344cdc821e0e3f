"""The review workflow: submissions, CAIO decisions with waivers and conditions, condition
reports and their verification, re-review, and the review queue.

It gathers the facts (the checklist, the questionnaire answers, the evidence, the bias checks)
and asks the lifecycle (`registry.catalog.lifecycle`) to change the pilot's state; it never
sets a pilot's fields itself. Each public function owns its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

import policies
from assessments import bias_checks, compliance, incidents, publishing
from assessments.models import (
    BiasCheck,
    Comment,
    Condition,
    Decision,
    Evidence,
    ImpactAssessment,
    Submission,
    Waiver,
)
from policies import store
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import (
    APPROVED_STATUSES,
    ApprovedStage,
    ConditionStatus,
    DecisionKind,
    ReviewStatus,
)
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

DECISIONS = DecisionKind.values()
MIN_TEXT = 20
MAX_CONDITIONS = 50
MAX_WAIVERS = 100

today = compliance.today


def _sentence(text: str | None) -> bool:
    text = (text or "").strip()
    return len(text) >= MIN_TEXT and " " in text


def current_round(pilot: Pilot) -> int:
    return (
        db.session.scalar(select(func.max(Submission.round)).where(Submission.pilot_id == pilot.id))
        or 0
    )


# ---- submission ----------------------------------------------------------------------------


def revision_facts(pilot: Pilot) -> dict[str, Any]:
    """What a revision freezes beside the pilot's own fields: the questionnaire answers, the
    evidence hashes and the bias check in force."""
    latest = db.session.scalar(
        select(ImpactAssessment)
        .where(ImpactAssessment.pilot_id == pilot.id)
        .order_by(ImpactAssessment.created_at.desc(), ImpactAssessment.id.desc())
        .limit(1)
    )
    evidence = db.session.scalars(
        select(Evidence).where(Evidence.pilot_id == pilot.id).order_by(Evidence.id)
    ).all()
    check = bias_checks.latest_succeeded(pilot)
    return {
        "questionnaire": None
        if latest is None
        else {
            "assessment_id": latest.id,
            "impact_level": latest.impact_level,
            "policy_version": latest.policy_version_label,
            "answers": latest.answers,
        },
        "evidence": [
            {
                "id": e.id,
                "kind": e.kind,
                "item_id": e.item_id,
                "filename": e.filename,
                "sha256": e.sha256,
            }
            for e in evidence
        ],
        "bias_check": None
        if check is None
        else {
            "id": check.id,
            "name": check.name,
            "sha256": check.sha256,
            "verdict": check.verdict,
            "finished_at": check.finished_at,
            "policy_version": check.policy_version_label,
        },
    }


def submit(
    pilot: Pilot,
    actor,
    *,
    note: str | None = None,
    requested_stage: str | None = None,
    expected_version: int | None = None,
) -> Submission:
    """The team sends the pilot, frozen as a new revision, to the CAIOs' review queue."""
    previous = ReviewStatus(pilot.review_status)
    revision = lifecycle.submit(
        pilot,
        actor,
        facts=revision_facts(pilot),
        note=note,
        requested_stage=requested_stage,
        expected_version=expected_version,
    )
    last_round = current_round(pilot)
    # Answering a change request stays in its round; anything else starts a new one.
    answering = previous == ReviewStatus.CHANGES_REQUESTED and last_round > 0
    submission = Submission(
        pilot_id=pilot.id,
        round=last_round if answering else last_round + 1,
        submitted_by_id=actor.id,
        submitted_at=revision.frozen_at,
        note=(note or "").strip() or None,
        revision=revision.number,
        requested_stage=requested_stage,
    )
    db.session.add(submission)
    publishing.publish_on_submission(pilot, actor)
    db.session.commit()
    return submission


def latest_submission(pilot: Pilot) -> Submission | None:
    return db.session.scalar(
        select(Submission)
        .where(Submission.pilot_id == pilot.id)
        .order_by(Submission.id.desc())
        .limit(1)
    )


# ---- decisions -----------------------------------------------------------------------------


def _validate_decision(data: Mapping[str, Any], checklist) -> dict[str, list[str]]:
    """The reasons the decision's own input is refused (422), in plain words, by field."""
    errors: dict[str, list[str]] = {}
    kind = data.get("decision")
    if kind not in DECISIONS:
        errors["decision"] = ["Choose approve, approve with conditions, request changes or reject."]
        return errors
    decision = DecisionKind(kind)
    rationale = (data.get("rationale") or "").strip()
    if decision in (DecisionKind.REJECT, DecisionKind.REQUEST_CHANGES) and not _sentence(rationale):
        errors["rationale"] = [
            "Explain the decision in at least a sentence: the team needs to know what to change."
        ]
    stage = data.get("stage")
    if stage is not None and stage not in ApprovedStage.values():
        errors["stage"] = ["Choose the stage the approval covers: pilot or deployed."]
    if stage is not None and not decision.approves:
        errors.setdefault("stage", []).append("Only an approval covers a stage.")
    items = {item.id: item for item in checklist.items}
    conditions = data.get("conditions") or []
    if decision == DecisionKind.APPROVE_WITH_CONDITIONS and not conditions:
        errors["conditions"] = ["Add at least one condition to approve with conditions."]
    if conditions and decision != DecisionKind.APPROVE_WITH_CONDITIONS:
        errors.setdefault("conditions", []).append(
            "Only an approval with conditions takes conditions."
        )
    if len(conditions) > MAX_CONDITIONS:
        errors.setdefault("conditions", []).append(f"Add at most {MAX_CONDITIONS} conditions.")
    covered: dict[str, int] = {}
    for index, condition in enumerate(conditions[:MAX_CONDITIONS]):
        key = f"conditions[{index}]"
        if not (condition.get("text") or "").strip():
            errors.setdefault(f"{key}.text", []).append("Describe what the team must do.")
        due = condition.get("due_date")
        if due is None:
            errors.setdefault(f"{key}.due_date", []).append("Enter the date it is due.")
        elif due <= today():
            errors.setdefault(f"{key}.due_date", []).append(
                f"The due date {due.isoformat()} is not in the future; enter a later date."
            )
        item_id = condition.get("item_id")
        if item_id:
            if item_id not in items:
                errors.setdefault(f"{key}.item_id", []).append(
                    f"“{item_id}” is not an item of this pilot's checklist."
                )
            elif item_id in covered:
                errors.setdefault(f"{key}.item_id", []).append(
                    f"Condition {covered[item_id] + 1} already covers “{items[item_id].title}”."
                )
            else:
                covered[item_id] = index
    seen: set[str] = set()
    waivers = data.get("waivers") or []
    if len(waivers) > MAX_WAIVERS:
        errors.setdefault("waivers", []).append(f"Waive at most {MAX_WAIVERS} items.")
    for index, waiver in enumerate(waivers[:MAX_WAIVERS]):
        item_id = waiver.get("item_id")
        key = f"waivers[{index}]"
        if item_id not in items:
            errors.setdefault(f"{key}.item_id", []).append(
                f"“{item_id}” is not an item of this pilot's checklist."
            )
        elif items[item_id].status != "unmet":
            errors.setdefault(f"{key}.item_id", []).append(
                f"“{items[item_id].title}” is "
                f"{items[item_id].status.replace('_', ' ')}; only an unmet item can be waived."
            )
        elif item_id in seen:
            errors.setdefault(f"{key}.item_id", []).append(
                f"“{items[item_id].title}” is waived twice."
            )
        elif item_id in covered:
            errors.setdefault(f"{key}.item_id", []).append(
                f"“{items[item_id].title}” is both waived and covered by a condition; choose one."
            )
        seen.add(item_id)
        if not _sentence(waiver.get("justification")):
            errors.setdefault(f"{key}.justification", []).append(
                "Justify the waiver in at least a sentence."
            )
    if waivers and not decision.approves:
        errors.setdefault("waivers", []).append("Only an approval takes waivers.")
    return errors


def latest_verdicts(pilot: Pilot) -> dict[str, Any] | None:
    latest = bias_checks.latest_succeeded(pilot)
    if latest is None:
        return None
    return {
        "check_id": latest.id,
        "verdict": latest.verdict,
        "finished_at": audit.service.jsonable(latest.finished_at),
        "policy_version": latest.policy_version_label,
        "findings": [
            {"metric": f["metric"], "verdict": f["verdict"], "text": f["text"]}
            for f in (latest.findings or [])
        ],
    }


def decide(
    pilot: Pilot, data: Mapping[str, Any], actor, *, expected_version: int | None = None
) -> Decision:
    """A CAIO decides on the revision under review, for a stage.

    Refusals come in this order, and none writes anything: 403 for anyone but an independent
    CAIO (saying why), 412 for a stale version, 409 when the pilot is not under review, 422
    for a wrong decision input, and 409 when an approval would leave unmet items that are
    neither waived nor (for an approval with conditions) covered by a condition.
    """
    lifecycle.check_may_decide(pilot, actor)
    lifecycle.check_version(pilot.version, expected_version)
    kind = data.get("decision")
    if kind in DECISIONS:
        lifecycle.check_transition(pilot, kind)
    version, checklist = compliance.evaluate(pilot)
    errors = _validate_decision(data, checklist)
    if errors:
        raise ValidationFailed("The decision could not be recorded.", errors)
    decision_kind = DecisionKind(kind)
    waivers = [
        policies.WaiverFact(item_id=w["item_id"], justification=w["justification"].strip())
        for w in data.get("waivers") or []
    ]
    if waivers:
        version, checklist = compliance.evaluate(pilot, extra_waivers=tuple(waivers))
    conditions = data.get("conditions") or []
    previous = pilot.review_status
    effect = lifecycle.decide(
        pilot,
        actor,
        kind=decision_kind.value,
        checklist=checklist,
        covered_items=[c["item_id"] for c in conditions if c.get("item_id")],
        blocking_incidents=incidents.blocking_for(pilot),
        stage=data.get("stage"),
        review_months=policies.review_cadence_months(store.document(version), pilot.risk_tier),
    )
    snapshot = {
        "review_status_before": previous,
        "revision": effect.revision,
        "stage": effect.stage,
        "risk_tier": pilot.risk_tier,
        "risk_tier_source": pilot.risk_tier_source,
        "is_high_impact": pilot.is_high_impact,
        "policy_version": version.label,
        "checklist": checklist.to_dict(),
        "bias": latest_verdicts(pilot),
        "pilot": {"name": pilot.name, "stage": pilot.stage, "owner": pilot.owner_email},
    }
    decision = Decision(
        pilot_id=pilot.id,
        round=current_round(pilot) or 1,
        decision=decision_kind.value,
        rationale=(data.get("rationale") or "").strip() or None,
        decided_by_id=actor.id,
        decided_at=dt.datetime.now(dt.UTC),
        policy_version_id=version.id,
        policy_version_label=version.label,
        snapshot=audit.service.jsonable(snapshot),
        revision=effect.revision,
        stage=effect.stage,
    )
    db.session.add(decision)
    db.session.flush()
    for waiver in waivers:
        db.session.add(
            Waiver(
                pilot_id=pilot.id,
                decision_id=decision.id,
                item_id=waiver.item_id,
                justification=waiver.justification,
            )
        )
    for condition in conditions:
        db.session.add(
            Condition(
                pilot_id=pilot.id,
                decision_id=decision.id,
                text=condition["text"].strip(),
                item_id=condition.get("item_id") or None,
                due_date=condition["due_date"],
                status=ConditionStatus.OPEN.value,
            )
        )
    db.session.flush()
    audit.record(
        actor,
        "record_decision",
        "decision",
        decision.id,
        {
            "pilot_id": pilot.id,
            "decision": decision_kind.value,
            "revision": effect.revision,
            "stage": effect.stage,
            "round": decision.round,
            "review_status": {"before": previous, "after": pilot.review_status},
            "rationale": decision.rationale,
            "policy_version": version.label,
            "next_review_at": audit.service.jsonable(pilot.next_review_at),
            "waivers": [{"item_id": w.item_id, "justification": w.justification} for w in waivers],
            "conditions": [
                {
                    "text": c["text"],
                    "item_id": c.get("item_id"),
                    "due_date": c["due_date"].isoformat(),
                }
                for c in conditions
            ],
        },
    )
    lifecycle.announce_decision(pilot, actor, decision)
    if decision_kind.approves:
        # After the announcement: the compliance snapshot (and so the hi_* answers and the
        # waivers the record publishes) is evaluated again by then.
        publishing.publish_on_approval(pilot, actor, effect.revision)
    db.session.commit()
    return decision


def require_resubmission(
    pilot: Pilot, reason: str, actor, *, expected_version: int | None = None
) -> Pilot:
    """A CAIO sends an approved pilot back for review (its review is due or evidence expired)."""
    lifecycle.check_may_decide(pilot, actor)
    lifecycle.check_version(pilot.version, expected_version)
    lifecycle.check_transition(pilot, "require_resubmission")
    if not _sentence(reason):
        raise ValidationFailed(
            "Say why the pilot must be resubmitted.",
            {"reason": ["Explain in at least a sentence why the pilot must be resubmitted."]},
        )
    lifecycle.require_resubmission(pilot, reason.strip(), actor)
    db.session.commit()
    return pilot


def decisions_for(pilot: Pilot) -> list[Decision]:
    return list(
        db.session.scalars(
            select(Decision)
            .where(Decision.pilot_id == pilot.id)
            .order_by(Decision.decided_at.desc(), Decision.id.desc())
        )
    )


def submissions_for(pilot: Pilot) -> list[Submission]:
    return list(
        db.session.scalars(
            select(Submission).where(Submission.pilot_id == pilot.id).order_by(Submission.id.desc())
        )
    )


waiver_facts = compliance.waiver_facts


# ---- conditions ----------------------------------------------------------------------------


def get_condition(condition_id: int) -> Condition:
    condition = db.session.get(Condition, condition_id)
    if condition is None:
        raise NotFound(f"There is no condition {condition_id}.")
    return condition


def conditions_for(pilot: Pilot) -> list[Condition]:
    return list(
        db.session.scalars(
            select(Condition)
            .where(Condition.pilot_id == pilot.id)
            .order_by(Condition.due_date, Condition.id)
        )
    )


def report_condition(
    condition: Condition, note: str, actor, *, evidence_id: int | None = None
) -> Condition:
    """The team reports a condition met, with a note and optional evidence; a CAIO verifies."""
    pilot = db.session.get(Pilot, condition.pilot_id)
    authorize(actor, "condition.meet", pilot)
    if condition.status == ConditionStatus.MET:
        raise Conflict(
            "The condition is already met.", {"status": ["The condition is already met."]}
        )
    if not (note or "").strip():
        raise ValidationFailed(
            "Say how the condition was met.", {"note": ["Describe how the condition was met."]}
        )
    if evidence_id is not None:
        evidence = db.session.get(Evidence, evidence_id)
        if evidence is None or evidence.pilot_id != pilot.id:
            raise ValidationFailed(
                "Choose evidence of this pilot.",
                {"evidence_id": [f"Evidence {evidence_id} is not this pilot's."]},
            )
    before = condition.status
    condition.status = ConditionStatus.REPORTED.value
    condition.reported_at = dt.datetime.now(dt.UTC)
    condition.reported_by_id = actor.id
    condition.report_note = note.strip()
    condition.evidence_id = evidence_id
    db.session.flush()
    audit.record(
        actor,
        "report_condition",
        "condition",
        condition.id,
        {
            "pilot_id": pilot.id,
            "status": {"before": before, "after": condition.status},
            "note": condition.report_note,
            "evidence_id": evidence_id,
        },
    )
    signals.condition_reported.send(pilot, condition=condition, actor=actor)
    db.session.commit()
    return condition


# The earlier name, for callers that say "meet".
meet_condition = report_condition


def verify_condition(condition: Condition, accepted: bool, note: str | None, actor) -> Condition:
    """A CAIO accepts the team's report (the condition is met) or sends it back (open)."""
    pilot = db.session.get(Pilot, condition.pilot_id)
    authorize(actor, "condition.verify", pilot)
    if condition.status != ConditionStatus.REPORTED:
        message = (
            f"Only a condition reported met can be verified; this one is "
            f"{ConditionStatus.label_of(condition.status).lower()}."
        )
        raise Conflict(message, {"status": [message]})
    note = (note or "").strip() or None
    if not accepted and not _sentence(note):
        raise ValidationFailed(
            "Say why the report is sent back.",
            {"note": ["Explain in at least a sentence what is still missing."]},
        )
    before = condition.status
    if accepted:
        condition.status = ConditionStatus.MET.value
        condition.met_at = dt.datetime.now(dt.UTC)
        condition.met_by_id = actor.id
        condition.met_note = note or condition.report_note
        condition.met_how = "verified"
    else:
        condition.status = ConditionStatus.OPEN.value
    db.session.flush()
    audit.record(
        actor,
        "verify_condition",
        "condition",
        condition.id,
        {
            "pilot_id": pilot.id,
            "accepted": accepted,
            "status": {"before": before, "after": condition.status},
            "note": note,
        },
    )
    signals.condition_verified.send(pilot, condition=condition, actor=actor, accepted=accepted)
    db.session.commit()
    return condition


def overdue_conditions(on: dt.date | None = None) -> list[Condition]:
    """Conditions not met by their due date."""
    return list(
        db.session.scalars(
            select(Condition)
            .where(Condition.status != ConditionStatus.MET, Condition.due_date < (on or today()))
            .order_by(Condition.due_date)
        )
    )


# ---- comments ------------------------------------------------------------------------------


def comment(pilot: Pilot, body: str, actor) -> Comment:
    authorize(actor, "pilot.comment", pilot)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("Write something first.", {"body": ["Enter a comment."]})
    if len(body) > 10_000:
        raise ValidationFailed(
            "The comment is too long.", {"body": ["Use at most 10,000 characters."]}
        )
    note = Comment(pilot_id=pilot.id, author_id=actor.id, body=body)
    db.session.add(note)
    db.session.flush()
    audit.record(actor, "comment", "pilot", pilot.id, {"comment_id": note.id, "body": body})
    db.session.commit()
    return note


def comments_for(pilot: Pilot, actor) -> list[Comment]:
    authorize(actor, "pilot.read_comments", pilot)
    return list(
        db.session.scalars(select(Comment).where(Comment.pilot_id == pilot.id).order_by(Comment.id))
    )


# ---- re-review -----------------------------------------------------------------------------


def review_due_reason(
    pilot: Pilot, *, on: dt.date | None = None, checklist: policies.Checklist | None = None
) -> str | None:
    """Why an approved pilot is due for review now, or None.

    ``checklist`` is the pilot's compliance checklist on that day, if the caller has it.
    """
    on = on or today()
    if pilot.review_status not in APPROVED_STATUSES:
        return None
    if pilot.next_review_at is not None and pilot.next_review_at < on:
        return f"the review date {pilot.next_review_at.isoformat()} has passed"
    if checklist is None:
        _, checklist = compliance.evaluate(pilot, on=on)
    try:
        bias = checklist.item("bias_check")
    except KeyError:
        return None
    if bias.status == "unmet" and "older than" in bias.reason:
        return bias.reason
    return None


def sweep(*, on: dt.date | None = None) -> list[Pilot]:
    """The daily pass: evaluate every checklist again (evidence and checks age), mark approved
    pilots whose review is due, and mark overdue conditions. Safe to run twice."""
    on = on or today()
    marked = []
    for pilot in db.session.scalars(select(Pilot).order_by(Pilot.id)).all():
        checklist = compliance.refresh(pilot, on=on)
        if pilot.review_due_since is not None:
            continue
        reason = review_due_reason(pilot, on=on, checklist=checklist)
        if reason is not None and lifecycle.mark_review_due(pilot, reason, on=on):
            marked.append(pilot)
    for condition in overdue_conditions(on):
        if condition.overdue_since is not None:
            continue
        condition.overdue_since = on
        pilot = db.session.get(Pilot, condition.pilot_id)
        reason = f"the condition “{condition.text}” was due on {condition.due_date.isoformat()}"
        db.session.flush()
        audit.record(
            None,
            "condition_overdue",
            "condition",
            condition.id,
            {"pilot_id": pilot.id, "due_date": condition.due_date.isoformat()},
        )
        if lifecycle.mark_review_due(pilot, reason, on=on, announce=False):
            marked.append(pilot)
        signals.condition_overdue.send(pilot, condition=condition)
    db.session.commit()
    return marked


# ---- the queue -----------------------------------------------------------------------------


def review_queue(organization_ids: set[int] | None = None) -> list[dict[str, Any]]:
    """Submitted pilots, oldest submission first, with what a CAIO needs to triage them.

    A fixed number of queries whatever the queue's length: the pilots with their owners, their
    latest submissions, their latest bias verdicts; compliance comes from each pilot's stored
    snapshot (evaluated when its inputs changed).
    """
    pilots = db.session.scalars(
        select(Pilot)
        .where(
            Pilot.review_status == ReviewStatus.SUBMITTED,
            *([Pilot.organization_id.in_(organization_ids)] if organization_ids is not None else []),
        )
        .options(joinedload(Pilot.owner))
    ).all()
    if not pilots:
        return []
    ids = [pilot.id for pilot in pilots]
    latest_ids = (
        select(func.max(Submission.id))
        .where(Submission.pilot_id.in_(ids))
        .group_by(Submission.pilot_id)
    )
    submissions = {
        s.pilot_id: s
        for s in db.session.scalars(select(Submission).where(Submission.id.in_(latest_ids)))
    }
    latest_checks = (
        select(func.max(BiasCheck.id))
        .where(BiasCheck.pilot_id.in_(ids), BiasCheck.status == "succeeded")
        .group_by(BiasCheck.pilot_id)
    )
    verdicts = dict(
        db.session.execute(
            select(BiasCheck.pilot_id, BiasCheck.verdict).where(BiasCheck.id.in_(latest_checks))
        ).all()
    )
    rows = []
    now = dt.datetime.now(dt.UTC)
    for pilot in pilots:
        submission = submissions.get(pilot.id)
        submitted_at = submission.submitted_at if submission else pilot.updated_at
        if submitted_at.tzinfo is None:
            submitted_at = submitted_at.replace(tzinfo=dt.UTC)
        snapshot = compliance.stored_or_evaluated(pilot)
        rows.append(
            {
                "pilot": pilot,
                "submitted_at": submitted_at,
                "days_waiting": (now - submitted_at).days,
                "round": submission.round if submission else 1,
                "revision": submission.revision if submission else None,
                "requested_stage": submission.requested_stage if submission else None,
                "note": submission.note if submission else None,
                "compliance": snapshot.get("summary", {}),
                "blocking": compliance.blocking_titles(snapshot),
                "bias_verdict": verdicts.get(pilot.id),
                "in_use_without_approval": pilot.in_use_without_approval,
                "unreviewed_changes": list(pilot.unreviewed_changes or []),
            }
        )
    rows.sort(key=lambda row: (row["submitted_at"], row["pilot"].id))
    return rows


def transition_table() -> Sequence[tuple[str, str, str]]:
    """(action, from, to) for every legal review transition, for documentation and tests."""
    targets = {
        "submit": ReviewStatus.SUBMITTED.value,
        "require_resubmission": ReviewStatus.CHANGES_REQUESTED.value,
        **{kind.value: kind.resulting_status.value for kind in DecisionKind},
    }
    return [
        (action, source.value, targets[action])
        for action, sources in lifecycle.ALLOWED_FROM.items()
        for source in sorted(sources)
    ]
