"""Demo impact assessments and evidence for `seed-demo`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage

import policies
from assessments import service
from registry.catalog.vocabulary import ReviewStatus

PROFILE = {"High-impact": 1.0, "Presumed High-Impact, but Not High-impact": 0.5}

DEMO_EVIDENCE = {
    "MCG-001": [
        ("pia", "Permit chatbot privacy impact assessment.\nNo PII is stored beyond the session.\n")
    ],
    "MCG-003": [
        ("pia", "Benefits pre-screener PIA, approved by the privacy office on 2026-02-10.\n"),
        ("human_oversight_plan", "Caseworkers confirm every outreach list before contact.\n"),
    ],
    "MCG-004": [
        ("independent_review", "Independent validation by the state university, 2026-05.\n")
    ],
}


def answers_for(questionnaire: dict[str, Any], intensity: float) -> dict[str, Any]:
    """Answers whose weights sit at `intensity` (0 lowest, 1 highest) of each question's range."""
    answers: dict[str, Any] = {}
    for question in questionnaire["questions"]:
        visible = {q["id"] for q in policies.visible_questions(questionnaire, answers)}
        if question["id"] not in visible:
            continue
        choices = sorted(question["choices"], key=lambda c: c["weight"])
        if question["kind"] == "mitigation":
            # Demo teams have done most of their homework.
            pick = choices[-1] if intensity < 1 else choices[len(choices) // 2]
        else:
            pick = choices[round(intensity * (len(choices) - 1))]
        answers[question["id"]] = [pick["value"]] if question.get("multiple") else pick["value"]
    return answers


COMPAS = Path(__file__).resolve().parents[1] / "tests" / "data" / "compas_two_year.csv"


def seed_bias_check(pilot) -> None:
    """ProPublica's COMPAS outputs as the pretrial risk score's bias check."""
    from assessments import bias_checks

    if bias_checks.for_pilot(pilot) or not COMPAS.exists():
        return
    with COMPAS.open("rb") as handle:
        upload = FileStorage(stream=handle, filename="compas_two_year.csv")
        form = {
            "y_true": "two_year_recid",
            "y_pred": "predicted_high_risk",
            "sensitive_features": ["race", "sex"],
            "name": "COMPAS outputs, Broward County",
        }
        bias_checks.create(pilot, upload, form, pilot.owner)


def seed_review(pilot, users) -> None:
    """Take a demo pilot through the real workflow to the review status the demo data gives it."""
    from assessments import workflow
    from registry.demo_data import PILOTS

    target = next(
        (p["review_status"] for p in PILOTS if p["use_case_id"] == pilot.use_case_id), "draft"
    )
    if target == "draft" or workflow.decisions_for(pilot) or pilot.review_status != "draft":
        return
    caio = users["caio@demo.gov"]
    workflow.submit(pilot, pilot.owner, note="Ready for the CAIO's review.")
    if target == "submitted":
        return
    _, checklist = service.compliance(pilot)
    waivers = [
        {
            "item_id": item.id,
            "justification": "Accepted for the pilot phase; the team will "
            "provide it before the next review, and the CAIO checks in monthly.",
        }
        for item in checklist.blocking()
    ]
    import datetime as dt

    decision = {
        "approved": {
            "decision": "approve",
            "rationale": "Benefits outweigh the residual risk.",
            "waivers": waivers,
        },
        ReviewStatus.APPROVED_WITH_CONDITIONS: {
            "decision": "approve_with_conditions",
            "rationale": "Proceed under the conditions below.",
            "waivers": waivers,
            "conditions": [
                {
                    "text": "Publish a plain-language notice on the agency website.",
                    "due_date": dt.date.today() + dt.timedelta(days=45),
                }
            ],
        },
        ReviewStatus.CHANGES_REQUESTED: {
            "decision": "request_changes",
            "rationale": "Add an appeal process and the vendor's validation study.",
        },
        "rejected": {
            "decision": "reject",
            "rationale": "The data does not represent the people served.",
        },
    }[target]
    workflow.decide(pilot, decision, caio)


def seed(*, users, pilots) -> None:
    _, questionnaire = service.questionnaire()
    for pilot in pilots:
        owner = pilot.owner
        if service.latest_assessment(pilot) is None:
            intensity = PROFILE.get(pilot.is_high_impact or "", 0.0)
            service.assess(pilot, answers_for(questionnaire, intensity), owner)
        if not service.evidence_for(pilot):
            for kind, text in DEMO_EVIDENCE.get(pilot.use_case_id or "", []):
                upload = FileStorage(stream=io.BytesIO(text.encode()), filename=f"{kind}.txt")
                service.add_evidence(
                    pilot, upload, kind=kind, item_id=None, title=None, actor=owner
                )
        if pilot.use_case_id == "MCG-004":
            seed_bias_check(pilot)
        seed_review(pilot, users)
