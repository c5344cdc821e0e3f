"""Each role's home page: what is waiting for this person, and where to act on it."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from assessments import workflow
from registry.auth.permissions import can
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import ReviewStatus, RiskTier
from registry.extensions import db


def _caio() -> dict[str, Any]:
    today = workflow.today()
    waiting = [
        row for row in workflow.review_queue() if can(current_user, "pilot.decide", row["pilot"])
    ]
    due = db.session.scalars(
        select(Pilot)
        .where(
            Pilot.approved_revision.is_not(None),
            or_(Pilot.review_due_since.is_not(None), Pilot.next_review_at <= today),
        )
        .order_by(Pilot.next_review_at)
    ).all()
    return {
        "template": "assessments/home_caio.html",
        "waiting": waiting,
        "overdue": workflow.overdue_conditions(today),
        "reviews_due": due,
    }


def _board() -> dict[str, Any]:
    by_status = dict(
        db.session.execute(
            select(Pilot.review_status, func.count()).group_by(Pilot.review_status)
        ).all()
    )
    by_tier = dict(
        db.session.execute(select(Pilot.risk_tier, func.count()).group_by(Pilot.risk_tier)).all()
    )
    return {
        "template": "assessments/home_board.html",
        "kpis": [
            {"label": "AI use cases", "value": sum(by_status.values())},
            {
                "label": "Approved and in force",
                "value": by_status.get(ReviewStatus.APPROVED, 0)
                + by_status.get(ReviewStatus.APPROVED_WITH_CONDITIONS, 0),
            },
            {"label": "Waiting for a decision", "value": by_status.get(ReviewStatus.SUBMITTED, 0)},
            {"label": "Overdue conditions", "value": len(workflow.overdue_conditions())},
        ],
        "tiers": [(RiskTier.label_of(t), by_tier.get(t, 0)) for t in RiskTier.values()]
        + [("Not yet assessed", by_tier.get(None, 0))],
        "packet_url": url_for("reports.board_packet_pdf"),
        "dashboard_url": url_for("reports.dashboard"),
    }


def _next_step(pilot: Pilot) -> str:
    status = pilot.review_status
    if status == ReviewStatus.SUBMITTED:
        return "Waiting for a CAIO's decision"
    if status == ReviewStatus.CHANGES_REQUESTED:
        return "Make the changes asked for, then resubmit"
    if status == ReviewStatus.REJECTED:
        return "Rejected: read the rationale"
    if status in (ReviewStatus.APPROVED, ReviewStatus.APPROVED_WITH_CONDITIONS):
        return "Review due" if pilot.review_due_since else "Approved: keep its conditions met"
    if pilot.risk_tier is None:
        return "Answer the impact questionnaire"
    return "Finish the steps, then submit for review"


def _team() -> dict[str, Any]:
    pilots = db.session.scalars(
        select(Pilot)
        .where(
            or_(
                Pilot.owner_id == current_user.id,
                Pilot.team_members.any(id=current_user.id),
            )
        )
        .order_by(Pilot.updated_at.desc())
        .limit(50)
    ).all()
    return {
        "template": "assessments/home_team.html",
        "pilots": [{"pilot": p, "next_step": _next_step(p)} for p in pilots],
    }


def home_panel() -> dict[str, Any]:
    """The signed-in person's work surface, by role."""
    role = current_user.role
    if role == "caio":
        return _caio()
    if role == "board":
        return _board()
    return _team()
