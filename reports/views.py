"""Report pages: the board dashboard, report previews and PDF downloads for signed-in users."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from registry.auth import organizations
from registry.auth.permissions import authorize, oversight_scope
from registry.catalog import service as catalog
from registry.errors import ValidationFailed
from reports import data as report_data
from reports import render

bp = Blueprint("reports", __name__, template_folder="templates", static_folder="static/reports",
               static_url_path="/static/reports")


def parse_since(raw: str | None) -> dt.date | None:
    """The `since` query parameter as a date, or 422 naming it."""
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("since must be a date like 2026-01-31.",
                               {"since": [f"{raw!r} is not a valid date (YYYY-MM-DD)."]}) from None


def pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/dashboard")
@login_required
def dashboard():
    """The governance board's dashboard."""
    authorize(current_user, "dashboard.read")
    scope = oversight_scope(current_user)
    pf = report_data.portfolio(organization_ids=scope)
    covers = organizations.tops_of(scope)
    return render_template(
        "reports/dashboard.html",
        pf=pf,
        kpis=render.dashboard_kpis(pf),
        blocks=render.dashboard_blocks(pf),
        # Said only when the reader oversees part of the tree, not all of it.
        covers=[o.name for o in covers] if any(o.parent_id is not None for o in covers) else [],
    )


@bp.get("/pilots/<int:pilot_id>/report")
@login_required
def pilot_report(pilot_id: int):
    """Preview a pilot's accountability report in the browser."""
    authorize(current_user, "pilot.read")
    html, _ = render.pilot_report_html(catalog.get_pilot(pilot_id), preview=True)
    return html


@bp.get("/pilots/<int:pilot_id>/report.pdf")
@login_required
def pilot_report_pdf(pilot_id: int):
    """Download a pilot's accountability report as PDF."""
    authorize(current_user, "pilot.read")
    pilot = catalog.get_pilot(pilot_id)
    return pdf_response(render.pilot_report_pdf(pilot), f"accountability-report-{pilot.id}.pdf")


@bp.get("/reports/board-packet")
@login_required
def board_packet():
    """Preview the board packet."""
    authorize(current_user, "dashboard.read")
    return render.board_packet_html(parse_since(request.args.get("since")), preview=True,
                                   organization_ids=oversight_scope(current_user))


@bp.get("/reports/board-packet.pdf")
@login_required
def board_packet_pdf():
    """Download the board packet as PDF."""
    authorize(current_user, "dashboard.read")
    return pdf_response(render.board_packet_pdf(parse_since(request.args.get("since")),
                                                oversight_scope(current_user)), "board-packet.pdf")


@bp.get("/reports/board-packet.csv")
@login_required
def board_packet_csv():
    """Download the board packet's per-pilot table as CSV."""
    authorize(current_user, "dashboard.read")
    body = render.board_packet_csv(parse_since(request.args.get("since")), oversight_scope(current_user))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="board-packet.csv"'})
