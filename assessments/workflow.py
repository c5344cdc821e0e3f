"""The review workflow: submissions, gated CAIO decisions, waivers, conditions, re-review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

import policies
from assessments import bias_checks, service
from assessments.models import Comment, Condition, Decision, Submission, Waiver
from policies import store
from registry import audit
from registry.auth.permissions import authorize
from registry.catalog.models import Pilot
from registry.catalog.service import check_version
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db
from registry.notifications.service import caios, notify

DECISIONS = ("approve", "approve_with_conditions", "request_changes", "reject")
RESULTING_STATUS = {
    "approve": "approved",
    "approve_with_conditions": "approved_with_conditions",
    "request_changes": "changes_requested",
    "reject": "rejected",
}
# The review lifecycle: action -> (states it may start from, state it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "submit": (frozenset({"draft", "changes_requested", "rejected"}), "submitted"),
    "approve": (frozenset({"submitted"}), "approved"),
    "approve_with_conditions": (frozenset({"submitted"}), "approved_with_conditions"),
    "request_changes": (frozenset({"submitted"}), "changes_requested"),
    "reject": (frozenset({"submitted"}), "rejected"),
    "require_resubmission": (
        frozenset({"approved", "approved_with_conditions"}),
        "changes_requested",
    ),
}
MIN_TEXT = 20


def today() -> dt.date:
    return service.today()


def check_transition(pilot: Pilot, action: str) -> str:
    """The state an action leads to, or 409 naming the current and the allowed states."""
    allowed_from, target = TRANSITIONS[action]
    if pilot.review_status not in allowed_from:
        raise Conflict(
            f"Cannot {action.replace('_', ' ')} a pilot that is '{pilot.review_status}'.",
            {
                "review_status": [
                    f"The pilot is '{pilot.review_status}'; '{action}' needs one of: "
                    + ", ".join(sorted(allowed_from))
                    + "."
                ]
            },
        )
    return target


def _sentence(text: str | None) -> bool:
    text = (text or "").strip()
    return len(text) >= MIN_TEXT and " " in text


def current_round(pilot: Pilot) -> int:
    return (
        db.session.scalar(select(func.max(Submission.round)).where(Submission.pilot_id == pilot.id))
        or 0
    )


def submit(
    pilot: Pilot, actor, *, note: str | None = None, expected_version: int | None = None
) -> Submission:
    """The team sends the pilot to the CAIOs' review queue."""
    authorize(actor, "pilot.submit", pilot)
    check_version(pilot.version, expected_version)
    check_transition(pilot, "submit")
    previous = pilot.review_status
    last_round = current_round(pilot)
    # A draft or a rejected pilot starts a new round; answering a change request stays in it.
    new_round = last_round + (1 if previous in ("draft", "rejected") or last_round == 0 else 0)
    submission = Submission(
        pilot_id=pilot.id,
        round=new_round,
        submitted_by_id=actor.id,
        submitted_at=dt.datetime.now(dt.UTC),
        note=(note or "").strip() or None,
    )
    db.session.add(submission)
    pilot.review_status = "submitted"
    db.session.flush()
    audit.record(
        actor,
        "submit",
        "pilot",
        pilot.id,
        {"review_status": {"before": previous, "after": "submitted"}, "round": new_round},
    )
    notify(
        caios(),
        kind="submission",
        subject=f"“{pilot.name}” was submitted for review",
        body=f"{actor.name} submitted {pilot.name} (round {new_round}).",
        url=f"/pilots/{pilot.id}",
        pilot_id=pilot.id,
    )
    db.session.commit()
    return submission


def _validate_decision(pilot: Pilot, data: Mapping[str, Any], checklist) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    decision = data.get("decision")
    if decision not in DECISIONS:
        errors["decision"] = [f"Choose one of: {', '.join(DECISIONS)}."]
        return errors
    rationale = (data.get("rationale") or "").strip()
    if decision in ("reject", "request_changes") and not _sentence(rationale):
        errors["rationale"] = [
            "A rejection or a request for changes needs a rationale of at least a sentence."
        ]
    conditions = data.get("conditions") or []
    if decision == "approve_with_conditions" and not conditions:
        errors["conditions"] = ["An approval with conditions needs at least one condition."]
    for index, condition in enumerate(conditions):
        text = (condition.get("text") or "").strip()
        due = condition.get("due_date")
        if not text:
            errors.setdefault(f"conditions[{index}].text", []).append("Describe the condition.")
        if due is None:
            errors.setdefault(f"conditions[{index}].due_date", []).append("Give a due date.")
        elif due <= today():
            errors.setdefault(f"conditions[{index}].due_date", []).append(
                f"The due date {due.isoformat()} is not in the future."
            )
    if conditions and decision not in ("approve_with_conditions",):
        errors.setdefault("conditions", []).append(
            "Only an approval with conditions takes conditions."
        )
    items = {item.id: item for item in checklist.items}
    seen = set()
    for index, waiver in enumerate(data.get("waivers") or []):
        item_id = waiver.get("item_id")
        key = f"waivers[{index}]"
        if item_id not in items:
            errors.setdefault(f"{key}.item_id", []).append(
                f"{item_id!r} is not an item of this pilot's checklist."
            )
        elif items[item_id].status != "unmet":
            errors.setdefault(f"{key}.item_id", []).append(
                f"{item_id!r} is {items[item_id].status.replace('_', ' ')}, not unmet; only unmet items can be waived."
            )
        elif item_id in seen:
            errors.setdefault(f"{key}.item_id", []).append(f"{item_id!r} is waived twice.")
        seen.add(item_id)
        if not _sentence(waiver.get("justification")):
            errors.setdefault(f"{key}.justification", []).append(
                "A waiver needs a justification of at least a sentence."
            )
    if data.get("waivers") and decision not in ("approve", "approve_with_conditions"):
        errors.setdefault("waivers", []).append("Waivers come with an approval.")
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
    """A CAIO decides; approvals are refused while any item is unmet and not waived."""
    authorize(actor, "pilot.decide", pilot)
    check_version(pilot.version, expected_version)
    decision_kind = data.get("decision")
    if decision_kind in TRANSITIONS:
        check_transition(pilot, decision_kind)
    version, checklist = service.compliance(pilot)
    errors = _validate_decision(pilot, data, checklist)
    if errors:
        raise ValidationFailed("The decision could not be recorded.", errors)
    waivers = [
        policies.WaiverFact(item_id=w["item_id"], justification=w["justification"].strip())
        for w in data.get("waivers") or []
    ]
    if waivers:
        version, checklist = service.compliance(pilot, extra_waivers=tuple(waivers))
    if decision_kind in ("approve", "approve_with_conditions") and checklist.blocking():
        raise Conflict(
            "The pilot cannot be approved while compliance items are unmet; meet them or waive them "
            "with a justification.",
            {item.id: [f"{item.title}: {item.reason}"] for item in checklist.blocking()},
        )
    previous = pilot.review_status
    round_number = current_round(pilot) or 1
    snapshot = {
        "review_status_before": previous,
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
        round=round_number,
        decision=decision_kind,
        rationale=(data.get("rationale") or "").strip() or None,
        decided_by_id=actor.id,
        decided_at=dt.datetime.now(dt.UTC),
        policy_version_id=version.id,
        policy_version_label=version.label,
        snapshot=audit.service.jsonable(snapshot),
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
    for condition in data.get("conditions") or []:
        db.session.add(
            Condition(
                pilot_id=pilot.id,
                decision_id=decision.id,
                text=condition["text"].strip(),
                due_date=condition["due_date"],
                status="open",
            )
        )
    pilot.review_status = RESULTING_STATUS[decision_kind]
    if decision_kind in ("approve", "approve_with_conditions"):
        months = policies.review_cadence_months(store.document(version), pilot.risk_tier)
        pilot.next_review_at = _add_months(today(), months)
        pilot.review_due_since = None
        pilot.review_due_reason = None
    db.session.flush()
    audit.record(
        actor,
        "decide",
        "pilot",
        pilot.id,
        {
            "decision": decision_kind,
            "decision_id": decision.id,
            "round": round_number,
            "review_status": {"before": previous, "after": pilot.review_status},
            "rationale": decision.rationale,
            "policy_version": version.label,
            "next_review_at": audit.service.jsonable(pilot.next_review_at),
            "waivers": [{"item_id": w.item_id, "justification": w.justification} for w in waivers],
            "conditions": [
                {"text": c["text"], "due_date": c["due_date"].isoformat()}
                for c in data.get("conditions") or []
            ],
        },
    )
    team = [pilot.owner, *pilot.team_members]
    notify(
        team,
        kind="decision",
        subject=f"Decision on “{pilot.name}”: {decision_kind.replace('_', ' ')}",
        body=decision.rationale or "",
        url=f"/pilots/{pilot.id}",
        pilot_id=pilot.id,
    )
    db.session.commit()
    return decision


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def require_resubmission(
    pilot: Pilot, reason: str, actor, *, expected_version: int | None = None
) -> Pilot:
    """A CAIO sends an approved pilot back for review (its review is due or evidence expired)."""
    authorize(actor, "pilot.decide", pilot)
    check_version(pilot.version, expected_version)
    check_transition(pilot, "require_resubmission")
    if not _sentence(reason):
        raise ValidationFailed(
            "Say why the pilot must be resubmitted.",
            {"reason": ["Give a reason of at least a sentence."]},
        )
    previous = pilot.review_status
    pilot.review_status = "changes_requested"
    db.session.flush()
    audit.record(
        actor,
        "require_resubmission",
        "pilot",
        pilot.id,
        {
            "review_status": {"before": previous, "after": "changes_requested"},
            "reason": reason.strip(),
        },
    )
    notify(
        [pilot.owner, *pilot.team_members],
        kind="resubmission",
        subject=f"“{pilot.name}” must be resubmitted for review",
        body=reason.strip(),
        url=f"/pilots/{pilot.id}",
        pilot_id=pilot.id,
    )
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


def waiver_facts(pilot: Pilot) -> tuple[policies.WaiverFact, ...]:
    """The waivers of the approval that stands; a new review round must waive afresh."""
    if pilot.review_status not in ("approved", "approved_with_conditions"):
        return ()
    latest = db.session.scalar(
        select(Decision)
        .where(Decision.pilot_id == pilot.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )
    if latest is None or latest.decision not in ("approve", "approve_with_conditions"):
        return ()
    return tuple(
        policies.WaiverFact(item_id=w.item_id, justification=w.justification)
        for w in latest.waivers
    )


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


def meet_condition(
    condition: Condition, note: str, actor, *, evidence_id: int | None = None
) -> Condition:
    """The team records that a condition is met, with a note and optional evidence."""
    pilot = db.session.get(Pilot, condition.pilot_id)
    authorize(actor, "condition.meet", pilot)
    if condition.status == "met":
        raise Conflict("The condition is already met.", {"status": ["The condition is 'met'."]})
    if not (note or "").strip():
        raise ValidationFailed("Say how the condition was met.", {"note": ["A note is required."]})
    if evidence_id is not None:
        evidence = service.get_evidence(evidence_id)
        if evidence.pilot_id != pilot.id:
            raise ValidationFailed(
                "That evidence belongs to another pilot.",
                {"evidence_id": [f"Evidence {evidence_id} is not this pilot's."]},
            )
    condition.status = "met"
    condition.met_at = dt.datetime.now(dt.UTC)
    condition.met_by_id = actor.id
    condition.met_note = note.strip()
    condition.evidence_id = evidence_id
    db.session.flush()
    audit.record(
        actor,
        "meet_condition",
        "condition",
        condition.id,
        {
            "pilot_id": pilot.id,
            "status": {"before": "open", "after": "met"},
            "note": condition.met_note,
            "evidence_id": evidence_id,
        },
    )
    db.session.commit()
    return condition


def overdue_conditions() -> list[Condition]:
    return list(
        db.session.scalars(
            select(Condition)
            .where(Condition.status == "open", Condition.due_date < today())
            .order_by(Condition.due_date)
        )
    )


# ---- comments ------------------------------------------------------------------------------


def comment(pilot: Pilot, body: str, actor) -> Comment:
    authorize(actor, "pilot.comment", pilot)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("Write something first.", {"body": ["A comment cannot be empty."]})
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
    if pilot.review_status not in ("approved", "approved_with_conditions"):
        return None
    if pilot.next_review_at is not None and pilot.next_review_at < on:
        return f"review date {pilot.next_review_at.isoformat()} has passed"
    if checklist is None:
        _, checklist = service.compliance(pilot, on=on)
    try:
        bias = checklist.item("bias_check")
    except KeyError:
        return None
    if bias.status == "unmet" and "older than" in bias.reason:
        return bias.reason
    return None


def sweep(*, on: dt.date | None = None) -> list[Pilot]:
    """Mark approved pilots whose review is due; safe to run twice (already-marked pilots are skipped)."""
    on = on or today()
    marked = []
    candidates = db.session.scalars(
        select(Pilot).where(
            Pilot.review_status.in_(("approved", "approved_with_conditions")),
            Pilot.review_due_since.is_(None),
        )
    ).all()
    for pilot in candidates:
        reason = review_due_reason(pilot, on=on)
        if reason is None:
            continue
        pilot.review_due_since = on
        pilot.review_due_reason = reason
        db.session.flush()
        audit.record(
            None, "review_due", "pilot", pilot.id, {"reason": reason, "since": on.isoformat()}
        )
        notify(
            [pilot.owner],
            kind="review_due",
            subject=f"“{pilot.name}” is due for review",
            body=reason,
            url=f"/pilots/{pilot.id}",
            pilot_id=pilot.id,
        )
        marked.append(pilot)
    db.session.commit()
    return marked


# ---- the queue -----------------------------------------------------------------------------


def review_queue() -> list[dict[str, Any]]:
    """Submitted pilots, oldest submission first, with what a CAIO needs to triage them."""
    pilots = db.session.scalars(select(Pilot).where(Pilot.review_status == "submitted")).all()
    rows = []
    now = dt.datetime.now(dt.UTC)
    for pilot in pilots:
        submission = db.session.scalar(
            select(Submission)
            .where(Submission.pilot_id == pilot.id)
            .order_by(Submission.id.desc())
            .limit(1)
        )
        submitted_at = submission.submitted_at if submission else pilot.updated_at
        if submitted_at.tzinfo is None:
            submitted_at = submitted_at.replace(tzinfo=dt.UTC)
        _, checklist = service.compliance(pilot)
        latest = bias_checks.latest_succeeded(pilot)
        rows.append(
            {
                "pilot": pilot,
                "submitted_at": submitted_at,
                "days_waiting": (now - submitted_at).days,
                "round": submission.round if submission else 1,
                "compliance": checklist.summary(),
                "blocking": [item.title for item in checklist.blocking()],
                "bias_verdict": latest.verdict if latest else None,
            }
        )
    rows.sort(key=lambda row: (row["submitted_at"], row["pilot"].id))
    return rows


def transition_table() -> Sequence[tuple[str, str, str]]:
    """(action, from, to) for every legal transition, for documentation and tests."""
    return [
        (action, source, target)
        for action, (sources, target) in TRANSITIONS.items()
        for source in sorted(sources)
    ]
