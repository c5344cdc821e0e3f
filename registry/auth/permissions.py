"""Who may do what: every permission rule of the registry lives in this one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def _caio_office(user: Any, _target: Any = None) -> bool:
    return user.role in {"caio", "admin"}


def _incident_reporter(user: Any, pilot: Any) -> bool:
    """The CAIO office, or the pilot's own team (teams report their incidents themselves)."""
    return _caio_office(user) or _pilot_editor(user, pilot)


def _caio(user: Any, _target: Any = None) -> bool:
    return user.role == "caio"


def _risk_keeper(user: Any, pilot: Any) -> bool:
    return user.role == "caio" or _pilot_editor(user, pilot)


def _commenter(user: Any, pilot: Any) -> bool:
    return user.role in READERS_OF_OVERSIGHT or is_pilot_member(user, pilot)


def is_withheld(pilot: Any) -> bool:
    """A pilot withheld as a whole ("Yes - ..." or "Other"): need-to-know only."""
    from registry.catalog.public_record import is_wholly_withheld

    return pilot is not None and is_wholly_withheld(pilot.is_withheld)


def _need_to_know(user: Any, pilot: Any) -> bool:
    """The pilot's team (owner and members), CAIOs, the board and administrators."""
    return user.role in READERS_OF_OVERSIGHT or is_pilot_member(user, pilot)


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
