"""The site's landing page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user
from sqlalchemy import func, select

from registry.catalog.models import Pilot
from registry.extensions import db

bp = Blueprint("site", __name__)


@bp.get("/")
def home():
    """Show the signed-in user's starting point; visitors get the public front door (the
    transparency inventory, registered by a later domain)."""
    if not current_user.is_authenticated:
        return current_app.extensions["registry"]["public_home"]()
    counts = dict(
        db.session.execute(
            select(Pilot.review_status, func.count()).group_by(Pilot.review_status)
        ).all()
    )
    total = sum(counts.values())
    panel = current_app.extensions["registry"]["home_panel"]()
    return render_template("home.html", counts=counts, total=total, panel=panel)
