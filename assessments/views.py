"""HTML pages for the questionnaire, assessment results, evidence and the pilot's checklist."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import policies
from assessments import bias_checks, service
from assessments.api import evidence_response
from assessments.charts import METRIC_NAMES
from policies import store
from policies.fairness import TASK_LABELS, TASKS
from registry.auth.permissions import authorize, can
from registry.catalog import service as catalog
from registry.catalog.views import render_pilot_page
from registry.catalog.vocabulary import RISK_TIERS
from registry.errors import ValidationFailed
from registry.request_limits import upload_route
from registry.web import flash_errors

bp = Blueprint("assessments", __name__, template_folder="templates")


def _answers_from_form(questionnaire: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in questionnaire["questions"]:
        qid = question["id"]
        if question.get("multiple"):
            values = [v for v in request.form.getlist(qid) if v]
            if values:
                answers[qid] = values
        elif request.form.get(qid):
            answers[qid] = request.form[qid]
    return answers


def _step_number(raw: str | None, last: int) -> int:
    return min(max(int(raw), 1), last) if raw and raw.isdigit() else 1


def _question_errors(
    questionnaire_doc: dict[str, Any], answers: dict[str, Any], only: set[str] | None = None
) -> dict[str, list[str]]:
    """Unanswered or invalid questions, each named by its own words (not its id)."""
    try:
        policies.validate_answers(questionnaire_doc, answers)
    except policies.AnswersInvalid as error:
        texts = {q["id"]: q for q in questionnaire_doc["questions"]}
        out = {}
        for qid, message in error.errors.items():
            if only is not None and qid not in only:
                continue
            question = texts.get(qid)
            if question is None:
                continue
            if qid not in answers:
                verb = (
                    "Choose at least one answer" if question.get("multiple") else "Choose an answer"
                )
                out[qid] = [f"{verb} to “{question['text']}”"]
            else:
                out[qid] = [f"Check your answer to “{question['text']}”: {message}"]
        return out
    return {}


def _step_view(questionnaire_doc: dict[str, Any], answers: dict[str, Any]) -> list[dict]:
    """The questionnaire's steps: one per area that has a visible question, with every question
    of the area (follow-ups too, hidden until shown), then "check your answers"."""
    visible = {q["id"] for q in policies.visible_questions(questionnaire_doc, answers)}
    steps = []
    for area in questionnaire_doc["areas"]:
        questions = [q for q in questionnaire_doc["questions"] if q["area"] == area["id"]]
        shown = [q for q in questions if q["id"] in visible]
        if not shown:
            continue
        steps.append(
            {
                **area,
                "questions": [
                    {
                        **q,
                        "visible": q["id"] in visible,
                        "show_if_json": json.dumps(q["show_if"]) if q.get("show_if") else "",
                    }
                    for q in questions
                ],
                "visible_ids": {q["id"] for q in shown},
                "answered": sum(1 for q in shown if answers.get(q["id"])),
                "total": len(shown),
            }
        )
    return steps


@bp.route("/pilots/<int:pilot_id>/questionnaire", methods=["GET", "POST"])
@login_required
def questionnaire(pilot_id: int):
    """Answer the impact questionnaire one section at a time; each step saves a draft.

    Follow-up questions appear at once with JavaScript; without it, "Save and continue" shows
    them on the same step. The last step lists every answer to check, then submits."""
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "pilot.assess", pilot)
    version, questionnaire_doc = service.questionnaire()
    answers = service.draft_answers(pilot)
    if answers is None:
        latest = service.latest_assessment(pilot)
        answers = dict(latest.answers) if latest else {}
    steps = _step_view(questionnaire_doc, answers)
    last = len(steps) + 1
    step = _step_number(request.values.get("step"), last)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "continue")
        if action == "submit":  # every posted answer counts, from whichever step sent it
            answers.update(_answers_from_form(questionnaire_doc))
            step = last
        if step < last:
            current = steps[step - 1]
            area_ids = {q["id"] for q in current["questions"]}
            posted = _answers_from_form(questionnaire_doc)
            answers = {k: v for k, v in answers.items() if k not in area_ids}
            answers.update({k: v for k, v in posted.items() if k in area_ids})
            service.save_draft(pilot, answers, current_user)
            new_steps = _step_view(questionnaire_doc, answers)
            now_visible = next(
                (s["visible_ids"] for s in new_steps if s["id"] == current["id"]), set()
            )
            if action == "back":
                return redirect(url_for(".questionnaire", pilot_id=pilot.id, step=max(1, step - 1)))
            if now_visible - current["visible_ids"]:
                flash(
                    "More questions appeared below your answer. Answer them, then continue.", "info"
                )
                return redirect(url_for(".questionnaire", pilot_id=pilot.id, step=step))
            errors = _question_errors(questionnaire_doc, answers, now_visible)
            if not errors:
                index = next(
                    (i for i, s in enumerate(new_steps) if s["id"] == current["id"]), step - 1
                )
                return redirect(url_for(".questionnaire", pilot_id=pilot.id, step=index + 2))
            steps, status = new_steps, 422
        else:
            try:
                assessment = service.assess(pilot, answers, current_user)
            except ValidationFailed:
                errors = _question_errors(questionnaire_doc, answers)
                status = 422
            else:
                flash(f"Assessment saved: impact level {assessment.impact_level}.", "success")
                return redirect(
                    url_for("assessments.assessment_result", assessment_id=assessment.id)
                )
    step_of = {q["id"]: i + 1 for i, s in enumerate(steps) for q in s["questions"]}
    return render_template(
        "assessments/questionnaire.html",
        pilot=pilot,
        steps=steps,
        step=step,
        last=last,
        current=steps[step - 1] if step < last else None,
        answers=answers,
        errors=errors,
        error_links={qid: (step_of.get(qid, 1), qid) for qid in errors},
        questionnaire=questionnaire_doc,
        policy_version=version,
        answered=service.answered_questions_for(questionnaire_doc, answers),
    ), status


@bp.get("/assessments/<int:assessment_id>")
@login_required
def assessment_result(assessment_id: int):
    """Show an assessment's scores, level and per-area breakdown."""
    assessment = service.get_assessment(assessment_id)
    pilot = catalog.get_pilot(assessment.pilot_id)
    authorize(current_user, "pilot.read_restricted", pilot)
    rows = []
    for area in assessment.breakdown:
        share = (area["raw"] / area["max_raw"]) if area["max_raw"] else 0
        rows.append({**area, "percent": round(100 * share)})
    threshold = assessment.max_raw_score
    bands = [("I", 0, 25), ("II", 25, 50), ("III", 50, 75), ("IV", 75, 100)]
    return render_template(
        "assessments/result.html",
        assessment=assessment,
        pilot=pilot,
        rows=rows,
        bands=bands,
        answered=service.answered_questions(assessment),
        percent=round(100 * assessment.current_score / threshold) if threshold else 0,
    )


@bp.post("/pilots/<int:pilot_id>/evidence")
@upload_route("MAX_EVIDENCE_BYTES", action="pilot.upload", pilot_arg="pilot_id")
@login_required
def upload_evidence(pilot_id: int):
    """Attach an evidence file to a pilot."""
    pilot = catalog.get_pilot(pilot_id)
    try:
        evidence = service.add_evidence(
            pilot,
            request.files.get("file"),
            kind=request.form.get("kind", ""),
            item_id=request.form.get("item_id"),
            title=request.form.get("title"),
            actor=current_user,
        )
    except ValidationFailed as error:
        flash_errors("Evidence not saved", error.errors)
        return render_pilot_page(pilot, 422)
    flash(f"Attached {evidence.filename} ({evidence.media_type}).", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="evidence-heading"))


@bp.get("/evidence/<int:evidence_id>/download")
@login_required
def download_evidence(evidence_id: int):
    """Download an evidence file as an attachment."""
    evidence = service.get_evidence(evidence_id)
    authorize(current_user, "pilot.read_restricted", catalog.get_pilot(evidence.pilot_id))
    return evidence_response(evidence)


@bp.post("/pilots/<int:pilot_id>/risk-tier-override")
@login_required
def override_tier(pilot_id: int):
    """A CAIO overrides (or clears the override of) a pilot's risk tier."""
    pilot = catalog.get_pilot(pilot_id)
    tier = request.form.get("risk_tier") or None
    try:
        service.override_tier(pilot, tier, request.form.get("justification", ""), current_user)
    except ValidationFailed as error:
        flash_errors("Override not saved", error.errors)
        return render_pilot_page(pilot, 422)
    flash("Risk tier override saved." if tier else "Override cleared.", "success")
    return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))


def page_compliance(pilot):
    """service.compliance(pilot), worked out once per request for the panels of its page."""
    memo = g.setdefault("_page_compliance", {})
    key = (pilot.id, pilot.version)
    if key not in memo:
        memo[key] = service.compliance(pilot)
    return memo[key]


def pilot_panel(pilot) -> dict[str, Any]:
    """The assessment, checklist and evidence sections of a pilot's page."""
    version, checklist = page_compliance(pilot)
    _, document = store.active_policy()
    return {
        "template": "assessments/pilot_panel.html",
        "checklist": checklist,
        "policy_version": version,
        "latest_assessment": service.latest_assessment(pilot),
        "assessment_count": len(service.assessments_for(pilot)),
        "evidence": service.evidence_for(pilot),
        "evidence_kinds": document["evidence_kinds"],
        "checklist_items": service.checklist_item_ids(document),
        "evidence_item": request.args.get("evidence_item"),
        "can_upload": can(current_user, "pilot.upload", pilot),
        "can_assess": can(current_user, "pilot.assess", pilot),
        "can_override": can(current_user, "pilot.override_tier", pilot),
        "tiers": RISK_TIERS,
    }


@bp.route("/pilots/<int:pilot_id>/bias-checks/new", methods=["GET", "POST"])
@upload_route("MAX_UPLOAD_BYTES", action="pilot.upload", pilot_arg="pilot_id")
@login_required
def bias_check_new(pilot_id: int):
    """Upload model outputs and map their columns; the mapping pre-fills from the header."""
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "pilot.upload", pilot)
    errors: dict[str, list[str]] = {}
    form: dict[str, Any] = {"positive_label": "1", "sensitive_features": [], "task": TASKS[0]}
    if request.method == "POST":
        form = {
            key: request.form.get(key, "")
            for key in (
                "task",
                "y_true",
                "y_pred",
                "y_score",
                "outcomes",
                "frequency",
                "name",
                "intervention",
                "concern",
                "ground_truth",
            )
        }
        form["positive_label"] = request.form.get("positive_label", "1")
        form["sensitive_features"] = [v for v in request.form.getlist("sensitive_features") if v]
        try:
            check = bias_checks.create(pilot, request.files.get("file"), form, current_user)
        except ValidationFailed as error:
            errors = error.errors
        else:
            return redirect(url_for("assessments.bias_check_detail", check_id=check.id))
    from assessments.metrics_guide import QUESTIONS

    return render_template(
        "assessments/bias_check_new.html",
        pilot=pilot,
        form=form,
        errors=errors,
        tasks=TASK_LABELS,
        questions=QUESTIONS,
    ), (422 if errors else 200)


@bp.post("/bias-checks/columns")
@login_required
def bias_check_columns():
    """Read just the header of a chosen file, to pre-fill the column mapping (progressive)."""
    from assessments import bias_input

    upload = request.files.get("file")
    if upload is None:
        return {"columns": []}
    import tempfile

    with tempfile.NamedTemporaryFile() as handle:
        handle.write(upload.stream.read(1024 * 1024))
        handle.flush()
        try:
            return {"columns": bias_input.header_columns(handle.name)}
        except ValidationFailed as error:
            return {"columns": [], "errors": error.errors}, 422


@bp.get("/bias-checks/<int:check_id>")
@login_required
def bias_check_detail(check_id: int):
    """Show a check's progress or its results, findings and charts."""
    check = bias_checks.get(check_id)
    pilot = catalog.get_pilot(check.pilot_id)
    authorize(current_user, "pilot.read_restricted", pilot)
    from assessments import charts

    results = check.results or {}
    tables = {
        metric: charts.metric_table(results, metric)
        for metric in (check.charts or {})
        if metric not in ("routing", "what_if")
    }
    return render_template(
        "assessments/bias_check.html",
        check=check,
        pilot=pilot,
        tables=tables,
        metrics=charts.result_metric_labels(results),
        task_label=TASK_LABELS.get(check.task, check.task),
        group_table=charts.group_table(results) if results else None,
        routing=charts.class_table(results) if results else None,
        correctly_routed=charts.class_table(results, "true_positive_rate") if results else None,
        detectable=_detectable(check) if results else [],
        running=check.status in ("queued", "running"),
    )


def _detectable(check) -> list[dict[str, Any]]:
    """The smallest gap in each judged metric that the check's groups could show."""
    from assessments import charts
    from assessments.metrics_power import power_note
    from assessments.verdicts import metric_phrase

    labels = charts.result_metric_labels(check.results)
    rows = []
    for finding in check.findings or []:
        threshold = finding.get("threshold")
        if not threshold:
            continue
        key = finding.get("chart_metric") or finding["metric"]
        kind = "ratio_min" if "ratio_min" in threshold else "difference_max"
        try:
            style = metric_phrase(key, check.task)[3].style
        except KeyError:
            continue
        note = power_note(check.results, key, style, kind, threshold[kind], 0)
        if note and note["detectable_difference"] is not None:
            rows.append({"label": labels.get(key, key), "style": style, **note})
    return rows


@bp.post("/bias-checks/<int:check_id>/rerun")
@login_required
def bias_check_rerun(check_id: int):
    """Run a check that has ended again."""
    check = bias_checks.rerun(bias_checks.get(check_id), current_user)
    flash("The check was queued again.", "info")
    return redirect(url_for("assessments.bias_check_detail", check_id=check.id))


def bias_panel(pilot) -> dict[str, Any]:
    """The bias checks and monitoring trend on a pilot's page."""
    return {
        "template": "assessments/bias_panel.html",
        "checks": bias_checks.for_pilot(pilot)[:10],
        "trend": bias_checks.trend(pilot),
        "tasks": {task: label.split(" (")[0] for task, label in TASK_LABELS.items()},
        "metrics": METRIC_NAMES,
        "can_upload": can(current_user, "pilot.upload", pilot),
    }
