"""Public-trust pages: the public's concern form and status page, and the staff pages for
the concerns queue, incidents, the risk register and a use case's public record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from assessments import concern_guard, concerns, incidents, publishing, risks
from registry.auth import need_to_know
from registry.auth.permissions import authorize, can
from registry.catalog import public_record
from registry.catalog import service as catalog
from registry.catalog.vocabulary import (
    HARM_CATEGORIES,
    RISK_CATEGORIES,
    WITHHOLDING_REASONS,
    ConcernStatus,
    IncidentSeverity,
    IncidentStatus,
)
from registry.errors import ValidationFailed
from registry.web import Confirmation, Pager, page_args, posted_fields, render_confirmation

bp = Blueprint("trust", __name__, template_folder="templates")


# ---- the public ---------------------------------------------------------------------------------


def _concern_page(version, form: dict[str, str], errors: dict, status: int = 200, wait=None):
    return (
        render_template(
            "assessments/concern_form.html",
            version=version,
            form=form,
            errors=errors,
            challenge=form.get("challenge") or concern_guard.guard().challenge(),
            bits=current_app.config.get("CONCERN_POW_BITS", 14),
            wait=wait,
            honeypot=concern_guard.HONEYPOT_FIELD,
        ),
        status,
    )


@bp.route("/inventory/<use_case_id>/concern", methods=["GET", "POST"])
def concern_form(use_case_id: str):
    """Report a concern about a published use case; no account needed, contact optional."""
    version = concerns.published_use_case(use_case_id)
    if version is None:
        from registry.errors import NotFound

        raise NotFound(f"There is no published AI use case with the ID {use_case_id[:64]}.")
    if request.method == "GET":
        return _concern_page(version, {}, {})
    form = {key: request.form.get(key, "") for key in ("description", "contact_email")}
    guard = concern_guard.guard()
    guard.count(request.remote_addr)
    try:
        if request.form.get(concern_guard.HONEYPOT_FIELD):
            raise ValidationFailed(
                "The report looks automated and was not sent.",
                {"description": ["The report looks automated and was not sent."]},
            )
        errors = concerns.check_report({**form, "use_case_id": use_case_id})
        if errors:
            raise ValidationFailed("The concern could not be sent.", errors)
        guard.check(request.form.get("challenge"), request.form.get("proof"))
    except concern_guard.NotYet as error:
        form["challenge"] = request.form.get("challenge", "")
        return _concern_page(version, form, {}, 422, wait=error.message)
    except ValidationFailed as error:
        return _concern_page(version, form, error.errors, 422)
    concern = concerns.submit({**form, "use_case_id": use_case_id})
    return redirect(url_for("trust.concern_status", reference=concern.reference, sent=1))


@bp.get("/public/concerns/<reference>")
def concern_status(reference: str):
    """A concern's status and the agency's public response, by its reference."""
    status = concerns.public_status(concerns.by_reference(reference))
    return render_template(
        "assessments/concern_status.html", status=status, sent=bool(request.args.get("sent"))
    )


# ---- the CAIO office's concerns queue ---------------------------------------------------------


@bp.get("/concerns")
@login_required
def concern_queue():
    """New concerns first, with the first-response clock."""
    page, size = page_args()
    status = (
        request.args.get("status") if request.args.get("status") in ConcernStatus.values() else None
    )
    pilot = _pilot_filter()
    overdue = request.args.get("overdue") == "1"
    items, total = concerns.queue(
        current_user,
        {"status": status, "pilot_id": pilot.id if pilot else None, "overdue": overdue},
        page=page,
        page_size=size,
    )
    return render_template(
        "assessments/concern_queue.html",
        items=items,
        pager=Pager(page, size, total),
        today=dt.datetime.now(dt.UTC).date(),
        statuses=ConcernStatus.choices(),
        status=status,
        pilot=pilot,
        overdue=overdue,
    )


def _pilot_filter():
    """The pilot named by the ``pilot_id`` query parameter (404 if there is none), or None."""
    raw = request.args.get("pilot_id", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed(
            "pilot_id must be a pilot's number.", {"pilot_id": [f"{raw!r} is not a number."]}
        )
    return catalog.get_pilot(int(raw))


@bp.get("/concerns/<int:concern_id>")
@login_required
def concern_detail(concern_id: int):
    authorize(current_user, "concern.read")
    return _concern_detail(concerns.get_concern(concern_id), {}, {})


def _concern_detail(concern, form: dict, errors: dict, status: int = 200):
    return (
        render_template(
            "assessments/concern_detail.html",
            concern=concern,
            form=form,
            errors=errors,
            severities=IncidentSeverity.choices(),
            today=dt.datetime.now(dt.UTC).date(),
            pilot=catalog.get_pilot(concern.pilot_id),
        ),
        status,
    )


@bp.post("/concerns/<int:concern_id>/triage")
@login_required
def concern_triage(concern_id: int):
    authorize(current_user, "concern.triage")
    concern = concerns.get_concern(concern_id)
    form = request.form.to_dict()
    data: dict[str, Any] = {key: form.get(key) for key in ("action", "response", "reason", "into")}
    if form.get("action") == "open_incident":
        data["incident"] = {
            "severity": form.get("severity") or None,
            "title": form.get("title") or None,
        }
    try:
        concerns.triage(concern, data, current_user)
    except ValidationFailed as error:
        return _concern_detail(concern, form, error.errors, 422)
    flash("The concern was updated; the submitter is told if they left an address.", "success")
    return redirect(url_for("trust.concern_detail", concern_id=concern.id))


# ---- incidents ------------------------------------------------------------------------------------


@bp.get("/incidents")
@login_required
def incident_list():
    authorize(current_user, "incident.read")
    page, size = page_args()
    pilot = _pilot_filter()
    visible_to = need_to_know.readable_pilot_ids_filter(current_user)
    items, total = incidents.page_of_incidents(
        {"pilot_id": pilot.id if pilot else None, "visible_to": visible_to},
        page=page,
        page_size=size,
    )
    return render_template(
        "assessments/incidents.html",
        items=items,
        pager=Pager(page, size, total),
        pilot=pilot,
        can_open=bool(pilot) and can(current_user, "incident.open", pilot),
    )


def trust_panel(pilot) -> dict[str, Any]:
    """The pilot page's short list of links to its incidents, risk register and concerns."""
    pilot_incidents = incidents.for_pilot(pilot)
    pilot_concerns = concerns.for_pilot(pilot)
    return {
        "template": "assessments/trust_panel.html",
        "incidents": len(pilot_incidents),
        "open_incidents": sum(1 for i in pilot_incidents if not IncidentStatus(i.status).is_closed),
        "risks": len(risks.for_pilot(pilot)),
        "concerns": len(pilot_concerns),
        "new_concerns": sum(1 for c in pilot_concerns if c.status == ConcernStatus.NEW.value),
        "can_read_concerns": can(current_user, "concern.read", pilot),
    }


@bp.route("/pilots/<int:pilot_id>/incidents/new", methods=["GET", "POST"])
@login_required
def incident_new(pilot_id: int):
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "incident.open", pilot)
    form = request.form.to_dict() if request.method == "POST" else {}
    errors: dict = {}
    if request.method == "POST":
        data = {
            "pilot_id": pilot.id,
            "title": form.get("title"),
            "description": form.get("description"),
            "severity": form.get("severity")
            if form.get("severity") in IncidentSeverity.values()
            else None,
            "harm_categories": request.form.getlist("harm_categories"),
            "affected_groups": [
                g.strip() for g in form.get("affected_groups", "").split(",") if g.strip()
            ],
        }
        if not data["severity"]:
            errors = {"severity": ["Choose a severity."]}
        else:
            try:
                incident = incidents.open_incident(data, current_user)
                return redirect(url_for("trust.incident_detail", incident_id=incident.id))
            except ValidationFailed as error:
                errors = error.errors
    return (
        render_template(
            "assessments/incident_form.html",
            pilot=pilot,
            form=form,
            errors=errors,
            severities=IncidentSeverity.choices(),
            harms=HARM_CATEGORIES,
        ),
        422 if errors else 200,
    )


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
@login_required
def incident_detail(incident_id: int):
    authorize(current_user, "incident.read")
    incident = incidents.get_incident(incident_id)
    pilot = catalog.get_pilot(incident.pilot_id)
    errors: dict = {}
    if request.method == "POST":
        form = request.form.to_dict()
        data = {
            key: form[key]
            for key in ("status", "resolution", "acceptance_justification")
            if form.get(key)
        }
        try:
            incidents.update_incident(incident, data, current_user)
            flash("The incident was updated.", "success")
            return redirect(url_for("trust.incident_detail", incident_id=incident.id))
        except ValidationFailed as error:
            errors = error.errors
    return (
        render_template(
            "assessments/incident_detail.html",
            incident=incident,
            pilot=pilot,
            errors=errors,
            statuses=IncidentStatus.choices(),
            can_update=can(current_user, "incident.update", pilot),
        ),
        422 if errors else 200,
    )


# ---- the risk register ----------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return -1


@bp.route("/pilots/<int:pilot_id>/risks", methods=["GET", "POST"])
@login_required
def risk_register(pilot_id: int):
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "pilot.read")
    form = request.form.to_dict() if request.method == "POST" else {}
    errors: dict = {}
    if request.method == "POST":
        data = {
            "category": form.get("category"),
            "description": form.get("description"),
            "likelihood": _int(form.get("likelihood")),
            "severity": _int(form.get("severity")),
            "residual_likelihood": _int(form.get("residual_likelihood")),
            "residual_severity": _int(form.get("residual_severity")),
            "mitigation": form.get("mitigation"),
            "review_date": dt.date.fromisoformat(form["review_date"])
            if form.get("review_date")
            else None,
        }
        try:
            risks.add_risk(pilot, data, current_user)
            flash("The risk was added to the register.", "success")
            return redirect(url_for("trust.risk_register", pilot_id=pilot.id))
        except ValidationFailed as error:
            errors = error.errors
    return (
        render_template(
            "assessments/risks.html",
            pilot=pilot,
            risks=risks.for_pilot(pilot),
            form=form,
            errors=errors,
            categories=RISK_CATEGORIES,
            levels=range(1, 6),
            can_edit=can(current_user, "risk.manage", pilot),
        ),
        422 if errors else 200,
    )


# ---- the public record ----------------------------------------------------------------------------


@bp.route("/pilots/<int:pilot_id>/publication", methods=["GET", "POST"])
@login_required
def publication(pilot_id: int):
    """The public record: withheld fields, ready, publish, retract, and the checks."""
    pilot = catalog.get_pilot(pilot_id)
    authorize(current_user, "pilot.read")
    errors: dict = {}
    if request.method == "POST":
        action = request.form.get("action")
        if (
            action == "retract"
            and request.form.get("confirmed") != "yes"
            and (request.form.get("reason") or "").strip()
        ):
            return render_confirmation(
                Confirmation(
                    title=f"Retract the public record of “{pilot.name}”?",
                    lead="The use case leaves the public inventory; the public sees your "
                    "reason on its history page.",
                    details=(f"Public reason: {request.form['reason'].strip()}",),
                    action=url_for("trust.publication", pilot_id=pilot.id),
                    button="Yes, retract it",
                    cancel=url_for("trust.publication", pilot_id=pilot.id),
                    cancel_text="No, keep it published",
                    irreversible=False,
                    fields=posted_fields(),
                )
            )
        try:
            if action == "withhold":
                fields = request.form.getlist("withheld_fields")
                reasons = {
                    name: request.form.get(f"reason_{name}") or WITHHOLDING_REASONS[0]
                    for name in fields
                }
                catalog.update_pilot(
                    pilot, {"withheld_fields": fields, "withheld_reasons": reasons}, current_user
                )
            elif action == "ready":
                publishing.mark_ready(pilot, current_user)
            elif action == "publish":
                publishing.publish(pilot, current_user)
            elif action == "retract":
                publishing.retract(pilot, current_user, request.form.get("reason") or "")
            flash("The public record was updated.", "success")
            return redirect(url_for("trust.publication", pilot_id=pilot.id))
        except ValidationFailed as error:
            errors = error.errors
        except Exception as error:  # noqa: BLE001 - a conflict is shown on the page itself
            from registry.errors import Conflict

            if not isinstance(error, Conflict):
                raise
            errors = error.errors or {"publication_state": [error.message]}
    columns = sorted(
        {column for column in public_record.WITHHOLDABLE.values()},
        key=public_record.COLUMNS.index,
    )
    return (
        render_template(
            "assessments/publication.html",
            pilot=pilot,
            errors=errors,
            versions=publishing.versions_for(pilot),
            checks=publishing.checks(pilot),
            unpublished=publishing.unpublished_changes(pilot),
            columns=columns,
            reasons=WITHHOLDING_REASONS,
            may_publish=publishing.may_publish(current_user),
            can_edit=can(current_user, "pilot.update", pilot),
        ),
        409 if errors and "publication_state" in errors else (422 if errors else 200),
    )
