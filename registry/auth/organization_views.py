"""Administration pages for organisations: the tree, adding, renaming and moving."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from registry.auth import organizations
from registry.auth.forms import FIELD_LABELS, OrganizationEditForm, OrganizationForm, errors_of
from registry.auth.models import Organization
from registry.auth.permissions import authorize, can
from registry.errors import ValidationFailed

bp = Blueprint("organizations", __name__)


def _parent_choices(exclude: set[int] = frozenset()) -> list[tuple[str, str]]:
    """The organisations the signed-in administrator may add under, indented as in the tree."""
    return [
        (str(branch.organization.id), "\u2003" * branch.depth + branch.organization.name)
        for branch in organizations.flatten(organizations.tree())
        if branch.organization.id not in exclude
        and can(current_user, "organization.create", branch.organization)
    ]


def _form_page(template: str, form, errors, status: int, **context):
    values = {name: ("" if field.data is None else str(field.data)) for name, field in
              form._fields.items()}
    return render_template(
        template, form=form, values=values, errors=errors, labels=FIELD_LABELS, **context
    ), status


def _save(form, save, done: str, **context):
    """Save a posted form and go back to the tree saying so, or show it again, 422, with each
    error beside its field (the service's as well as the form's)."""
    errors: dict[str, list[str]] = errors_of(form) if not form.validate() else {}
    if not errors:
        try:
            name = save(form.payload())
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(f"{done} {name}.", "success")
            return redirect(url_for("organizations.organization_tree"))
    return _form_page("auth/organization_form.html", form, errors, 422, **context)


@bp.get("/admin/organizations")
@login_required
def organization_tree():
    """Show the agency with its bureaus and offices, and what the administrator may change."""
    authorize(current_user, "organization.update")
    tree = organizations.tree()
    branches = organizations.flatten(tree)
    return render_template(
        "auth/organizations.html",
        tree=tree,
        editable={b.organization.id for b in branches
                  if can(current_user, "organization.update", b.organization)},
        addable={b.organization.id for b in branches
                 if can(current_user, "organization.create", b.organization)},
    )


@bp.route("/admin/organizations/new", methods=["GET", "POST"])
@login_required
def organization_new():
    """Add a bureau or office under an organisation the administrator administers."""
    authorize(current_user, "organization.update")
    form = OrganizationForm()
    choices = _parent_choices()
    if request.method == "GET":
        wanted = request.args.get("parent", "")
        if wanted.isdigit():
            authorize(current_user, "organization.create",
                      organizations.get_organization(int(wanted)))
            form.parent_id.data = wanted
        return _form_page(
            "auth/organization_form.html", form, {}, 200, organization=None, choices=choices
        )
    return _save(
        form,
        lambda payload: organizations.create_organization(payload, current_user).name,
        "Added",
        organization=None,
        choices=choices,
    )


@bp.route("/admin/organizations/<int:organization_id>/edit", methods=["GET", "POST"])
@login_required
def organization_edit(organization_id: int):
    """Rename an organisation, or move it under another parent."""
    organization: Organization = organizations.get_organization(organization_id)
    authorize(current_user, "organization.update", organization)
    form = OrganizationEditForm(
        data={"name": organization.name, "parent_id": organization.parent_id or ""}
        if request.method == "GET" else None
    )
    # Not under itself, nor under one of its own bureaus and offices (that would be a loop).
    context = {
        "organization": organization,
        "is_root": organization.parent_id is None,
        "choices": _parent_choices(organizations.subtree_ids([organization.id])),
    }
    if request.method == "GET":
        return _form_page("auth/organization_form.html", form, {}, 200, **context)
    return _save(
        form,
        lambda payload: organizations.update_organization(
            organization, payload, current_user
        ).name,
        "Saved",
        **context,
    )
