"""HTML pages of the review workflow: the queue, decisions, conditions, comments and the inbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from assessments import service, workflow
from assessments.views import page_compliance
from registry.auth.permissions import authorize, can, oversight_scope
from registry.catalog import lifecycle
from registry.catalog import service as catalog
from registry.catalog.views import render_pilot_page
from registry.catalog.vocabulary import ApprovedStage, DecisionKind, ReviewStatus, field_label
from registry.errors import Conflict, ValidationFailed
from registry.notifications import service as notifications
from registry.web import flash_errors

bp = Blueprint("review", __name__, template_folder="templates")


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/review-queue")
@login_required
def queue():
    """The CAIO review queue: submitted pilots, oldest first."""
    authorize(current_user, "review_queue.read")
    return render_template("assessments/review_queue.html", rows=workflow.review_queue(oversight_scope(current_user)))


@bp.post("/pilots/<int:pilot_id>/submit")
@login_required
def submit(pilot_id: int):
    """Submit the pilot for review."""
    pilot = catalog.get_pilot(pilot_id)
    try:
        workflow.submit(
            pilot,
            current_user,
            note=request.form.get("note"),
            requested_stage=request.form.get("requested_stage") or None,
            expected_version=_version(),
        )
    except Conflict as error:
        # What the record lacks (the high-impact determination, ...) is fixed on the pilot's
        # own page: show it there, with the reasons, instead of a bare error page.
        flash_errors("Not submitted", {field_label(k): v for k, v in error.errors.items()})
        return render_pilot_page(pilot, 409)
    flash("Submitted for review. The CAIOs have been notified.", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))


def _decision_form() -> dict[str, Any]:
    conditions = []
    texts = request.form.getlist("condition_text")
    dues = request.form.getlist("condition_due")
    items = request.form.getlist("condition_item")
    for index, text in enumerate(texts[: workflow.MAX_CONDITIONS]):
        due = dues[index] if index < len(dues) else ""
        item = items[index] if index < len(items) else ""
        if not text.strip() and not due.strip():
            continue
        try:
            due_date = dt.date.fromisoformat(due) if due else None
        except ValueError:
            due_date = None
        conditions.append({"text": text, "due_date": due_date, "item_id": item or None})
    waivers = []
    for item_id in request.form.getlist("waive"):
        waivers.append(
            {"item_id": item_id, "justification": request.form.get(f"justification_{item_id}", "")}
        )
    decision = request.form.get("decision", "")
    approves = decision in DecisionKind.values() and DecisionKind(decision).approves
    return {
        "decision": decision,
        "rationale": request.form.get("rationale", ""),
        # The form always offers the stage; it only means something for an approval.
        "stage": (request.form.get("stage") or None) if approves else None,
        "conditions": conditions,
        "waivers": waivers,
    }


@bp.post("/pilots/<int:pilot_id>/decide")
@login_required
def decide(pilot_id: int):
    """Record a CAIO decision from the pilot page."""
    pilot = catalog.get_pilot(pilot_id)
    try:
        decision = workflow.decide(
            pilot, _decision_form(), current_user, expected_version=_version()
        )
    except ValidationFailed as error:
        flash_errors("Decision not recorded", error.errors)
        return render_pilot_page(pilot, 422)
    flash(f"Decision recorded: {DecisionKind.label_of(decision.decision).lower()}.", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="decisions-heading"))


@bp.post("/pilots/<int:pilot_id>/require-resubmission")
@login_required
def require_resubmission(pilot_id: int):
    pilot = catalog.get_pilot(pilot_id)
    try:
        workflow.require_resubmission(
            pilot, request.form.get("reason", ""), current_user, expected_version=_version()
        )
    except ValidationFailed as error:
        flash_errors("Not sent back", error.errors)
        return render_pilot_page(pilot, 422)
    flash("The team must resubmit the pilot.", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))


@bp.post("/conditions/<int:condition_id>/met")
@login_required
def meet_condition(condition_id: int):
    condition = workflow.get_condition(condition_id)
    raw = request.form.get("evidence_id", "")
    try:
        workflow.report_condition(
            condition,
            request.form.get("note", ""),
            current_user,
            evidence_id=int(raw) if raw.isdigit() else None,
        )
    except ValidationFailed as error:
        flash_errors("Condition not updated", error.errors)
        return render_pilot_page(catalog.get_pilot(condition.pilot_id), 422)
    flash("Condition reported met. A CAIO will verify it.", "success")
    return redirect(
        url_for("catalog.pilot_detail", pilot_id=condition.pilot_id, _anchor="conditions-heading")
    )


@bp.post("/conditions/<int:condition_id>/verification")
@login_required
def verify_condition(condition_id: int):
    """A CAIO accepts or returns a team's report that a condition is met."""
    condition = workflow.get_condition(condition_id)
    accepted = request.form.get("accepted") == "yes"
    try:
        workflow.verify_condition(condition, accepted, request.form.get("note"), current_user)
    except ValidationFailed as error:
        flash_errors("Condition not verified", error.errors)
        return render_pilot_page(catalog.get_pilot(condition.pilot_id), 422)
    flash("Condition verified as met." if accepted else "Report sent back to the team.", "success")
    return redirect(
        url_for("catalog.pilot_detail", pilot_id=condition.pilot_id, _anchor="conditions-heading")
    )


@bp.post("/pilots/<int:pilot_id>/comments")
@login_required
def add_comment(pilot_id: int):
    pilot = catalog.get_pilot(pilot_id)
    try:
        workflow.comment(pilot, request.form.get("body", ""), current_user)
    except ValidationFailed as error:
        flash_errors("Comment not posted", error.errors)
        return render_pilot_page(pilot, 422)
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="comments-heading"))


@bp.get("/inbox")
@login_required
def inbox():
    """Your notifications."""
    messages = notifications.inbox(current_user)
    return render_template("assessments/inbox.html", messages=messages)


@bp.post("/inbox/read")
@login_required
def inbox_read():
    notifications.mark_read(current_user)
    return redirect(url_for("review.inbox"))


def _show(key: str, value: Any) -> str:
    """A frozen value in words, for the revision diff."""
    if value in (None, "", []):
        return "—"
    if key == "data_sources":
        return ", ".join(source["name"] for source in value)
    if key == "questionnaire":
        return f"Level {value['impact_level']}, {len(value['answers'])} answers"
    if key == "evidence":
        return ", ".join(f"{e['filename']} ({e['kind']})" for e in value)
    if key == "bias_check":
        return f"Check {value['id']}: {value['verdict']}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def revision_diff(pilot) -> dict[str, Any] | None:
    """What changed since the approved revision: in the revision under review, or (with
    unreviewed changes) in the record as it stands."""
    approved = lifecycle.approved_revision(pilot)
    if approved is None:
        return None
    if pilot.review_status == ReviewStatus.SUBMITTED:
        latest = lifecycle.revisions_for(pilot)[0]
        if latest.number == approved.number:
            return None
        after, target = latest.fields, f"Revision {latest.number} (under review)"
        keys = None
    elif pilot.unreviewed_changes:
        after, target = lifecycle.revision_values(pilot), "The record now"
        keys = set(after)
    else:
        return None
    rows = [
        {
            **row,
            "before_text": _show(row["field"], row["before"]),
            "after_text": _show(row["field"], row["after"]),
        }
        for row in lifecycle.revision_diff(approved.fields, after)
        if (keys is None or row["field"] in keys) and row["field"] != "submission_note"
    ]
    return {"approved": approved.number, "target": target, "rows": rows}


def review_panel(pilot) -> dict[str, Any]:
    """Submission, decision, conditions and the review thread on the pilot page."""
    version, checklist = page_compliance(pilot)
    today = workflow.today()
    return {
        "template": "assessments/review_panel.html",
        "decisions": workflow.decisions_for(pilot),
        "conditions": [
            {"condition": c, "state": c.state(today), "label": c.state_label(today)}
            for c in workflow.conditions_for(pilot)
        ],
        "comments": workflow.comments_for(pilot, current_user)
        if can(current_user, "pilot.read_comments", pilot)
        else None,
        "can_submit": can(current_user, "pilot.submit", pilot)
        and "submit" in lifecycle.allowed_actions(pilot),
        "can_decide": can(current_user, "pilot.decide", pilot)
        and pilot.review_status == ReviewStatus.SUBMITTED,
        "can_resubmit": can(current_user, "pilot.decide", pilot)
        and "require_resubmission" in lifecycle.allowed_actions(pilot),
        "can_comment": can(current_user, "pilot.comment", pilot),
        "can_meet": can(current_user, "condition.meet", pilot),
        "can_verify": can(current_user, "condition.verify", pilot),
        "submission": workflow.latest_submission(pilot),
        "decision_kinds": DecisionKind.choices(),
        "stages": ApprovedStage.choices(),
        "default_stage": lifecycle.default_approval_stage(pilot),
        "checklist_items": checklist.items,
        "revision_diff": revision_diff(pilot),
        "blocking": checklist.blocking(),
        "policy_version": version,
        "evidence": service.evidence_for(pilot),
        "min_due": (today + dt.timedelta(days=1)).isoformat(),
        "due_reason": workflow.review_due_reason(pilot, on=today, checklist=checklist)
        if pilot.is_approved
        else None,
    }
