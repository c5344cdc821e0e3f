"""HTML pages for the catalog: the pilot list, a pilot's page, forms, and data sources."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from registry.auth import need_to_know
from registry.auth.permissions import authorize
from registry.catalog import service, vocabulary
from registry.catalog.schemas import DataSourceInputSchema, PilotInputSchema, PilotQuerySchema
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.web import (
    Confirmation,
    Pager,
    flatten_messages,
    form_to_payload,
    page_args,
    render_confirmation,
)

bp = Blueprint("catalog", __name__)

PILOT_TEXT_FIELDS = tuple(
    spec.key for spec in vocabulary.PILOT_FIELDS if spec.kind not in ("list", "ids", "emails")
)
SOURCE_TEXT_FIELDS = ("name", "description", "system_of_record", "provenance_url", "retention")
SOURCE_FLAGS = (
    "contains_pii",
    "contains_phi",
    "contains_criminal_justice",
    "contains_federal_tax",
    "contains_demographics",
)
FILTER_FIELDS = tuple(PilotQuerySchema().fields)


def _pilot_payload(*, editing: bool) -> dict[str, Any]:
    return form_to_payload(
        request.form,
        text_fields=PILOT_TEXT_FIELDS,
        list_fields=("demographic_features",),
        int_list_fields=("data_source_ids",),
        split_fields=("team_member_emails",),
        blank_is_none=editing,
    )


def _pilot_form_context(form: dict[str, Any], errors: dict[str, list[str]], pilot=None) -> dict:
    return {
        "form": form,
        "errors": errors,
        "pilot": pilot,
        "data_sources": service.all_data_sources(),
        "fields": vocabulary.FIELDS_BY_KEY,
        "choices": {
            "stage": vocabulary.Stage.choices(),
            "topic_area": vocabulary.TOPIC_AREAS,
            "classification": vocabulary.CLASSIFICATIONS,
            "contracting_usage": vocabulary.CONTRACTING_USAGE,
            "is_withheld": vocabulary.IsWithheld.choices(),
            "is_high_impact": vocabulary.IsHighImpact.choices(),
            "yes_no": vocabulary.YES_NO,
            "demographic_features": vocabulary.DEMOGRAPHIC_FEATURES,
        },
    }


def _pilot_as_form(pilot) -> dict[str, Any]:
    form = {
        key: getattr(pilot, vocabulary.FIELDS_BY_KEY[key].name, None) or ""
        for key in PILOT_TEXT_FIELDS
    }
    form["owner_email"] = pilot.owner_email
    form["demographic_features"] = list(pilot.demographic_features or [])
    form["data_source_ids"] = pilot.data_source_ids
    form["team_member_emails"] = "\n".join(pilot.team_member_emails)
    return form


def _form_echo(payload: dict[str, Any]) -> dict[str, Any]:
    form = {key: ("" if value is None else value) for key, value in payload.items()}
    form["team_member_emails"] = "\n".join(payload.get("team_member_emails") or [])
    return form


@bp.get("/pilots")
@login_required
def pilot_list():
    """List pilots with search, filters and pagination."""
    authorize(current_user, "pilot.read")
    raw = {key: value for key, value in request.args.items() if key in FILTER_FIELDS and value}
    errors = PilotQuerySchema().validate(raw)
    filters = {key: value for key, value in raw.items() if key not in errors}
    filters["visible_to"] = need_to_know.readable_pilot_ids_filter(current_user)
    page, size = page_args()
    pilots, total = service.page_of_pilots(filters, page=page, page_size=size)
    return render_template(
        "catalog/pilot_list.html",
        pilots=pilots,
        pager=Pager(page, size, total),
        filters=raw,
        filter_errors=flatten_messages(errors),
        vocabulary=vocabulary,
    )


@bp.route("/pilots/new", methods=["GET", "POST"])
@login_required
def pilot_new():
    """Register a pilot."""
    authorize(current_user, "pilot.create")
    if request.method == "GET":
        form = {
            "owner_email": current_user.email,
            "stage": vocabulary.Stage.PRE_DEPLOYMENT.value,
            "is_withheld": vocabulary.IsWithheld.NO.value,
        }
        return render_template("catalog/pilot_form.html", **_pilot_form_context(form, {}))
    payload = _pilot_payload(editing=False)
    try:
        data = PilotInputSchema().load(payload)
        pilot = service.create_pilot(data, current_user)
    except ValidationError as error:
        errors = {**service.reference_errors(payload), **flatten_messages(error.messages)}
    except ValidationFailed as error:
        errors = flatten_messages(error.errors)
    else:
        flash(f"Registered “{pilot.name}”.", "success")
        return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))
    return render_template(
        "catalog/pilot_form.html", **_pilot_form_context(_form_echo(payload), errors)
    ), 422


@bp.get("/pilots/<int:pilot_id>")
@login_required
def pilot_detail(pilot_id: int):
    """Show everything the registry knows about a pilot."""
    authorize(current_user, "pilot.read")
    return render_pilot_page(service.get_pilot(pilot_id))


def render_pilot_page(pilot, status: int = 200):
    """The pilot's page with every domain's panels. The forms embedded in it (evidence,
    decisions, comments, ...) answer refused input with this page, status 422 and the reasons
    flashed at its top, after rolling back whatever the refused request had touched."""
    if status >= 400:
        db.session.rollback()
    panels = [panel(pilot) for panel in current_app.extensions["registry"]["pilot_panels"]]
    return render_template(
        "catalog/pilot_detail.html",
        pilot=pilot,
        panels=[p for p in panels if p],
        approved_stage_label=vocabulary.ApprovedStage.label_of(pilot.approved_stage),
    ), status


@bp.route("/pilots/<int:pilot_id>/edit", methods=["GET", "POST"])
@login_required
def pilot_edit(pilot_id: int):
    """Edit a pilot's registration."""
    pilot = service.get_pilot(pilot_id)
    authorize(current_user, "pilot.update", pilot)
    if request.method == "GET":
        form = _pilot_as_form(pilot)
        form["version"] = pilot.version
        return render_template("catalog/pilot_form.html", **_pilot_form_context(form, {}, pilot))
    payload = _pilot_payload(editing=True)
    version = request.form.get("version", "")
    try:
        data = PilotInputSchema(partial=True).load(payload)
        service.update_pilot(
            pilot, data, current_user, expected_version=int(version) if version.isdigit() else None
        )
    except ValidationError as error:
        errors = flatten_messages(error.messages)
    except ValidationFailed as error:
        errors = flatten_messages(error.errors)
    else:
        flash("Saved your changes.", "success")
        return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))
    form = _form_echo(payload)
    form["version"] = version
    return render_template(
        "catalog/pilot_form.html", **_pilot_form_context(form, errors, pilot)
    ), 422


@bp.route("/pilots/<int:pilot_id>/delete", methods=["GET", "POST"])
@login_required
def pilot_delete(pilot_id: int):
    """Delete a draft pilot, after a confirmation page (GET)."""
    pilot = service.get_pilot(pilot_id)
    if request.method == "GET":
        authorize(current_user, "pilot.delete", pilot)
        if pilot.review_status != vocabulary.ReviewStatus.DRAFT:
            flash("Only a draft can be deleted.", "info")
            return redirect(url_for("catalog.pilot_detail", pilot_id=pilot.id))
        return render_confirmation(
            Confirmation(
                title=f"Delete “{pilot.name}”?",
                lead="The draft and everything attached to it (evidence, assessments, bias checks) are deleted.",
                action=url_for("catalog.pilot_delete", pilot_id=pilot.id),
                button="Yes, delete this draft",
                cancel=url_for("catalog.pilot_detail", pilot_id=pilot.id),
                cancel_text="No, keep it",
            )
        )
    name = pilot.name
    service.delete_pilot(pilot, current_user)
    flash(f"Deleted “{name}”.", "success")
    return redirect(url_for("catalog.pilot_list"))


@bp.get("/data-sources")
@login_required
def data_source_list():
    """List the data sources and their sensitivity."""
    authorize(current_user, "data_source.read")
    page, size = page_args()
    filters = {"q": request.args.get("q", ""), "sensitive": request.args.get("sensitive") == "1"}
    sources, total = service.page_of_data_sources(filters, page=page, page_size=size)
    return render_template(
        "catalog/data_source_list.html",
        sources=sources,
        pager=Pager(page, size, total),
        filters=filters,
    )


def _source_payload(editing: bool) -> dict[str, Any]:
    return form_to_payload(
        request.form,
        text_fields=SOURCE_TEXT_FIELDS,
        bool_fields=SOURCE_FLAGS,
        blank_is_none=editing,
    )


@bp.route("/data-sources/new", methods=["GET", "POST"])
@login_required
def data_source_new():
    """Register a data source."""
    authorize(current_user, "data_source.create")
    if request.method == "GET":
        return render_template("catalog/data_source_form.html", form={}, errors={}, source=None)
    payload = _source_payload(editing=False)
    try:
        source = service.create_data_source(DataSourceInputSchema().load(payload), current_user)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
    except ValidationFailed as error:
        errors = flatten_messages(error.errors)
    else:
        flash(f"Registered data source “{source.name}”.", "success")
        return redirect(url_for("catalog.data_source_list"))
    return render_template(
        "catalog/data_source_form.html", form=payload, errors=errors, source=None
    ), 422


@bp.route("/data-sources/<int:source_id>/edit", methods=["GET", "POST"])
@login_required
def data_source_edit(source_id: int):
    """Edit a data source."""
    source = service.get_data_source(source_id)
    authorize(current_user, "data_source.update", source)
    if request.method == "GET":
        form = {field: getattr(source, field) or "" for field in SOURCE_TEXT_FIELDS}
        form.update({flag: getattr(source, flag) for flag in SOURCE_FLAGS})
        form["version"] = source.version
        return render_template("catalog/data_source_form.html", form=form, errors={}, source=source)
    payload = _source_payload(editing=True)
    version = request.form.get("version", "")
    try:
        service.update_data_source(
            source,
            DataSourceInputSchema(partial=True).load(payload),
            current_user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except ValidationError as error:
        errors = flatten_messages(error.messages)
    except ValidationFailed as error:
        errors = flatten_messages(error.errors)
    else:
        flash(f"Saved data source “{source.name}”.", "success")
        return redirect(url_for("catalog.data_source_list"))
    payload["version"] = version
    return render_template(
        "catalog/data_source_form.html", form=payload, errors=errors, source=source
    ), 422
