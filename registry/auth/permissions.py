"""Who may do what: every permission rule of the registry lives in this one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.auth import scopes as organizations
from registry.auth.models import Organization
from registry.errors import Forbidden, NotFound, Unauthorized

CREATORS = frozenset({"team", "caio", "admin"})
READERS_OF_OVERSIGHT = frozenset({"admin", "caio", "board"})


def is_pilot_member(user: Any, pilot: Any) -> bool:
    """The pilot's owner or one of its team members."""
    if pilot is None:
        return False
    if pilot.owner_id == user.id:
        return True
    return any(member.id == user.id for member in pilot.team_members)


_NO_TARGET = object()


def _organization_of(target: Any) -> Any:
    """The organisation a target belongs to: a pilot's, a user's, an organisation itself;
    _NO_TARGET when the target is not tied to one (the rule then looks at roles only)."""
    if target is None:
        return _NO_TARGET
    if isinstance(target, Organization):
        return target.id
    if hasattr(target, "organization_id"):
        return target.organization_id
    pilot = getattr(target, "pilot", None)
    if pilot is not None and hasattr(pilot, "organization_id"):
        return pilot.organization_id
    return _NO_TARGET


def holds(user: Any, roles: frozenset[str] | set[str] | str, target: Any = None) -> bool:
    """Whether the user holds one of the roles, over the target's organisation if it has one."""
    wanted = {roles} if isinstance(roles, str) else set(roles)
    if not wanted & set(user.roles):
        return False
    organization_id = _organization_of(target)
    if organization_id is _NO_TARGET:
        return True
    return organizations.in_scope(user, wanted, organization_id)


def _admin(user: Any, target: Any = None) -> bool:
    return holds(user, "admin", target)


def _signed_in(_user: Any, _target: Any = None) -> bool:
    return True


def _creator(user: Any, _target: Any = None) -> bool:
    return holds(user, CREATORS)


def _pilot_editor(user: Any, pilot: Any) -> bool:
    return _admin(user, pilot) or (
        bool({"team", "caio"} & set(user.roles)) and is_pilot_member(user, pilot)
    )


def _data_source_editor(user: Any, source: Any) -> bool:
    if holds(user, {"admin", "caio"}):
        return True
    return "team" in user.roles and source is not None and source.created_by_id == user.id


def _oversight_reader(user: Any, target: Any = None) -> bool:
    return holds(user, READERS_OF_OVERSIGHT, target)


def _independent_caio(user: Any, pilot: Any) -> bool:
    return holds(user, "caio", pilot) and pilot is not None and pilot.decision_bar(user) is None


def _why_not_independent(user: Any, pilot: Any) -> str | None:
    if "caio" not in user.roles or pilot is None:
        return None
    if not holds(user, "caio", pilot):
        return (
            "This pilot belongs to an organisation outside yours: a CAIO decides only for "
            "pilots of their own organisation and the bureaus and offices under it."
        )
    return pilot.decision_bar(user)


def _caio_office(user: Any, target: Any = None) -> bool:
    return holds(user, {"caio", "admin"}, target)


def _incident_reporter(user: Any, pilot: Any) -> bool:
    """The CAIO office, or the pilot's own team (teams report their incidents themselves)."""
    return _caio_office(user, pilot) or _pilot_editor(user, pilot)


def _caio(user: Any, target: Any = None) -> bool:
    return holds(user, "caio", target)


def _risk_keeper(user: Any, pilot: Any) -> bool:
    return holds(user, "caio", pilot) or _pilot_editor(user, pilot)


def _commenter(user: Any, pilot: Any) -> bool:
    return holds(user, READERS_OF_OVERSIGHT, pilot) or is_pilot_member(user, pilot)


def is_withheld(pilot: Any) -> bool:
    """A pilot withheld as a whole ("Yes - ..." or "Other"): need-to-know only."""
    from registry.catalog.public_record import is_wholly_withheld

    return pilot is not None and is_wholly_withheld(pilot.is_withheld)


def _need_to_know(user: Any, pilot: Any) -> bool:
    """The pilot's team (owner and members), CAIOs, the board and administrators."""
    return holds(user, READERS_OF_OVERSIGHT, pilot) or is_pilot_member(user, pilot)


def _pilot_reader(user: Any, pilot: Any) -> bool:
    """Anyone signed in reads a pilot, unless it is withheld: then only who needs to know."""
    return pilot is None or not is_withheld(pilot) or _need_to_know(user, pilot)


# action -> (rule, what the action is, for the 403 message)
RULES: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    # Without a pilot: pilots in general. With one: that pilot and what belongs to it.
    "pilot.read": (_pilot_reader, "read this pilot"),
    "pilot.read_withheld": (_oversight_reader, "read every withheld pilot"),
    # Evidence files, raw bias-check uploads and results, questionnaire answers.
    "pilot.read_restricted": (
        _need_to_know,
        "read this pilot's evidence, bias-check data or questionnaire answers",
    ),
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
    "organization.read": (_signed_in, "read organisations"),
    "organization.create": (_admin, "add organisations under this one"),
    "organization.update": (_admin, "change this organisation"),
    "token.manage": (_signed_in, "manage API tokens"),
    "inventory.import": (_admin, "import inventories"),
    "concern.read": (_oversight_reader, "read concerns from the public"),
    "concern.triage": (_caio_office, "triage concerns from the public"),
    "incident.read": (_signed_in, "read incidents"),
    "incident.open": (_incident_reporter, "record an incident on this pilot"),
    "incident.update": (_incident_reporter, "change this pilot's incidents"),
    "incident.accept": (_caio, "accept an incident's remaining risk"),
    "risk.manage": (_risk_keeper, "keep this pilot's risk register"),
}


# Actions refused with 404, not 403: who may not read a withheld pilot does not learn it exists.
HIDDEN_WHEN_REFUSED = frozenset({"pilot.read"})

# action -> a function saying why a refusal happened, where a role alone does not explain it.
REASONS: dict[str, Callable[[Any, Any], str | None]] = {
    "pilot.decide": _why_not_independent,
    "pilot.override_tier": _why_not_independent,
    "condition.verify": _why_not_independent,
}


def oversight_scope(user: Any) -> set[int]:
    """The organisations whose portfolio the user oversees (admin, CAIO or board roles)."""
    return organizations.scope_ids(user, READERS_OF_OVERSIGHT)


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
        if action in HIDDEN_WHEN_REFUSED:
            raise NotFound(f"There is no pilot {getattr(target, 'id', '')}.")
        why = REASONS.get(action, lambda _u, _t: None)(user, target)
        raise Forbidden(why or f"A {user.role_label.lower()} may not {description}.")
