"""The public inventory page (no sign-in) and the administrators' inventory import page."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required

from registry.auth import organizations
from registry.auth.permissions import authorize
from registry.catalog import vocabulary
from registry.request_limits import upload_route
from registry.web import Pager, page_args
from reports import inventory

bp = Blueprint("inventory", __name__, template_folder="templates")

LABELS = {
    "agency": "Agency",
    "agency_name": "Agency name",
    "id": "Use case ID",
    "use_case_name": "Use case name",
    "agency_bureau": "Bureau or office",
    "contact_email": "Contact",
    "is_withheld": "Withheld",
    "development_stage": "Development stage",
    "is_high_impact": "High-impact",
    "HI_justification": "High-impact justification",
    "topic_area": "Topic area",
    "classification": "AI classification",
    "problem_solved": "Problem solved",
    "benefits": "Benefits",
    "system_outputs": "System outputs",
    "operational_date": "Operational date",
    "contracting_usage": "Contracting",
    "vendor_name": "Vendor",
    "have_ato": "Has an ATO",
    "system_name_ato": "System with the ATO",
    "data_description": "Data description",
    "link_to_data": "Link to data",
    "has_pii": "Uses PII",
    "pia_url": "Privacy impact assessment",
    "demographic_features": "Demographic features",
    "has_custom_code": "Custom code",
    "code_url": "Code",
    "hi_testing_conducted": "Testing conducted",
    "hi_assessment_completed": "Impact assessment completed",
    "hi_potential_impacts": "Potential impacts",
    "hi_independent_review": "Independent review",
    "hi_ongoing_monitoring": "Ongoing monitoring",
    "hi_training_established": "Training established",
    "hi_failsafe_presence": "Fail-safe",
    "hi_appeal_process": "Appeal process",
    "hi_public_consultation": "Public consultation",
}


def _filters() -> tuple[dict[str, str], dict[str, str]]:
    """The filters asked for that make sense, and why the others were ignored."""
    raw = {
        key: value.strip()
        for key, value in request.args.items()
        if key in inventory.FILTERS and value.strip()
    }
    allowed = {
        "development_stage": tuple(vocabulary.STAGE_TO_OMB.values()),
        "is_high_impact": vocabulary.IS_HIGH_IMPACT,
    }
    errors = {}
    for key, choices in allowed.items():
        if key in raw and raw[key] not in choices:
            errors[key] = f"{raw[key]!r} is not one of {', '.join(choices)}."
    if len(raw.get("q", "")) > 200:
        errors["q"] = "The search is longer than 200 characters."
    return {k: v for k, v in raw.items() if k not in errors}, errors


def agency_pages() -> dict[str, str]:
    """The address of each organisation's public page, by its code and by its name in lower
    case: an agency as published (its abbreviation, or else its name) links to its page."""
    pages: dict[str, str] = {}
    for organization in organizations.list_organizations():
        url = url_for("public.agency_page", code=organization.code)
        pages.setdefault(organization.name.lower(), url)
        pages[organization.code.lower()] = url
    return pages


@bp.get("/inventory")
def inventory_page():
    """The public AI use-case inventory: search, filters and pages that keep them."""
    filters, errors = _filters()
    chosen = organizations.by_code(filters["agency"]) if filters.get("agency") else None
    page, size = page_args()
    total = inventory.count_rows(filters)
    rows = list(inventory.export_rows(filters, page=page, page_size=size))
    return render_template(
        "reports/inventory.html",
        rows=rows,
        pager=Pager(page, size, total),
        filters=filters,
        filter_errors=errors,
        columns=inventory.COLUMNS,
        labels=LABELS,
        agencies=inventory.agencies(),
        topic_areas=inventory.topic_areas(),
        stages=tuple(vocabulary.STAGE_TO_OMB.values()),
        impacts=vocabulary.IS_HIGH_IMPACT,
        agency_pages=agency_pages(),
        agency_page={"name": chosen.name, "url": url_for("public.agency_page", code=chosen.code)}
        if chosen is not None
        else None,
    )


@bp.route("/admin/inventory/import", methods=["GET", "POST"])
@upload_route("MAX_INVENTORY_IMPORT_BYTES", action="inventory.import")
@login_required
def inventory_import():
    """Upload an OMB 2025 inventory CSV; show what was created, updated and rejected."""
    authorize(current_user, "inventory.import")
    if request.method == "GET":
        return render_template("reports/inventory_import.html", result=None, errors={})
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        errors = {"file": ["Choose the inventory CSV file to import."]}
        return render_template("reports/inventory_import.html", result=None, errors=errors), 422
    try:
        text = inventory.decode(upload.read())
        result = inventory.import_inventory(text, current_user, source=upload.filename)
    except inventory.InventoryFileError as error:
        return render_template(
            "reports/inventory_import.html", result=None, errors=error.errors
        ), 422
    return render_template(
        "reports/inventory_import.html", result=result, errors={}, filename=upload.filename
    )
