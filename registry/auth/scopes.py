"""The reach of a role: an organisation and everything under it in the tree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from registry.auth.models import Organization, User
from registry.errors import NotFound
from registry.extensions import db


def root() -> Organization:
    """The root organisation (the agency or the department that runs this instance)."""
    organization = db.session.scalar(
        select(Organization).where(Organization.parent_id.is_(None)).order_by(Organization.id)
    )
    if organization is None:
        raise NotFound("There is no root organisation; run `flask --app wsgi db upgrade`.")
    return organization


def _children() -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for organization_id, parent_id in db.session.execute(
        select(Organization.id, Organization.parent_id)
    ):
        children[parent_id].append(organization_id)
    return children


def subtree_ids(organization_ids: Iterable[int]) -> set[int]:
    """The organisations given and every one below them."""
    children = _children()
    found: set[int] = set()
    stack = list(organization_ids)
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, ()))
    return found


def home_of(user: User) -> int:
    """The organisation of the user's primary role (the root for accounts from before 0019)."""
    return user.organization_id if user.organization_id is not None else root().id


def scope_ids(user: User, roles: Iterable[str]) -> set[int]:
    """Every organisation where the user holds one of these roles, subtrees included."""
    wanted = set(roles)
    tops = {a.organization_id for a in user.assignments if a.role in wanted}
    if user.role in wanted:
        tops.add(home_of(user))
    return subtree_ids(tops) if tops else set()


def in_scope(user: User, roles: Iterable[str], organization_id: int | None) -> bool:
    """Whether the user holds one of these roles over this organisation."""
    if organization_id is None:
        organization_id = root().id
    return organization_id in scope_ids(user, roles)
