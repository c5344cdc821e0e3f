"""Account rules: creating and changing users, checking passwords, issuing tokens."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from registry import audit
from registry.auth import organizations, tokens
from registry.auth.models import (
    ROLE_LABELS,
    ROLE_STRENGTH,
    ROLES,
    ApiToken,
    Organization,
    RoleAssignment,
    User,
    new_session_nonce,
)
from registry.auth.permissions import authorize
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db

MIN_PASSWORD_LENGTH = 12
USER_AUDIT_FIELDS = ("email", "name", "role", "active")
_COMMON_PASSWORDS: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    """Some hundreds of passwords too common to allow, shipped with the app."""
    global _COMMON_PASSWORDS
    if _COMMON_PASSWORDS is None:
        path = Path(__file__).with_name("common_passwords.txt")
        _COMMON_PASSWORDS = frozenset(
            line.strip().lower()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        )
    return _COMMON_PASSWORDS


def _visible(text: str) -> str:
    """The text without whitespace of any kind (no-break spaces too) or invisible characters."""
    return "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE
    )


_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def password_problems(password: str | None, email: str | None = None) -> list[str]:
    """Why a password is not acceptable (empty when it is); `email` is the account's own."""
    if not password:
        return ["A password is required."]
    problems = []
    visible = _visible(password)
    if not visible:
        return ["The password is only spaces. Use at least 12 characters that are not spaces."]
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if password.lower() in common_passwords():
        problems.append("This password is on the list of commonly used passwords.")
    own = _visible(email or "").casefold()
    if own and own in visible.casefold():
        problems.append("The password must not contain the account's email address.")
    return problems


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def normalise_email(email: str, field: str = "email") -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationFailed("The email address is not valid.", {field: [str(error)]}) from None


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.role, User.email)))


def _validate_user_fields(
    data: Mapping[str, Any], *, creating: bool, email: str | None = None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if creating or "name" in data:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = ["A name is required."]
        elif len(name) > 200:
            errors["name"] = ["Use at most 200 characters."]
    if creating or "role" in data:
        if data.get("role") not in ROLES:
            errors["role"] = [f"Choose one of: {', '.join(ROLES)}."]
    if data.get("password") is not None or (creating and not data.get("passwordless")):
        if problems := password_problems(data.get("password"), email):
            errors["password"] = problems
    return errors


def create_user(data: Mapping[str, Any], actor: User | None, *, commit: bool = True) -> User:
    """Create an account. `actor` is None only for the command line.

    A password an administrator types on the users page is temporary: its owner must choose
    their own at first sign-in. One given on the command line is not (operators create their
    own bootstrap and service accounts there, and scripts sign in with it; API.md's
    `users create --password` keeps working as before).
    """
    if actor is not None:
        authorize(actor, "user.manage")
    errors: dict[str, list[str]] = {}
    email = ""
    try:
        email = normalise_email(data.get("email") or "")
    except ValidationFailed as error:
        errors.update(error.errors)
    errors.update(_validate_user_fields(data, creating=True, email=email or data.get("email")))
    if email and db.session.scalar(select(func.count()).where(User.email == email)):
        errors["email"] = [f"A user with the email {email} already exists."]
    if errors:
        raise ValidationFailed("The user could not be saved.", errors)
    organization = organizations.resolve(data.get("organization"), "organization")
    if actor is not None:
        authorize(actor, "user.manage", organization)
    user = User(
        email=email,
        name=data["name"].strip(),
        role=data["role"],
        organization_id=organization.id,
        password_hash=hash_password(data["password"]) if data.get("password") else None,
        must_change_password=actor is not None and bool(data.get("password")),
        active=True,
        session_nonce=new_session_nonce(),
    )
    user.assignments.append(RoleAssignment(role=data["role"], organization_id=organization.id))
    db.session.add(user)
    db.session.flush()
    audit.record_change(
        actor, "create", "user", user.id, None, audit.snapshot(user, USER_AUDIT_FIELDS)
    )
    if commit:
        db.session.commit()
    return user


def update_user(user: User, data: Mapping[str, Any], actor: User) -> User:
    """Change a user's name, role, active flag or password."""
    authorize(actor, "user.manage", user)
    errors = _validate_user_fields(data, creating=False, email=user.email)
    if user.id == actor.id and (
        data.get("role", user.role) != "admin" or data.get("active") is False
    ):
        errors["role"] = ["You cannot remove your own administrator rights or deactivate yourself."]
    if errors:
        raise ValidationFailed("The user could not be saved.", errors)
    before = audit.snapshot(user, USER_AUDIT_FIELDS)
    if "name" in data:
        user.name = data["name"].strip()
    if "role" in data and data["role"] != user.role:
        home = organizations.home_of(user)
        for assignment in user.assignments:
            if assignment.role == user.role and assignment.organization_id == home:
                assignment.role = data["role"]
                break
        else:
            user.assignments.append(RoleAssignment(role=data["role"], organization_id=home))
        user.role = data["role"]
    revoke_all = False
    revoked: list[int] = []
    if "active" in data:
        user.active = bool(data["active"])
        if not user.active:
            revoked = _cut_off(user)
        else:
            user.deactivated_at = None
    changes = audit.service.diff(before, audit.snapshot(user, USER_AUDIT_FIELDS))
    if revoked:
        changes["api_tokens_revoked"] = {"before": None, "after": revoked}
    if data.get("password"):
        user.password_hash = hash_password(data["password"])
        # Someone else's typed password is temporary, as on creation.
        user.must_change_password = user.id != actor.id
        user.session_nonce = new_session_nonce()
        changes["password"] = {"before": "***", "after": "*** (changed)"}
        revoke_all = True
    if revoke_all and (revoked := revoke_all_tokens(user)):
        changes["api_tokens_revoked"] = revoked
    if changes:
        db.session.flush()
        audit.record(actor, "update", "user", user.id, changes)
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str, confirm: str) -> User:
    """The signed-in person replaces their password (the forced change after an administrator
    set it, or any time); every other session and API token of theirs ends."""
    errors: dict[str, list[str]] = {}
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        errors["current_password"] = ["The current password is not right."]
    if problems := password_problems(new, user.email):
        errors["password"] = problems
    elif current and new == current:
        errors["password"] = ["Choose a password different from the current one."]
    elif new != confirm:
        errors["confirm"] = ["The two passwords are not the same."]
    if errors:
        raise ValidationFailed("The password was not changed.", errors)
    user.password_hash = hash_password(new)
    was_forced = user.must_change_password
    user.must_change_password = False
    user.session_nonce = new_session_nonce()
    changes: dict[str, Any] = {"password": {"before": "***", "after": "*** (changed)"}}
    if was_forced:
        changes["must_change_password"] = {"before": True, "after": False}
    if revoked := revoke_all_tokens(user):
        changes["api_tokens_revoked"] = revoked
    audit.record(user, "change_password", "user", user.id, changes)
    db.session.commit()
    return user


def _assignment_list(user: User) -> list[list[Any]]:
    return sorted([a.role, a.organization_id] for a in user.assignments)


def add_assignment(user: User, data: Mapping[str, Any], actor: User) -> RoleAssignment:
    """Give a user one more role, scoped to an organisation and everything under it.

    The actor must administer both the user and that organisation."""
    authorize(actor, "user.manage", user)
    errors: dict[str, list[str]] = {}
    role = data.get("role")
    if role not in ROLES:
        errors["role"] = [f"Choose one of: {', '.join(ROLE_LABELS[r] for r in ROLES)}."]
    organization = None
    organization_id = data.get("organization_id")
    if organization_id in (None, ""):
        errors["organization_id"] = ["Choose the organisation the role reaches."]
    else:
        organization = db.session.get(Organization, organization_id)
        if organization is None:
            errors["organization_id"] = [f"There is no organization {organization_id}."]
    if errors:
        raise ValidationFailed("The role could not be given.", errors)
    authorize(actor, "user.manage", organization)
    if any(a.role == role and a.organization_id == organization.id for a in user.assignments):
        raise ValidationFailed(
            "The role could not be given.",
            {"role": [f"{user.name} is already {ROLE_LABELS[role].lower()} in "
                      f"{organization.name}."]},
        )
    before = _assignment_list(user)
    assignment = RoleAssignment(role=role, organization_id=organization.id)
    user.assignments.append(assignment)
    db.session.flush()
    audit.record(
        actor,
        "update",
        "user",
        user.id,
        {"assignments": {"before": before, "after": _assignment_list(user)}},
    )
    db.session.commit()
    return assignment


def get_assignment(user: User, assignment_id: int) -> RoleAssignment:
    for assignment in user.assignments:
        if assignment.id == assignment_id:
            return assignment
    raise NotFound(f"{user.name} holds no role assignment {assignment_id}.")


def remove_assignment(user: User, assignment: RoleAssignment, actor: User) -> None:
    """Take one role assignment away; the user keeps at least one role, and an administrator
    never takes away their own administrator role (another administrator must)."""
    authorize(actor, "user.manage", user)
    authorize(actor, "user.manage", assignment.organization)
    if len(user.assignments) <= 1:
        raise ValidationFailed(
            "The role could not be removed.",
            {"role": [f"This is {user.name}'s only role. Give another role first, or "
                      "deactivate the account instead."]},
        )
    if user.id == actor.id and assignment.role == "admin":
        raise ValidationFailed(
            "The role could not be removed.",
            {"role": ["You cannot remove your own administrator role; ask another "
                      "administrator."]},
        )
    before = _assignment_list(user)
    previous_role = user.role
    user.assignments.remove(assignment)
    changes: dict[str, Any] = {}
    if (assignment.role, assignment.organization_id) == (user.role, organizations.home_of(user)):
        # The primary role goes with it: the strongest remaining one takes its place.
        strongest = min(
            user.assignments, key=lambda a: (ROLE_STRENGTH[a.role], a.organization_id)
        )
        user.role, user.organization_id = strongest.role, strongest.organization_id
        changes["role"] = {"before": previous_role, "after": user.role}
    db.session.flush()
    changes["assignments"] = {"before": before, "after": _assignment_list(user)}
    audit.record(actor, "update", "user", user.id, changes)
    db.session.commit()


def _cut_off(user: User) -> list[int]:
    """End the user's sessions and revoke their API tokens at once; returns the token ids.

    The account row, its authorship and its audit history stay: only access ends.
    """
    now = datetime.now(UTC)
    user.session_nonce = new_session_nonce()
    user.deactivated_at = now
    revoked = []
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            revoked.append(token.id)
    return revoked


def deactivate_user(user: User, actor: User | None, *, via: str) -> User:
    """Deactivate an account (by an administrator, the command line or SCIM), ending its access."""
    if actor is not None:
        authorize(actor, "user.manage", user)
    if not user.active:
        return user
    user.active = False
    revoked = _cut_off(user)
    audit.record(
        actor,
        "deactivate",
        "user",
        user.id,
        {"active": {"before": True, "after": False}, "via": via, "api_tokens_revoked": revoked},
    )
    db.session.commit()
    return user


def check_login(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = find_user(email or "")
    if user is None or not user.active or not user.password_hash:
        # Spend the same time on unknown users, so timing does not reveal which emails exist.
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user


_DUMMY_HASH = "scrypt:32768:8:1$dummy$" + "0" * 128


def end_sessions(user: User) -> None:
    """Invalidate every web session of this user (logout)."""
    user.session_nonce = new_session_nonce()
    db.session.commit()


def revoke_all_tokens(user: User) -> list[int]:
    """Revoke every live token of the user (a password change, a deactivation); the ids."""
    live = list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    )
    now = datetime.now(UTC)
    for token in live:
        token.revoked_at = now
    return [token.id for token in live]


def issue_token(
    user: User,
    name: str,
    *,
    actor: User | None,
    expires_in_days: int | None = None,
    scopes: tuple[str, ...] = tokens.DEFAULT_SCOPES,
) -> str:
    """Issue an API token for the user and return it in clear, once."""
    _token, clear = create_token(
        user, name, actor=actor, expires_in_days=expires_in_days, scopes=scopes
    )
    return clear


def create_token(
    user: User,
    name: str,
    *,
    actor: User | None,
    expires_in_days: int | None = None,
    scopes: tuple[str, ...] = tokens.DEFAULT_SCOPES,
) -> tuple[ApiToken, str]:
    """Issue an API token; return its row and the token in clear (shown once, never stored).

    It expires after `expires_in_days`, or TOKEN_DEFAULT_EXPIRY_DAYS when that is not given.
    """
    if actor is not None and actor.id != user.id:
        authorize(actor, "user.manage")
    name = (name or "").strip() or "api"
    token, clear = tokens.issue(
        user, name[:100], expires_in_days=expires_in_days, scopes=tuple(scopes)
    )
    db.session.flush()
    changes = {"user": user.email, "name": token.name, "scopes": token.scopes}
    if token.expires_at is not None:
        changes["expires_at"] = token.expires_at
    audit.record(actor or user, "create", "api_token", token.id, changes)
    db.session.commit()
    return token, clear


def token_state(token: ApiToken) -> str:
    """ "active", "expired" or "revoked"."""
    if token.revoked_at is not None:
        return "revoked"
    expires_at = token.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        return "expired"
    return "active"


def list_tokens(user: User) -> list[ApiToken]:
    """The user's API tokens, newest first, revoked and expired ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke_token(token_id: int, actor: User | None) -> ApiToken:
    """Revoke a token: its owner or an administrator may; `actor` None is the command line.

    Revoking a revoked token changes nothing and records nothing.
    """
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no API token {token_id}.")
    if actor is not None and token.user_id != actor.id:
        authorize(actor, "user.manage")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        db.session.flush()
        audit.record(
            actor, "revoke", "api_token", token.id, {"user": token.user.email, "name": token.name}
        )
    db.session.commit()
    return token
