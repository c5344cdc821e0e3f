"""Assessment rules: the impact questionnaire, risk tiers, evidence and compliance facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

import policies
from assessments import compliance as compliance_module
from assessments.models import Evidence, ImpactAssessment, QuestionnaireDraft
from policies import store
from policies.models import PolicyVersion
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.catalog import lifecycle
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import RISK_TIERS
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

MIN_JUSTIFICATION_LENGTH = 20
today = compliance_module.today
utc_day = compliance_module.utc_day


# ---- the questionnaire --------------------------------------------------------------------


def questionnaire() -> tuple[Any, dict[str, Any]]:
    """The active policy version and its questionnaire."""
    version, document = store.active_policy()
    return version, document["questionnaire"]


def questions_by_area(
    questionnaire_doc: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[dict]:
    """Areas with their currently visible questions, for the form."""
    visible = {q["id"] for q in policies.visible_questions(questionnaire_doc, answers)}
    areas = []
    for area in questionnaire_doc["areas"]:
        questions = [
            q
            for q in questionnaire_doc["questions"]
            if q["area"] == area["id"] and q["id"] in visible
        ]
        if questions:
            areas.append({**area, "questions": questions})
    return areas


def clean_answers(
    questionnaire_doc: Mapping[str, Any], answers: Mapping[str, Any]
) -> dict[str, Any]:
    """Only the answers to questions that are visible, as stored for the record."""
    visible = policies.visible_questions(questionnaire_doc, answers)
    kept: dict[str, Any] = {}
    for question in visible:
        value = answers.get(question["id"])
        if value in (None, "", []):
            continue
        if question.get("multiple") and isinstance(value, str):
            value = [value]
        kept[question["id"]] = value
    return kept


def draft_answers(pilot: Pilot) -> dict[str, Any] | None:
    """The questionnaire answers saved so far, or None when no draft is open."""
    draft = db.session.get(QuestionnaireDraft, pilot.id)
    return dict(draft.answers) if draft else None


def save_draft(pilot: Pilot, answers: Mapping[str, Any], actor) -> None:
    """Keep the answers so far (no scoring, no tier), to carry on later or on another device."""
    authorize(actor, "pilot.assess", pilot)
    draft = db.session.get(QuestionnaireDraft, pilot.id)
    if draft is None:
        draft = QuestionnaireDraft(pilot_id=pilot.id)
        db.session.add(draft)
    draft.answers = dict(answers)
    draft.updated_by_id = actor.id
    draft.updated_at = dt.datetime.now(dt.UTC)
    db.session.commit()


def assess(pilot: Pilot, answers: Any, actor) -> ImpactAssessment:
    """Score a completed questionnaire, keep it, and set the pilot's tier from it."""
    authorize(actor, "pilot.assess", pilot)
    version, document = store.active_policy()
    questionnaire_doc = document["questionnaire"]
    if not isinstance(answers, Mapping):
        raise ValidationFailed(
            "answers must map question ids to answers.", {"answers": ["Not a mapping."]}
        )
    try:
        policies.validate_answers(questionnaire_doc, answers)
        result = policies.score(questionnaire_doc, answers)
    except policies.AnswersInvalid as error:
        raise ValidationFailed(
            "Some answers are not valid: " + ", ".join(sorted(error.errors)) + ".",
            {qid: [message] for qid, message in error.errors.items()},
        ) from None
    breakdown = [
        {
            "area": a.area,
            "label": _area_label(questionnaire_doc, a.area),
            "raw": a.raw,
            "max_raw": a.max_raw,
            "mitigation": a.mitigation,
            "max_mitigation": a.max_mitigation,
        }
        for a in result.areas
    ]
    assessment = ImpactAssessment(
        pilot_id=pilot.id,
        policy_version_id=version.id,
        policy_version_label=version.label,
        questionnaire_version=str(questionnaire_doc["version"]),
        answers=clean_answers(questionnaire_doc, answers),
        raw_score=result.raw_score,
        max_raw_score=result.max_raw_score,
        mitigation_score=result.mitigation_score,
        max_mitigation_score=result.max_mitigation_score,
        mitigation_applied=result.mitigation_applied,
        current_score=result.current_score,
        impact_level=result.impact_level,
        breakdown=breakdown,
        created_by_id=actor.id,
    )
    db.session.add(assessment)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "impact_assessment",
        assessment.id,
        {
            "pilot_id": pilot.id,
            "impact_level": result.impact_level,
            "raw_score": result.raw_score,
            "current_score": result.current_score,
            "policy_version": version.label,
        },
    )
    lifecycle.set_tier_from_questionnaire(pilot, result.impact_level, actor)
    draft = db.session.get(QuestionnaireDraft, pilot.id)
    if draft is not None:  # submitted: the draft has done its job
        db.session.delete(draft)
    signals.compliance_inputs_changed.send(pilot, what="impact_assessment")
    db.session.commit()
    return assessment


def _area_label(questionnaire_doc: Mapping[str, Any], area_id: str) -> str:
    for area in questionnaire_doc["areas"]:
        if area["id"] == area_id:
            return area["label"]
    return area_id


def answered_questions(assessment: ImpactAssessment) -> list[dict[str, Any]]:
    """The questions an assessment answered, by area, in the words of the questionnaire it
    was answered under, with the labels of the answers chosen (read-only, for reviewers)."""
    version = db.session.get(PolicyVersion, assessment.policy_version_id)
    questionnaire_doc = store.document(version)["questionnaire"]
    return answered_questions_for(questionnaire_doc, assessment.answers)


def answered_questions_for(
    questionnaire_doc: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The visible questions by area with the labels of the answers chosen (none: not yet)."""
    areas = []
    for area in questions_by_area(questionnaire_doc, answers):
        rows = []
        for question in area["questions"]:
            value = answers.get(question["id"])
            chosen = value if isinstance(value, list) else [value] if value is not None else []
            labels = {c["value"]: c["label"] for c in question["choices"]}
            rows.append(
                {
                    "id": question["id"],
                    "text": question["text"],
                    "answers": [labels.get(v, str(v)) for v in chosen],
                }
            )
        areas.append({"label": area["label"], "questions": rows})
    return areas


def assessments_for(pilot: Pilot) -> list[ImpactAssessment]:
    return list(
        db.session.scalars(
            select(ImpactAssessment)
            .where(ImpactAssessment.pilot_id == pilot.id)
            .order_by(ImpactAssessment.created_at.desc(), ImpactAssessment.id.desc())
        )
    )


def latest_assessment(pilot: Pilot) -> ImpactAssessment | None:
    found = assessments_for(pilot)
    return found[0] if found else None


def get_assessment(assessment_id: int) -> ImpactAssessment:
    assessment = db.session.get(ImpactAssessment, assessment_id)
    if assessment is None:
        raise NotFound(f"There is no impact assessment {assessment_id}.")
    return assessment


def override_tier(pilot: Pilot, tier: str | None, justification: str, actor) -> Pilot:
    """A CAIO sets the tier by hand, in writing; `tier=None` returns to the questionnaire's."""
    authorize(actor, "pilot.override_tier", pilot)
    justification = (justification or "").strip()
    errors: dict[str, list[str]] = {}
    if tier is not None and tier not in RISK_TIERS:
        errors["risk_tier"] = [f"Choose one of {', '.join(RISK_TIERS)}."]
    if len(justification) < MIN_JUSTIFICATION_LENGTH:
        errors["justification"] = [
            f"Explain the override in at least a sentence ({MIN_JUSTIFICATION_LENGTH} characters)."
        ]
    if errors:
        raise ValidationFailed("The tier override could not be saved.", errors)
    latest = latest_assessment(pilot)
    lifecycle.override_tier(
        pilot,
        tier,
        justification,
        actor,
        questionnaire_level=latest.impact_level if latest else None,
    )
    db.session.commit()
    return pilot


# ---- evidence ------------------------------------------------------------------------------


def evidence_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "evidence"


def evidence_kinds() -> list[dict[str, str]]:
    _, document = store.active_policy()
    return list(document["evidence_kinds"])


def checklist_item_ids(document: Mapping[str, Any]) -> dict[str, str]:
    items = {item["id"]: item["title"] for item in document["items"]}
    items.update({item["id"]: item["title"] for item in document["m_25_21"]["items"]})
    return items


def add_evidence(
    pilot: Pilot, upload, *, kind: str, item_id: str | None, title: str | None, actor
) -> Evidence:
    """Store an uploaded file, checked by its content, as evidence for the pilot."""
    from assessments.sniffing import check_evidence
    from assessments.storage import stored_upload

    authorize(actor, "pilot.upload", pilot)
    _, document = store.active_policy()
    errors: dict[str, list[str]] = {}
    kinds = {k["id"] for k in document["evidence_kinds"]}
    if kind not in kinds:
        errors["kind"] = [f"Choose one of: {', '.join(sorted(kinds))}."]
    items = checklist_item_ids(document)
    item_id = (item_id or "").strip() or None
    if item_id is not None and item_id not in items:
        errors["item_id"] = [f"{item_id!r} is not a checklist item of the active policy."]
    if upload is None or not getattr(upload, "filename", None):
        errors["file"] = ["Choose a file to upload."]
    if title and len(title) > 300:
        errors["title"] = ["Use at most 300 characters."]
    if errors:
        raise ValidationFailed("The evidence could not be saved.", errors)
    with stored_upload(
        upload.stream, evidence_root(), current_app.config["MAX_EVIDENCE_BYTES"]
    ) as stored:
        sniffed = check_evidence(stored.path, declared_filename=upload.filename)
        evidence = Evidence(
            pilot_id=pilot.id,
            kind=kind,
            item_id=item_id,
            title=(title or "").strip() or None,
            filename=_safe_filename(upload.filename, sniffed.extension),
            sha256=stored.sha256,
            media_type=sniffed.media_type,
            size=stored.size,
            uploaded_by_id=actor.id,
        )
        db.session.add(evidence)
        db.session.flush()
        audit.record(
            actor,
            "create",
            "evidence",
            evidence.id,
            {
                "pilot_id": pilot.id,
                "kind": kind,
                "item_id": item_id,
                "sha256": stored.sha256,
                "size": stored.size,
                "media_type": sniffed.media_type,
                "filename": evidence.filename,
            },
        )
        signals.compliance_inputs_changed.send(pilot, what="evidence")
        db.session.commit()
    return evidence


def _safe_filename(name: str, extension: str) -> str:
    base = Path(name or "evidence").name
    cleaned = (
        "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in base).strip(" .")
        or "evidence"
    )
    stem = cleaned.rsplit(".", 1)[0] if "." in cleaned else cleaned
    return f"{stem[:200]}{extension}" if extension else stem[:200]


def evidence_for(pilot: Pilot) -> list[Evidence]:
    return list(
        db.session.scalars(
            select(Evidence)
            .where(Evidence.pilot_id == pilot.id)
            .order_by(Evidence.created_at.desc(), Evidence.id.desc())
        )
    )


def get_evidence(evidence_id: int) -> Evidence:
    evidence = db.session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"There is no evidence {evidence_id}.")
    return evidence


def evidence_file(evidence: Evidence) -> Path:
    from assessments.storage import path_for

    return path_for(evidence_root(), evidence.sha256)


# ---- compliance ----------------------------------------------------------------------------

gather_facts = compliance_module.gather_facts
compliance = compliance_module.evaluate
