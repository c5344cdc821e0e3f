"""HTML pages of the review workflow: the queue, decisions, conditions, comments and the inbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from assessments import service, workflow
from assessments.views import page_compliance
from registry.auth.permissions import authorize, can
from registry.catalog import service as catalog
from registry.catalog.views import render_pilot_page
from registry.errors import ValidationFailed
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
    return render_template("assessments/review_queue.html", rows=workflow.review_queue())


@bp.post("/pilots/<int:pilot_id>/submit")
@login_required
def submit(pilot_id: int):
    """Submit the pilot for review."""
    pilot = catalog.get_pilot(pilot_id)
    workflow.submit(pilot, current_user, note=request.form.get("note"), expected_version=_version())
    flash("Submitted for review. The CAIOs have been notified.", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))


def _decision_form() -> dict[str, Any]:
    conditions = []
    for text, due in zip(
        request.form.getlist("condition_text"), request.form.getlist("condition_due"), strict=False
    ):
        if not text.strip() and not due.strip():
            continue
        try:
            due_date = dt.date.fromisoformat(due) if due else None
        except ValueError:
            due_date = None
        conditions.append({"text": text, "due_date": due_date})
    waivers = []
    for item_id in request.form.getlist("waive"):
        waivers.append(
            {"item_id": item_id, "justification": request.form.get(f"justification_{item_id}", "")}
        )
    return {
        "decision": request.form.get("decision", ""),
        "rationale": request.form.get("rationale", ""),
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
    flash(f"Decision recorded: {decision.decision.replace('_', ' ')}.", "success")
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
        workflow.meet_condition(
            condition,
            request.form.get("note", ""),
            current_user,
            evidence_id=int(raw) if raw.isdigit() else None,
        )
    except ValidationFailed as error:
        flash_errors("Condition not updated", error.errors)
        return render_pilot_page(catalog.get_pilot(condition.pilot_id), 422)
    flash("Condition marked as met.", "success")
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


def review_panel(pilot) -> dict[str, Any]:
    """Submission, decision, conditions and the review thread on the pilot page."""
    version, checklist = page_compliance(pilot)
    today = workflow.today()
    return {
        "template": "assessments/review_panel.html",
        "decisions": workflow.decisions_for(pilot),
        "conditions": [
            {"condition": c, "state": c.state(today)} for c in workflow.conditions_for(pilot)
        ],
        "comments": workflow.comments_for(pilot, current_user)
        if can(current_user, "pilot.read_comments", pilot)
        else None,
        "can_submit": can(current_user, "pilot.submit", pilot)
        and pilot.review_status in workflow.TRANSITIONS["submit"][0],
        "can_decide": can(current_user, "pilot.decide", pilot)
        and pilot.review_status == "submitted",
        "can_resubmit": can(current_user, "pilot.decide", pilot)
        and pilot.review_status in ("approved", "approved_with_conditions"),
        "can_comment": can(current_user, "pilot.comment", pilot),
        "can_meet": can(current_user, "condition.meet", pilot),
        "blocking": checklist.blocking(),
        "policy_version": version,
        "evidence": service.evidence_for(pilot),
        "min_due": (today + dt.timedelta(days=1)).isoformat(),
        "due_reason": workflow.review_due_reason(pilot, on=today, checklist=checklist)
        if pilot.review_status.startswith("approved")
        else None,
    }
