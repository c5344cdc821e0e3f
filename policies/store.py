"""Policy storage: upload drafts, diff them against the active version, publish, look up."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from policies.diff import changed_sections, readable_diff
from policies.errors import PolicyInvalid
from policies.models import PolicyVersion
from policies.outline import outline
from policies.schema import compose, error_line, library_yaml, load_policy_text
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

# Parsing is a pure function of the text, so parsed documents are shared by their sha256.
_parsed: dict[str, dict[str, Any]] = {}
_parsed_lock = threading.Lock()


def _sha(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@functools.cache
def _library_body() -> str:
    return library_yaml()


def _parse_cached(body: str) -> dict[str, Any]:
    key = _sha(body)
    with _parsed_lock:
        cached = _parsed.get(key)
    if cached is None:
        cached = load_policy_text(body)
        with _parsed_lock:
            _parsed[key] = cached
    return cached


def parse(body: str) -> dict[str, Any]:
    """Validate a policy document, turning problems into a 422 that names each path."""
    try:
        return _parse_cached(body)
    except PolicyInvalid as error:
        raise ValidationFailed(
            "The policy document is not valid: "
            + "; ".join(f"{path}: {message}" for path, message in list(error.errors.items())[:5]),
            {path: [message] for path, message in error.errors.items()},
        ) from None


def document(version: PolicyVersion) -> dict[str, Any]:
    """The parsed document of a stored version."""
    return _parse_cached(version.body)


def get_version(version_id: int) -> PolicyVersion:
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        raise NotFound(f"There is no policy version {version_id}.")
    return version


def list_versions() -> list[PolicyVersion]:
    return list(
        db.session.scalars(
            select(PolicyVersion).order_by(PolicyVersion.created_at.desc(), PolicyVersion.id.desc())
        )
    )


def _check_unique(name: str, version: str, exclude_id: int | None = None) -> None:
    clash = db.session.scalar(
        select(PolicyVersion.id).where(PolicyVersion.name == name, PolicyVersion.version == version)
    )
    if clash is not None and clash != exclude_id:
        raise ValidationFailed(
            f"{name} version {version} already exists; give the draft a new version number.",
            {"version": [f"{name} v{version} already exists (policy version {clash})."]},
        )


def create_draft(body: str, actor, *, notes: str | None = None) -> PolicyVersion:
    """Store a validated draft."""
    authorize(actor, "policy.manage")
    parsed = parse(body)
    _check_unique(parsed["name"], parsed["version"])
    draft = PolicyVersion(
        name=parsed["name"],
        version=parsed["version"],
        body=body,
        sha256=_sha(body),
        notes=notes,
        is_active=False,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(draft)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "policy_version",
        draft.id,
        {"name": draft.name, "version": draft.version, "sha256": draft.sha256},
    )
    db.session.commit()
    return draft


def update_draft(
    draft: PolicyVersion, body: str, actor, *, notes: str | None = None
) -> PolicyVersion:
    """Replace a draft's text; a published version is immutable."""
    authorize(actor, "policy.manage")
    if draft.is_published:
        raise Conflict(
            f"{draft.label} was published on {draft.published_at:%Y-%m-%d} and can no longer be "
            "changed; upload a new draft instead.",
            {"status": [f"The version is {draft.status}."]},
        )
    parsed = parse(body)
    _check_unique(parsed["name"], parsed["version"], exclude_id=draft.id)
    before = {"name": draft.name, "version": draft.version, "sha256": draft.sha256}
    draft.name, draft.version, draft.body, draft.sha256 = (
        parsed["name"],
        parsed["version"],
        body,
        _sha(body),
    )
    if notes is not None:
        draft.notes = notes
    audit.record_change(
        actor,
        "update",
        "policy_version",
        draft.id,
        before,
        {"name": draft.name, "version": draft.version, "sha256": draft.sha256},
    )
    db.session.commit()
    return draft


def delete_draft(draft: PolicyVersion, actor) -> None:
    authorize(actor, "policy.manage")
    if draft.is_published:
        raise Conflict(
            f"{draft.label} is published and is kept for the record.",
            {"status": [f"The version is {draft.status}."]},
        )
    draft_id = draft.id
    db.session.delete(draft)
    audit.record(
        actor, "delete", "policy_version", draft_id, {"name": draft.name, "version": draft.version}
    )
    db.session.commit()


def publish(draft: PolicyVersion, actor) -> PolicyVersion:
    """Make a draft the one active version; the previous one stays published but inactive."""
    authorize(actor, "policy.manage")
    if draft.is_published:
        raise Conflict(
            f"{draft.label} is already published.", {"status": [f"The version is {draft.status}."]}
        )
    parse(draft.body)
    previous = active_version(bootstrap=False)
    db.session.execute(
        update(PolicyVersion).where(PolicyVersion.is_active.is_(True)).values(is_active=False)
    )
    draft.is_active = True
    draft.published_at = datetime.now(UTC)
    draft.published_by_id = actor.id
    audit.record(
        actor,
        "publish",
        "policy_version",
        draft.id,
        {
            "name": draft.name,
            "version": draft.version,
            "sha256": draft.sha256,
            "replaces": previous.label if previous else None,
        },
    )
    db.session.flush()
    signals.policy_published.send(draft, version=draft)
    db.session.commit()
    return draft


def previous_version(version: PolicyVersion) -> PolicyVersion | None:
    """What a version is read against: for a draft, the active version (what publishing it
    would change); for a published one, the version published just before it."""
    if not version.is_published:
        active = active_version()
        return active if active is not None and active.id != version.id else None
    return db.session.scalar(
        select(PolicyVersion)
        .where(
            PolicyVersion.published_at.is_not(None),
            PolicyVersion.id != version.id,
            PolicyVersion.published_at <= version.published_at,
        )
        .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())
        .limit(1)
    )


def diff_against_previous(version: PolicyVersion) -> dict[str, Any] | None:
    """A readable diff of a version against its previous one, or None when it has none."""
    previous = previous_version(version)
    if previous is None:
        return None
    return {
        "against": previous.label,
        "against_id": previous.id,
        "diff": readable_diff(
            previous.body, version.body, old_label=previous.label, new_label=version.label
        ),
        "sections": changed_sections(previous.body, version.body),
    }


def diff_against_active(version: PolicyVersion) -> dict[str, Any]:
    """A readable diff of a version against the active one."""
    active = active_version()
    old = active.body if active and active.id != version.id else ""
    return {
        "against": active.label if active and active.id != version.id else None,
        "diff": readable_diff(
            old,
            version.body,
            old_label=active.label if active else "(none)",
            new_label=version.label,
        ),
        "sections": changed_sections(old, version.body) if old else None,
    }


def summary(version: PolicyVersion) -> dict[str, Any]:
    """A stored version's sections in words (thresholds, checklist, questionnaire)."""
    return outline(document(version))


_SYNTAX_PREFIX = re.compile(r"^line \d+, column (\d+): ")


def located_errors(body: str, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Each validation error with the line (and for a syntax error the column) of `body` it is
    about, in line order; `path` is empty for a syntax error."""
    located = []
    tree = compose(body) if any(path != "yaml" for path in errors) else None
    for path, messages in errors.items():
        for message in messages:
            syntax = _SYNTAX_PREFIX.match(message) if path == "yaml" else None
            located.append({
                "line": error_line(body, path, message, node=tree),
                "column": int(syntax.group(1)) if syntax else None,
                "path": "" if path in ("yaml", "document") else path,
                "message": message[syntax.end():] if syntax else message,
            })
    return sorted(located, key=lambda e: (e["line"] is None, e["line"] or 0))


def install_library(actor=None) -> PolicyVersion:
    """Publish the shipped policy library unless some version is already active."""
    existing = active_version(bootstrap=False)
    if existing is not None:
        return existing
    body = _library_body()
    parsed = _parse_cached(body)
    version = db.session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.name == parsed["name"], PolicyVersion.version == parsed["version"]
        )
    )
    if version is None:
        version = PolicyVersion(
            name=parsed["name"],
            version=parsed["version"],
            body=body,
            sha256=_sha(body),
            notes="The shipped policy library.",
        )
        db.session.add(version)
    version.is_active = True
    version.published_at = datetime.now(UTC)
    try:
        db.session.flush()
        audit.record(
            actor,
            "publish",
            "policy_version",
            version.id,
            {
                "name": version.name,
                "version": version.version,
                "sha256": version.sha256,
                "replaces": None,
            },
        )
        db.session.commit()
    except IntegrityError:
        # Another request installed it at the same moment; use theirs.
        db.session.rollback()
        return active_version(bootstrap=False)
    return version


def active_version(*, bootstrap: bool = True) -> PolicyVersion | None:
    """The active policy version; a fresh registry installs the shipped library first."""
    version = db.session.scalar(select(PolicyVersion).where(PolicyVersion.is_active.is_(True)))
    if version is None and bootstrap:
        return install_library()
    return version


def active_policy() -> tuple[PolicyVersion, dict[str, Any]]:
    """The active version and its parsed document."""
    version = active_version()
    return version, document(version)
