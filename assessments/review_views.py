"""HTML pages of the review workflow: the queue, decisions, conditions, comments and the inbox."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from assessments import service, workflow
from assessments.fixes import Fix, unmet_items
from assessments.views import page_compliance
from registry.auth.permissions import authorize, can, oversight_scope
from registry.catalog import lifecycle
from registry.catalog import service as catalog
from registry.catalog.views import render_pilot_page
from registry.catalog.vocabulary import ApprovedStage, DecisionKind, ReviewStatus, field_label
from registry.errors import Conflict, PreconditionFailed, ValidationFailed
from registry.extensions import db
from registry.notifications import service as notifications
from registry.web import Confirmation, flash_errors, posted_fields, render_confirmation

bp = Blueprint("review", __name__, template_folder="templates")


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


# The review queue's orders: (label, key). Waiting longest is the default, as a queue is.
_TIER_RANK = {"IV": 0, "III": 1, "II": 2, "I": 3}
QUEUE_ORDERS = {
    "waiting": ("waiting longest", lambda row: (row["submitted_at"], row["pilot"].id)),
    "tier": (
        "highest tier",
        lambda row: (_TIER_RANK.get(row["pilot"].risk_tier or "", 4), row["submitted_at"]),
    ),
    "unmet": (
        "most unmet items",
        lambda row: (-int(row["compliance"].get("unmet", 0)), row["submitted_at"]),
    ),
    "name": ("name", lambda row: (row["pilot"].name.lower(), row["pilot"].id)),
}


@bp.get("/review-queue")
@login_required
def queue():
    """The CAIO review queue: submitted pilots, waiting longest first, or in another order
    (`?sort=tier`, `unmet` or `name`; anything else is the default)."""
    authorize(current_user, "review_queue.read")
    order = request.args.get("sort", "waiting")
    if order not in QUEUE_ORDERS:
        order = "waiting"
    rows = sorted(workflow.review_queue(oversight_scope(current_user)), key=QUEUE_ORDERS[order][1])
    return render_template(
        "assessments/review_queue.html",
        rows=rows,
        order=order,
        orders={key: label for key, (label, _) in QUEUE_ORDERS.items()},
    )


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


MIN_CONDITION_ROWS = 2


def _decision_echo(unmet: list[dict[str, Any]]) -> dict[str, Any]:
    """What the CAIO typed, to fill the form again after a refusal."""
    form = request.form
    texts = form.getlist("condition_text")
    dues = form.getlist("condition_due")
    items = form.getlist("condition_item")
    rows = max(MIN_CONDITION_ROWS, min(len(texts), workflow.MAX_CONDITIONS))
    conditions = [
        {
            "text": texts[i] if i < len(texts) else "",
            "due": dues[i] if i < len(dues) else "",
            "item": items[i] if i < len(items) else "",
        }
        for i in range(rows)
    ]
    return {
        "decision": form.get("decision", ""),
        "rationale": form.get("rationale", ""),
        "stage": form.get("stage", ""),
        "waive": set(form.getlist("waive")),
        "justifications": {
            item["id"]: form.get(f"justification_{item['id']}", "") for item in unmet
        },
        "conditions": conditions,
    }


def _blank_decision(pilot, submission) -> dict[str, Any]:
    stage = (
        submission.requested_stage
        if submission and submission.requested_stage
        else lifecycle.default_approval_stage(pilot)
    )
    return {
        "decision": "",
        "rationale": "",
        "stage": stage,
        "waive": set(),
        "justifications": {},
        "conditions": [{"text": "", "due": "", "item": ""} for _ in range(MIN_CONDITION_ROWS)],
    }


_INDEXED = re.compile(r"^(waivers|conditions)\[(\d+)\]\.(\w+)$")


def _decision_errors(
    errors: Mapping[str, Any], unmet: list[dict[str, Any]], posted_waivers: list[str]
) -> list[dict[str, Any]]:
    """A refusal's reasons as error-summary rows: the words a CAIO reads, the field each one is
    fixed in (`field`), and for an unmet checklist item the pages where it is met (`fixes`)."""
    titles = {item["id"]: item for item in unmet}
    first_kind = DecisionKind.choices()[0][0]
    rows: list[dict[str, Any]] = []
    for key, messages in errors.items():
        messages = messages if isinstance(messages, list) else [messages]
        match = _INDEXED.match(key)
        fixes: list[Any] = []
        if key in titles:  # an unmet checklist item (409)
            item = titles[key]
            label, field = f"“{item['title']}” is not met", f"waive-{key}"
            messages = [
                f"{item['reason'].capitalize()}. Meet it, waive it with a justification below, "
                "or approve with a condition that covers it."
            ]
            fixes = item["fixes"]
        elif key.startswith("incident "):
            incident_id = key.split(" ", 1)[1]
            label, field = "A serious incident is open", None
            fixes = (
                [
                    Fix(
                        "Resolve or accept the incident",
                        url_for("trust.incident_detail", incident_id=int(incident_id)),
                    )
                ]
                if incident_id.isdigit()
                else []
            )
        elif match:
            group, index, part = match.group(1), int(match.group(2)), match.group(3)
            if group == "conditions":
                names = {
                    "text": ("", "condition-text"),
                    "due_date": (" due date", "condition-due"),
                    "item_id": (" checklist item", "condition-item"),
                }
                suffix, prefix = names.get(part, ("", "condition-text"))
                label, field = f"Condition {index + 1}{suffix}", f"{prefix}-{index}"
            else:
                item_id = posted_waivers[index] if index < len(posted_waivers) else ""
                title = titles[item_id]["title"] if item_id in titles else "an item"
                if part == "justification":
                    label, field = (
                        f"Justification for waiving “{title}”",
                        f"justification-{item_id}",
                    )
                else:
                    label, field = f"Waiver of “{title}”", f"waive-{item_id}"
        else:
            label, field = {
                "decision": ("Decision", f"decision-{first_kind}"),
                "rationale": ("Rationale", "rationale"),
                "stage": ("Stage an approval covers", "decision-stage"),
                "conditions": ("Conditions", "condition-text-0"),
                "waivers": ("Waivers", f"waive-{unmet[0]['id']}" if unmet else None),
            }.get(key, (field_label(key), None))
        rows.append(
            {"key": key, "label": label, "field": field, "messages": messages, "fixes": fixes}
        )
    return rows


def _decide_page(pilot, form, errors=None, *, status=200, message=None):
    version, checklist = page_compliance(pilot)
    unmet = unmet_items(pilot, version, checklist)
    rows = _decision_errors(errors or {}, unmet, request.form.getlist("waive"))
    field_rows: dict[str, list[str]] = {}
    for row in rows:
        if row["field"]:
            field_rows.setdefault(row["field"], []).extend(row["messages"])
    return render_template(
        "assessments/decide.html",
        pilot=pilot,
        form=form,
        message=message,
        error_rows=rows,
        field_rows=field_rows,
        unmet=unmet,
        checklist=checklist,
        policy_version=version,
        submission=workflow.latest_submission(pilot),
        revision_diff=revision_diff(pilot),
        bias=workflow.latest_verdicts(pilot),
        decision_kinds=DecisionKind.choices(),
        stages=ApprovedStage.choices(),
        min_due=(workflow.today() + dt.timedelta(days=1)).isoformat(),
        max_conditions=workflow.MAX_CONDITIONS,
    ), status


def _rejection_to_confirm(pilot) -> bool:
    """A well-formed rejection not yet confirmed; anything the workflow would refuse is refused
    first, without asking."""
    return (
        request.form.get("decision") == DecisionKind.REJECT
        and request.form.get("confirmed") != "yes"
        and pilot.review_status == ReviewStatus.SUBMITTED
        and _version() in (None, pilot.version)
        and bool(request.form.get("rationale", "").strip())
        and not request.form.getlist("waive")
        and not any(t.strip() for t in request.form.getlist("condition_text"))
    )


@bp.route("/pilots/<int:pilot_id>/decide", methods=["GET", "POST"])
@login_required
def decide(pilot_id: int):
    """Decide on the revision under review: the material first, then the decision form.

    A refused decision (409 unmet items or an open incident, 412 a stale form, 422 wrong input)
    shows this form again with everything typed kept and each reason linked to its fix."""
    pilot = catalog.get_pilot(pilot_id)
    lifecycle.check_may_decide(pilot, current_user)
    if request.method == "GET" and pilot.review_status != ReviewStatus.SUBMITTED:
        flash(
            f"Nothing is waiting for a decision: the pilot is "
            f"{ReviewStatus.label_of(pilot.review_status).lower()}.",
            "info",
        )
        return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))
    if request.method == "GET":
        return _decide_page(pilot, _blank_decision(pilot, workflow.latest_submission(pilot)))
    version, checklist = page_compliance(pilot)
    unmet = unmet_items(pilot, version, checklist)
    if request.form.get("change") == "yes":  # back from the confirmation, to change the form
        return _decide_page(pilot, _decision_echo(unmet))
    if _rejection_to_confirm(pilot):
        return render_confirmation(
            Confirmation(
                title=f"Reject “{pilot.name}”?",
                lead="The team is told at once, and any approval in force ends: the pilot may "
                "not be used until a new revision is approved.",
                details=(f"Your rationale: {request.form.get('rationale', '').strip()}",),
                action=url_for("review.decide", pilot_id=pilot.id),
                button="Yes, reject this pilot",
                cancel_text="No, go back to the decision",
                fields=posted_fields(),
                back_fields=(*posted_fields(), ("change", ("yes",))),
            )
        )
    try:
        decision = workflow.decide(
            pilot, _decision_form(), current_user, expected_version=_version()
        )
    except (ValidationFailed, Conflict) as error:
        db.session.rollback()
        return _decide_page(
            pilot,
            _decision_echo(unmet),
            error.errors or {"decision": [error.message]},
            status=error.code,
            # A 422's reasons are all in the summary; a 409 says what the refusal means.
            message=error.message if isinstance(error, Conflict) else None,
        )
    except PreconditionFailed:
        db.session.rollback()
        return _decide_page(
            pilot,
            _decision_echo(unmet),
            status=412,
            message="Someone changed this pilot while you were deciding. Check the material "
            "below again; what you typed is kept, so record the decision again if it still stands.",
        )
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
