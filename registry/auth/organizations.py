"""Organisations: the tree of agency, bureaus and offices, and the scope a role reaches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    _check_name(name, errors)
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


def _check_name(name: str, errors: dict[str, list[str]]) -> None:
    if not name:
        errors["name"] = ["Enter the organisation's name."]
    elif len(name) > 200:
        errors["name"] = ["Use at most 200 characters."]


def update_organization(
    organization: Organization, data: Mapping[str, Any], actor: User | None
) -> Organization:
    """Rename an organisation or move it under another parent (never under itself or one of
    its own bureaus and offices); `actor` None is the command line. The code never changes:
    role maps, sign-in and public addresses use it."""
    if actor is not None:
        authorize(actor, "organization.update", organization)
    errors: dict[str, list[str]] = {}
    name = (data.get("name") or "").strip() if "name" in data else organization.name
    _check_name(name, errors)
    parent_id = data.get("parent_id", organization.parent_id)
    parent = None
    if organization.parent_id is None:
        if parent_id is not None:
            errors["parent_id"] = [
                "The root organisation stays at the top of the tree: it cannot be moved."
            ]
    elif parent_id is None:
        errors["parent_id"] = ["Choose the organisation it sits under."]
    else:
        parent = db.session.get(Organization, parent_id)
        if parent is None:
            errors["parent_id"] = [f"There is no organization {parent_id}."]
        elif parent.id == organization.id:
            errors["parent_id"] = ["An organisation cannot sit under itself."]
        elif parent.id in subtree_ids([organization.id]):
            errors["parent_id"] = [
                f"{parent.name} is inside {organization.name}: moving {organization.name} "
                "under it would make a loop. Choose an organisation outside it."
            ]
    if errors:
        raise ValidationFailed("The organisation could not be saved.", errors)
    if actor is not None and parent is not None and parent.id != organization.parent_id:
        # Moving needs the right to add under the new parent as well.
        authorize(actor, "organization.create", parent)
    before = audit.snapshot(organization, ORGANIZATION_AUDIT_FIELDS)
    organization.name = name
    organization.parent_id = parent.id if parent is not None else organization.parent_id
    changes = audit.service.diff(before, audit.snapshot(organization, ORGANIZATION_AUDIT_FIELDS))
    if changes:
        db.session.flush()
        audit.record(actor, "update", "organization", organization.id, changes)
    db.session.commit()
    return organization


@dataclass
class Branch:
    """An organisation with the branches under it, for showing the tree."""

    organization: Organization
    depth: int
    children: list[Branch] = field(default_factory=list)


def tree() -> list[Branch]:
    """The organisations as a tree (normally one root), children by name."""
    every = list_organizations()
    by_parent: dict[int | None, list[Organization]] = {}
    for organization in every:
        by_parent.setdefault(organization.parent_id, []).append(organization)

    def grow(organization: Organization, depth: int) -> Branch:
        below = sorted(by_parent.get(organization.id, []), key=lambda o: o.name.lower())
        return Branch(organization, depth, [grow(child, depth + 1) for child in below])

    return [grow(top, 0) for top in by_parent.get(None, [])]


def flatten(branches: list[Branch]) -> list[Branch]:
    """The tree in reading order (a parent before its children)."""
    found: list[Branch] = []
    for branch in branches:
        found.append(branch)
        found.extend(flatten(branch.children))
    return found


def children_of(organization: Organization) -> list[Organization]:
    """The organisations directly under this one, by name."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.parent_id == organization.id)
            .order_by(Organization.name)
        )
    )


def tops_of(organization_ids: set[int]) -> list[Organization]:
    """The organisations of a scope whose parent is outside it (what a reader "covers"),
    by name; the root alone when the scope holds it."""
    found = [
        organization
        for organization in list_organizations()
        if organization.id in organization_ids and organization.parent_id not in organization_ids
    ]
    return sorted(found, key=lambda o: (o.parent_id is not None, o.name.lower()))


def path_to(organization: Organization) -> list[Organization]:
    """The organisation's ancestors from the root down, itself last."""
    chain = [organization]
    seen = {organization.id}
    while chain[0].parent_id is not None and chain[0].parent_id not in seen:
        parent = db.session.get(Organization, chain[0].parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        chain.insert(0, parent)
    return chain


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
