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


# ---- synthetic demo checks of the other kinds -------------------------------------------------
# Made-up rows, generated from a fixed seed so every `seed-demo` gives the same file (and sha256).
# The check's name and file name say they are demo data; the numbers are computed by the real
# check from these rows, nothing is written in.

CREWS = ("Pothole crew", "Sidewalk crew", "Drainage", "Signals and signs", "Street lighting")
GENERAL_QUEUE = "General review"
REPORT_LANGUAGES = {"English": 0.62, "Spanish": 0.22, "Chinese": 0.09, "Vietnamese": 0.07}
# How often the text model sends a report to the right crew, by the report's language: it was
# trained mostly on English reports, and misrouted reports pile up in the general queue.
ROUTED_RIGHT = {"English": 0.9, "Spanish": 0.82, "Chinese": 0.64, "Vietnamese": 0.68}


def demo_routing_csv(rows: int = 8_000, seed: int = 311) -> bytes:
    """Synthetic 311 street reports: the crew a supervisor confirmed and the one the model chose."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    language = rng.choice(list(REPORT_LANGUAGES), size=rows, p=list(REPORT_LANGUAGES.values()))
    truth = rng.choice(CREWS, size=rows, p=[0.45, 0.2, 0.15, 0.1, 0.1])
    right = rng.random(rows) < np.vectorize(ROUTED_RIGHT.get)(language)
    # A misrouted report goes to the general queue two times in three, else to another crew.
    other = rng.choice(CREWS, size=rows)
    wrong = np.where(rng.random(rows) < 2 / 3, GENERAL_QUEUE, other)
    predicted = np.where(right, truth, wrong)
    frame = pd.DataFrame(
        {"report_language": language, "confirmed_crew": truth, "model_crew": predicted}
    )
    return frame.to_csv(index=False).encode()


ASSISTANT_LANGUAGES = {
    "English": 0.45,
    "Spanish": 0.25,
    "Chinese": 0.12,
    "Haitian Creole": 0.1,
    "Arabic": 0.08,
}
# The share of evaluated conversations ending each way, by the caller's language.
ASSISTANT_ENDINGS = {
    #                 resolved, escalated, refused
    "English": (0.80, 0.13, 0.07),
    "Spanish": (0.77, 0.16, 0.07),
    "Chinese": (0.73, 0.20, 0.07),
    "Haitian Creole": (0.57, 0.35, 0.08),
    "Arabic": (0.68, 0.25, 0.07),
}


def demo_assistant_csv(rows: int = 3_000, seed: int = 612) -> bytes:
    """Synthetic evaluator labels of virtual-assistant conversations, by the caller's language."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    language = rng.choice(
        list(ASSISTANT_LANGUAGES), size=rows, p=list(ASSISTANT_LANGUAGES.values())
    )
    ending = np.array([rng.choice(3, p=ASSISTANT_ENDINGS[lang]) for lang in language])
    harmful = rng.random(rows) < np.where(language == "English", 0.004, 0.012)
    frame = pd.DataFrame(
        {
            "caller_language": language,
            "resolved": (ending == 0).astype(int),
            "escalated": (ending == 1).astype(int),
            "refused": (ending == 2).astype(int),
            "harmful": harmful.astype(int),
        }
    )
    return frame.to_csv(index=False).encode()


DEMO_CHECKS = {
    "MCG-002": (
        demo_routing_csv,
        "demo-311-routing-synthetic.csv",
        {
            "task": "multiclass_classification",
            "y_true": "confirmed_crew",
            "y_pred": "model_crew",
            "sensitive_features": ["report_language"],
            "name": "Demo data (synthetic): crew routing of 311 street reports by report language",
            "intervention": "assistive",
            "concern": "missed",
        },
    ),
    "MCG-006": (
        demo_assistant_csv,
        "demo-assistant-evaluation-synthetic.csv",
        {
            "task": "outcome_rates",
            "outcomes": "resolved, escalated, refused, harmful",
            "sensitive_features": ["caller_language"],
            "name": "Demo data (synthetic): evaluated assistant conversations by caller language",
            "intervention": "assistive",
            "concern": "missed",
        },
    ),
}


def seed_demo_check(pilot) -> None:
    """A synthetic multiclass or outcome-rates check for the demo pilots that have one."""
    from assessments import bias_checks

    make, filename, form = DEMO_CHECKS[pilot.use_case_id]
    if bias_checks.for_pilot(pilot):
        return
    upload = FileStorage(stream=io.BytesIO(make()), filename=filename)
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
        elif pilot.use_case_id in DEMO_CHECKS:
            seed_demo_check(pilot)
        seed_review(pilot, users)
