"""Users, organisations, role assignments, API tokens and SCIM provisioning tokens."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db

ROLES = ("admin", "caio", "board", "team")
ROLE_LABELS = {
    "admin": "Administrator",
    "caio": "Chief AI Officer",
    "board": "Governance board",
    "team": "Project team",
}

# The primary role shown on pages is the strongest one a user holds.
ROLE_STRENGTH = {"admin": 0, "caio": 1, "board": 2, "team": 3}


def new_session_nonce() -> str:
    return secrets.token_hex(8)


class Organization(db.Model):
    """An agency, bureau or office; organisations form a tree under one root agency."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __repr__(self) -> str:
        return f"<Organization {self.code}>"


class RoleAssignment(db.Model):
    """One role a user holds, scoped to one organisation and everything under it."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )

    user: Mapped[User] = relationship(back_populates="assignments")
    organization: Mapped[Organization] = relationship(lazy="joined")


class User(UserMixin, db.Model):
    """A person who signs in: an administrator, a CAIO, a board member or a project team member."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The primary role and organisation (shown on pages); `assignments` holds every role.
    role: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing the nonce ends every session that carries the old one (logout everywhere).
    session_nonce: Mapped[str] = mapped_column(String(32), default=new_session_nonce)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Who the identity provider says this is: "<issuer>|<sub>" for OIDC, and the SCIM
    # client's externalId; both unique where set.
    oidc_subject: Mapped[str | None] = mapped_column(String(400), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deleted by the identity provider (SCIM): kept for its history and authorship, gone from
    # SCIM and sign-in.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when an administrator typed the password on the users page: that person signs in
    # with it once and must choose their own before anything else opens.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )
    organization: Mapped[Organization | None] = relationship(lazy="joined")
    mfa: Mapped[MfaEnrolment | None] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> frozenset[str]:
        """Every role the user holds, in any organisation."""
        return frozenset(a.role for a in self.assignments) | {self.role}

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}:{self.session_nonce}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def __repr__(self) -> str:
        return f"<User {self.email} ({self.role})>"


class ApiToken(db.Model):
    """A bearer token; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Space-separated: "read" (GET, HEAD and OPTIONS only) or "read write".
    scopes: Mapped[str] = mapped_column(
        String(40), default="read write", server_default="read write"
    )

    user: Mapped[User] = relationship(back_populates="tokens")


class MfaEnrolment(db.Model):
    """A password account's authenticator app (TOTP, RFC 6238): pending until confirmed.

    `last_step` is the 30-second time step of the last code accepted: a code for that step or
    an earlier one is refused, so an overheard code can't be replayed within its window.
    """

    __tablename__ = "mfa_enrolments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    # None while the user has scanned the code but not yet confirmed it with a current code.
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(back_populates="mfa")
    recovery_codes: Mapped[list[MfaRecoveryCode]] = relationship(
        cascade="all, delete-orphan", order_by="MfaRecoveryCode.id"
    )


class MfaRecoveryCode(db.Model):
    """A one-time recovery code, for when the authenticator app is lost; only its sha256."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("mfa_enrolments.user_id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoginCounter(db.Model):
    """A sign-in throttle counter in a fixed window, shared by every process on the database.

    registry.auth.throttle adds to it with one INSERT ... ON CONFLICT DO UPDATE ... RETURNING,
    so concurrent attempts each get a distinct count before any password is checked.
    """

    __tablename__ = "login_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Unix time, so that both engines compare it as a number.
    expires: Mapped[float] = mapped_column(Float, index=True)


class ScimToken(db.Model):
    """The bearer token an identity provider uses for SCIM provisioning; only its sha256 is kept."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(db.Model):
    """A one-time link that lets an invited person set their first password.

    Only the link token's sha256 is stored. It works once (`used_at`) and until `expires_at`;
    a newer invitation of the same person replaces it (`revoked_at`).
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
