"""Public pages read from stored published versions: a permalink per use case (with how many
concerns and incidents it had) and the inventory's history with its downloads."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request

from assessments import concerns
from registry.catalog import lifecycle, public_record
from registry.errors import NotFound
from reports import public_inventory
from reports.inventory_views import LABELS

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
