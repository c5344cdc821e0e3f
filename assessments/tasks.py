"""The pilot page's summary and task list: each step's status, its link, and the next action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_login import current_user

from assessments import bias_checks, service, workflow
from assessments.fixes import unmet_items
from assessments.views import page_compliance
from registry.auth.permissions import can
from registry.catalog import lifecycle
from registry.catalog.vocabulary import ApprovedStage, ReviewStatus, Verdict

# A step's state: (words, CSS modifier). The modifier picks a colour and the words say it.
DONE = ("Completed", "done")
IN_PROGRESS = ("In progress", "progress")
NOT_STARTED = ("Not started", "todo")
ATTENTION = ("Needs attention", "attention")
WAITING = ("Waiting for a CAIO", "progress")
CANNOT_START = ("Cannot start yet", "blocked")


@dataclass(frozen=True)
class Step:
    """One step of the team's work on a pilot."""

    key: str
    title: str
    status: tuple[str, str]
    detail: str
    url: str | None
    link_text: str | None

    @property
    def done(self) -> bool:
        return self.status == DONE


def _describe(pilot: Any, may_edit: bool) -> Step:
    url = url_for("catalog.pilot_edit", pilot_id=pilot.id) if may_edit else None
    if pilot.is_high_impact is None:
        return Step(
            "describe",
            "Description of the use case",
            IN_PROGRESS,
            "Record whether the use case is high-impact under M-25-21.",
            url,
            "Edit the description",
        )
    return Step(
        "describe",
        "Description of the use case",
        DONE,
        "Purpose, agency, stage and the high-impact determination are recorded.",
        url,
        "Edit the description",
    )


def _data_sources(pilot: Any, may_edit: bool) -> Step:
    count = len(pilot.data_sources)
    url = url_for("catalog.pilot_edit", pilot_id=pilot.id, _anchor="data_source_ids")
    if count:
        return Step(
            "data_sources",
            "Data sources",
            DONE,
            f"{count} data source{'' if count == 1 else 's'} linked.",
            url if may_edit else None,
            "Change the data sources",
        )
    return Step(
        "data_sources",
        "Data sources",
        NOT_STARTED,
        "No data source is linked yet.",
        url if may_edit else None,
        "Link data sources",
    )


def _questionnaire(pilot: Any, may_assess: bool, may_read_answers: bool) -> Step:
    url = url_for("assessments.questionnaire", pilot_id=pilot.id) if may_assess else None
    latest = service.latest_assessment(pilot)
    if latest is None:
        return Step(
            "questionnaire",
            "Impact questionnaire",
            NOT_STARTED,
            "The answers set the pilot's risk tier.",
            url,
            "Answer the questionnaire",
        )
    tier = f", Tier {pilot.risk_tier}" if pilot.risk_tier else ""
    return Step(
        "questionnaire",
        "Impact questionnaire",
        DONE,
        f"Impact level {latest.impact_level}{tier}, answered "
        f"{latest.created_at.strftime('%Y-%m-%d')}.",
        # The answers are need-to-know: no link for whoever would get a 403.
        url_for("assessments.assessment_result", assessment_id=latest.id)
        if may_read_answers
        else None,
        "See the answers and score",
    )


def _evidence(pilot: Any, unmet: list[dict[str, Any]], may_upload: bool) -> Step:
    needing = [item for item in unmet if any("evidence" in f.text for f in item["fixes"])]
    files = len(service.evidence_for(pilot))
    url = (
        url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="attach-evidence")
        if may_upload
        else url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="evidence-heading")
    )
    if not needing:
        return Step(
            "evidence",
            "Evidence",
            DONE,
            f"{files} file{'' if files == 1 else 's'} attached; no checklist item lacks evidence.",
            url,
            "Attach more evidence" if may_upload else "See the evidence",
        )
    names = ", ".join(item["title"] for item in needing[:3]) + ("…" if len(needing) > 3 else "")
    return Step(
        "evidence",
        "Evidence",
        IN_PROGRESS if files else NOT_STARTED,
        f"{len(needing)} checklist item{'' if len(needing) == 1 else 's'} still need evidence: "
        f"{names}.",
        url,
        "Attach evidence" if may_upload else "See the evidence",
    )


def _bias(pilot: Any, may_upload: bool, may_read_results: bool) -> Step:
    url = url_for("assessments.bias_check_new", pilot_id=pilot.id) if may_upload else None

    def detail(check_id: int) -> str | None:
        # Bias-check results are need-to-know: no link for whoever would get a 403.
        if not may_read_results:
            return None
        return url_for("assessments.bias_check_detail", check_id=check_id)

    checks = bias_checks.for_pilot(pilot)
    latest = bias_checks.latest_succeeded(pilot)
    running = [c for c in checks if c.status in ("queued", "running")]
    if running:
        return Step(
            "bias",
            "Bias checks",
            IN_PROGRESS,
            "A bias check is running.",
            detail(running[0].id),
            "See its progress",
        )
    if latest is None:
        return Step(
            "bias",
            "Bias checks",
            NOT_STARTED,
            "Upload the model's outcomes by group to check for bias.",
            url,
            "Run a bias check",
        )
    verdict = Verdict.label_of(latest.verdict)
    return Step(
        "bias",
        "Bias checks",
        DONE if latest.verdict == Verdict.PASS else ATTENTION,
        f"Latest check: {verdict.lower()} ({latest.created_at.strftime('%Y-%m-%d')}).",
        detail(latest.id),
        "See the latest check",
    )


def _submit(pilot: Any, unmet: list[dict[str, Any]], may_submit: bool) -> Step:
    status = pilot.review_status
    anchor = url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="review-heading")
    if status == ReviewStatus.SUBMITTED:
        return Step(
            "submit",
            "Review",
            WAITING,
            "Submitted; a CAIO will decide.",
            anchor,
            "See the review",
        )
    if status in (ReviewStatus.APPROVED, ReviewStatus.APPROVED_WITH_CONDITIONS):
        return Step(
            "submit",
            "Review",
            DONE,
            f"{ReviewStatus.label_of(status)}.",
            anchor,
            "See the decision",
        )
    blocking = (
        f" {len(unmet)} checklist item{'' if len(unmet) == 1 else 's'} still unmet: a CAIO can "
        "only approve once each is met or waived."
        if unmet
        else ""
    )
    if status == ReviewStatus.CHANGES_REQUESTED:
        detail, state = (
            "A CAIO asked for changes; resubmit when they are made." + blocking,
            (ATTENTION),
        )
    elif status == ReviewStatus.REJECTED:
        detail, state = "A CAIO rejected this revision." + blocking, ATTENTION
    else:
        detail, state = "Not submitted yet." + blocking, NOT_STARTED
    return Step(
        "submit",
        "Review",
        state,
        detail,
        url_for("catalog.pilot_detail", pilot_id=pilot.id, _anchor="submit-form")
        if may_submit
        else None,
        "Submit for review" if may_submit else None,
    )


def _in_force(pilot: Any) -> str:
    if not pilot.approved_revision:
        return "Nothing approved yet."
    text = (
        f"Revision {pilot.approved_revision}, approved for "
        f"{ApprovedStage.label_of(pilot.approved_stage).lower()}."
    )
    if pilot.unreviewed_changes:
        text += " Changes since then are not yet reviewed."
    return text


def task_panel(pilot: Any) -> dict[str, Any]:
    """The summary header and the team's steps, for the top of a pilot's page."""
    version, checklist = page_compliance(pilot)
    unmet = unmet_items(pilot, version, checklist)
    may_edit = can(current_user, "pilot.update", pilot)
    may_upload = can(current_user, "pilot.upload", pilot)
    may_submit = can(current_user, "pilot.submit", pilot) and "submit" in lifecycle.allowed_actions(
        pilot
    )
    steps = [
        _describe(pilot, may_edit),
        _data_sources(pilot, may_edit),
        _questionnaire(
            pilot,
            can(current_user, "pilot.assess", pilot),
            can(current_user, "pilot.read_restricted", pilot),
        ),
        _evidence(pilot, unmet, may_upload),
        _bias(pilot, may_upload, can(current_user, "pilot.read_restricted", pilot)),
        _submit(pilot, unmet, may_submit),
    ]
    may_decide = (
        can(current_user, "pilot.decide", pilot) and pilot.review_status == ReviewStatus.SUBMITTED
    )
    next_action = _next_action(pilot, steps, may_decide, may_submit, may_edit)
    return {
        "template": "assessments/task_panel.html",
        "position": "summary",
        "steps": steps,
        "done": sum(step.done for step in steps),
        "next_action": next_action,
        "in_force": _in_force(pilot),
        "unmet": unmet,
        "open_conditions": [
            c for c in workflow.conditions_for(pilot) if c.state(workflow.today()) != "met"
        ],
        "report_url": url_for("reports.pilot_report_pdf", pilot_id=pilot.id)
        if can(current_user, "pilot.read", pilot)
        else None,
    }


def _next_action(
    pilot: Any, steps: list[Step], may_decide: bool, may_submit: bool, may_edit: bool
) -> dict[str, Any]:
    """What the person reading the page should do next, as words and (if any) a link."""
    if may_decide:
        return {
            "text": "A revision is waiting for your decision.",
            "url": url_for("review.decide", pilot_id=pilot.id),
            "link_text": "Decide on this pilot",
        }
    if may_edit or may_submit:
        for step in steps:
            if not step.done and step.url and step.status != WAITING:
                return {"text": step.detail, "url": step.url, "link_text": step.link_text}
        if pilot.review_status == ReviewStatus.SUBMITTED:
            return {"text": "Nothing to do: a CAIO will decide.", "url": None, "link_text": None}
        return {"text": "Every step is complete.", "url": None, "link_text": None}
    if pilot.review_status == ReviewStatus.SUBMITTED:
        return {"text": "Waiting for a CAIO's decision.", "url": None, "link_text": None}
    return {"text": "Nothing for you to do on this pilot.", "url": None, "link_text": None}
