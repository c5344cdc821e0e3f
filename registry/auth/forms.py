"""Flask-WTF forms of the administration pages: organisations and role assignments.

The forms decode and check the shape of what was posted (a name is there, a choice is a
number); the pages list the choices themselves, and the fields hold none (a choice outside
the list must reach the service, which says 403 or names the field); the rules (a unique code, no loop in the tree, who may act where) stay in the
services, whose errors come back on the same fields.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from registry.auth.models import ROLE_LABELS, ROLES

# The words for each field, in the form and in the list of problems above it.
FIELD_LABELS = {
    "name": "Name",
    "code": "Code",
    "parent_id": "Sits under",
    "role": "Role",
    "organization_id": "Organisation",
}


def _chosen_id(message: str):
    def check(_form: FlaskForm, field: Any) -> None:
        if not str(field.data or "").isdigit():
            raise ValidationError(message)

    return check


class OrganizationForm(FlaskForm):
    """Add an organisation under a parent."""

    name = StringField(
        FIELD_LABELS["name"],
        validators=[
            DataRequired("Enter the organisation's name."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    code = StringField(
        FIELD_LABELS["code"],
        validators=[
            DataRequired("Enter a short code, such as BUR-A."),
            Length(max=40, message="Use at most 40 characters."),
        ],
    )
    parent_id = SelectField(
        FIELD_LABELS["parent_id"],
        validate_choice=False,
        validators=[_chosen_id("Choose the organisation it sits under.")],
    )

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.name.data,
            "code": self.code.data,
            "parent_id": int(self.parent_id.data),
        }


class OrganizationEditForm(FlaskForm):
    """Rename an organisation or move it under another parent."""

    name = StringField(
        FIELD_LABELS["name"],
        validators=[
            DataRequired("Enter the organisation's name."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    # Empty only for the root, which stays where it is.
    parent_id = SelectField(FIELD_LABELS["parent_id"], validate_choice=False)

    def validate_parent_id(self, field: Any) -> None:
        if field.data not in (None, "") and not str(field.data).isdigit():
            raise ValidationError("Choose the organisation it sits under.")

    def payload(self) -> dict[str, Any]:
        raw = self.parent_id.data
        return {"name": self.name.data, "parent_id": int(raw) if raw else None}


class RoleAssignmentForm(FlaskForm):
    """Give a user a role in an organisation (and everything under it)."""

    role = SelectField(FIELD_LABELS["role"], validate_choice=False)
    organization_id = SelectField(
        FIELD_LABELS["organization_id"],
        validate_choice=False,
        validators=[_chosen_id("Choose the organisation the role reaches.")],
    )

    def validate_role(self, field: Any) -> None:
        if field.data not in ROLES:
            raise ValidationError(
                f"Choose one of: {', '.join(ROLE_LABELS[role] for role in ROLES)}."
            )

    def payload(self) -> dict[str, Any]:
        return {"role": self.role.data, "organization_id": int(self.organization_id.data)}


def errors_of(form: FlaskForm) -> dict[str, list[str]]:
    """The form's problems, one list of messages per field (CSRF problems under `form`)."""
    errors = {name: list(messages) for name, messages in form.errors.items()}
    if "csrf_token" in errors:
        errors["form"] = ["The form expired. Reload the page and try again."]
        del errors["csrf_token"]
    return errors


def role_choices() -> list[tuple[str, str]]:
    return [(role, ROLE_LABELS[role]) for role in ROLES]
