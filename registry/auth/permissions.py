"""Who may do what: every permission rule of the registry lives in this one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.errors import Forbidden, Unauthorized

CREATORS = frozenset({"team", "caio", "admin"})
READERS_OF_OVERSIGHT = frozenset({"admin", "caio", "board"})


def is_pilot_member(user: Any, pilot: Any) -> bool:
    """The pilot's owner or one of its team members."""
    if pilot is None:
        return False
    if pilot.owner_id == user.id:
        return True
    return any(member.id == user.id for member in pilot.team_members)


def _admin(user: Any, _target: Any = None) -> bool:
    return user.role == "admin"


def _signed_in(_user: Any, _target: Any = None) -> bool:
    return True


def _creator(user: Any, _target: Any = None) -> bool:
    return user.role in CREATORS


def _pilot_editor(user: Any, pilot: Any) -> bool:
    return _admin(user) or (user.role in {"team", "caio"} and is_pilot_member(user, pilot))


def _data_source_editor(user: Any, source: Any) -> bool:
    if _admin(user) or user.role == "caio":
        return True
    return user.role == "team" and source is not None and source.created_by_id == user.id


def _oversight_reader(user: Any, _target: Any = None) -> bool:
    return user.role in READERS_OF_OVERSIGHT


def _independent_caio(user: Any, pilot: Any) -> bool:
    return user.role == "caio" and pilot is not None and pilot.decision_bar(user) is None


def _why_not_independent(user: Any, pilot: Any) -> str | None:
    if user.role != "caio" or pilot is None:
        return None
    return pilot.decision_bar(user)


def _commenter(user: Any, pilot: Any) -> bool:
    return user.role in READERS_OF_OVERSIGHT or is_pilot_member(user, pilot)


# action -> (rule, what the action is, for the 403 message)
RULES: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "pilot.read": (_signed_in, "read pilots"),
    "pilot.create": (_creator, "register pilots"),
    "pilot.update": (_pilot_editor, "edit this pilot"),
    "pilot.delete": (_pilot_editor, "delete this pilot"),
    "pilot.submit": (_pilot_editor, "submit this pilot for review"),
    "pilot.assess": (_pilot_editor, "answer this pilot's impact questionnaire"),
    "pilot.upload": (_pilot_editor, "add evidence or bias checks to this pilot"),
    "pilot.comment": (_commenter, "comment on this pilot"),
    "pilot.read_comments": (_commenter, "read this pilot's review thread"),
    "condition.meet": (_pilot_editor, "report this pilot's conditions met"),
    "condition.verify": (_independent_caio, "verify this pilot's conditions"),
    "pilot.decide": (_independent_caio, "decide on this pilot"),
    "pilot.override_tier": (_independent_caio, "override this pilot's risk tier"),
    "data_source.read": (_signed_in, "read data sources"),
    "data_source.create": (_creator, "register data sources"),
    "data_source.update": (_data_source_editor, "edit this data source"),
    "audit.read": (_oversight_reader, "read the audit trail"),
    "review_queue.read": (_oversight_reader, "read the review queue"),
    "dashboard.read": (_oversight_reader, "read the oversight dashboard"),
    "policy.read": (_signed_in, "read policies"),
    "policy.manage": (_admin, "manage policies"),
    "user.manage": (_admin, "manage users"),
    "token.manage": (_signed_in, "manage API tokens"),
    "inventory.import": (_admin, "import inventories"),
}


# action -> a function saying why a refusal happened, where a role alone does not explain it.
REASONS: dict[str, Callable[[Any, Any], str | None]] = {
    "pilot.decide": _why_not_independent,
    "pilot.override_tier": _why_not_independent,
    "condition.verify": _why_not_independent,
}


def can(user: Any, action: str, target: Any = None) -> bool:
    """Whether a signed-in, active user may perform the action on the target."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    rule, _ = RULES[action]
    return bool(rule(user, target))


def authorize(user: Any, action: str, target: Any = None) -> None:
    """Raise 401 for nobody, 403 for somebody who may not."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Unauthorized("Sign in, or send a valid bearer token.")
    rule, description = RULES[action]
    if not rule(user, target):
        why = REASONS.get(action, lambda _u, _t: None)(user, target)
        raise Forbidden(why or f"A {user.role_label.lower()} may not {description}.")
