"""HTML pages for the questionnaire, assessment results, evidence and the pilot's checklist."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

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


@bp.route("/pilots/<int:pilot_id>/questionnaire", methods=["GET", "POST"])
@login_required
def questionnaire(pilot_id: int):
    """Answer the impact questionnaire; without JavaScript, 'Update questions' re-renders it."""
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "pilot.assess", pilot)
    version, questionnaire_doc = service.questionnaire()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        answers = _answers_from_form(questionnaire_doc)
        if request.form.get("action") == "submit":
            try:
                assessment = service.assess(pilot, answers, current_user)
            except ValidationFailed as error:
                errors = error.errors
            else:
                flash(f"Assessment saved: impact level {assessment.impact_level}.", "success")
                return redirect(
                    url_for("assessments.assessment_result", assessment_id=assessment.id)
                )
    else:
        latest = service.latest_assessment(pilot)
        answers = dict(latest.answers) if latest else {}
    areas = service.questions_by_area(questionnaire_doc, answers)
    status = 422 if errors else 200
    return render_template(
        "assessments/questionnaire.html",
        pilot=pilot,
        areas=areas,
        answers=answers,
        errors=errors,
        questionnaire=questionnaire_doc,
        policy_version=version,
    ), status


@bp.get("/assessments/<int:assessment_id>")
@login_required
def assessment_result(assessment_id: int):
    """Show an assessment's scores, level and per-area breakdown."""
    authorize(current_user, "pilot.read")
    assessment = service.get_assessment(assessment_id)
    pilot = catalog.get_pilot(assessment.pilot_id)
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
    authorize(current_user, "pilot.read")
    return evidence_response(service.get_evidence(evidence_id))


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
    authorize(current_user, "pilot.read")
    check = bias_checks.get(check_id)
    pilot = catalog.get_pilot(check.pilot_id)
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
    """Queue a failed check again."""
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
