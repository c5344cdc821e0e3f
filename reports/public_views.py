"""Public pages read from stored published versions: a permalink per use case (with how many
concerns and incidents it had), a page per agency, bureau or office, and the inventory's
history with its downloads."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request

from assessments import concerns
from registry.auth import organizations
from registry.catalog import lifecycle, public_record
from registry.errors import NotFound
from registry.web import Pager, page_args
from reports import public_inventory
from reports.inventory_views import LABELS, agency_pages

bp = Blueprint("public", __name__, template_folder="templates")


@bp.get("/inventory/history")
def history_page():
    """The published history of the inventory: downloads, and changes between two dates."""
    today = dt.datetime.now(dt.UTC).date()
    day_from = _date(request.args.get("from")) or today.replace(month=1, day=1)
    day_to = _date(request.args.get("to")) or today
    if day_from > day_to:
        day_from, day_to = day_to, day_from
    return render_template(
        "reports/public_history.html",
        day_from=day_from,
        day_to=day_to,
        changes=public_inventory.diff(day_from, day_to),
        waivers=public_inventory.waivers(),
    )


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/inventory/<use_case_id>")
def use_case(use_case_id: str):
    """One use case's public record at a permanent address, with its versions."""
    version = public_inventory.current(use_case_id)
    if version is None:
        raise NotFound(
            f"There is no published AI use case with the ID {use_case_id[:64]}. It may be "
            "withheld from the public inventory, or the ID may be mistyped."
        )
    row = version.row
    facts = [
        {
            "label": LABELS.get(column, column),
            "value": row[column],
            "withheld": row[column] == public_record.WITHHELD,
            "reason": version.withheld.get(column),
        }
        for column in public_record.COLUMNS
        if row.get(column) and column not in ("agency", "id", "use_case_name")
    ]
    return render_template(
        "reports/public_use_case.html",
        version=version,
        row=row,
        facts=facts,
        counts=concerns.public_counts(version.pilot_id) if version.pilot_id else None,
        versions=public_inventory.versions_of(use_case_id),
        label=lifecycle.public_record_label,
    )


@bp.get("/agencies/<code>")
def agency_page(code: str):
    """An agency's, bureau's or office's public use cases, with its bureaus and offices."""
    organization = organizations.by_code(code[:40])
    if organization is None:
        raise NotFound(
            f"There is no agency, bureau or office with the code {code[:40]}. Find it in the "
            "inventory's list of agencies."
        )
    filters = {"agency": organization.code}
    page, size = page_args()
    total = public_inventory.count_rows(filters)
    children = []
    for branch in organizations.children_of(organization):
        count = public_inventory.count_rows({"agency": branch.code})
        # An office with nothing published is left out: the public page lists what is public.
        if count:
            children.append({"organization": branch, "count": count})
    return render_template(
        "reports/agency.html",
        organization=organization,
        path=organizations.path_to(organization)[:-1],
        rows=list(public_inventory.export_rows(filters, page=page, page_size=size)),
        pager=Pager(page, size, total),
        children=children,
        agency_pages=agency_pages(),
    )
