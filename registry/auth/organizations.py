"""Organisations: the tree of agency, bureaus and offices, and the scope a role reaches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from registry import audit
from registry.auth.models import Organization, User
from registry.auth.permissions import authorize
from registry.auth.scopes import home_of, in_scope, root, scope_ids, subtree_ids
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
ORGANIZATION_AUDIT_FIELDS = ("name", "code", "parent_id")
__all__ = ["home_of", "in_scope", "root", "scope_ids", "subtree_ids"]


def list_organizations() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.id)))


def get_organization(organization_id: int) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organization {organization_id}.")
    return organization


def by_code(code: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.code == code.strip()))


def create_organization(data: Mapping[str, Any], actor: User | None) -> Organization:
    """Add a bureau or office under a parent; `actor` None is the command line."""
    errors: dict[str, list[str]] = {}
    name = (data.get("name") or "").strip()
    code = (data.get("code") or "").strip()
    parent_id = data.get("parent_id")
    if not name:
        errors["name"] = ["Enter the organisation's name."]
    elif len(name) > 200:
        errors["name"] = ["Use at most 200 characters."]
    if not CODE_PATTERN.match(code):
        errors["code"] = [
            "Use 1 to 40 letters, digits, dots, dashes or underscores, starting with a letter "
            "or digit."
        ]
    elif by_code(code) is not None:
        errors["code"] = [f"An organisation with the code {code} already exists."]
    parent = None
    if parent_id is None:
        if db.session.scalar(select(Organization.id).where(Organization.parent_id.is_(None))):
            errors["parent_id"] = [
                "Name the parent organisation: there is one root, and every other "
                "organisation sits under it."
            ]
    else:
        parent = db.session.get(Organization, parent_id)
        if parent is None:
            errors["parent_id"] = [f"There is no organization {parent_id}."]
    if errors:
        raise ValidationFailed("The organisation could not be saved.", errors)
    if actor is not None:
        authorize(actor, "organization.create", parent)
    organization = Organization(name=name, code=code, parent_id=parent_id)
    db.session.add(organization)
    db.session.flush()
    audit.record_change(
        actor,
        "create",
        "organization",
        organization.id,
        None,
        audit.snapshot(organization, ORGANIZATION_AUDIT_FIELDS),
    )
    db.session.commit()
    return organization


def resolve(value: int | str | None, field: str) -> Organization:
    """An organisation given by id or code (None: the root), or 422 naming the field."""
    if value is None or value == "":
        return root()
    organization = None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        organization = db.session.get(Organization, int(value))
    if organization is None and isinstance(value, str):
        organization = by_code(value)
    if organization is None:
        raise ValidationFailed(
            "The organisation does not exist.", {field: [f"There is no organization {value!r}."]}
        )
    return organization
