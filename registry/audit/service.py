"""Writing audit events inside the caller's transaction, and verifying the stored chain."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from registry.audit import hash_chain
from registry.audit.models import AuditChainHead, AuditEvent
from registry.extensions import db

HEAD_ID = 1


def jsonable(value: Any) -> Any:
    """Turn a column value into plain JSON so that the stored event digests the same later."""
    if isinstance(value, datetime):
        return hash_chain.canonical_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of an object, as plain JSON values."""
    return {field: jsonable(getattr(obj, field)) for field in fields}


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """Field-by-field changes as {field: {"before": old, "after": new}}."""
    before = before or {}
    after = after or {}
    changes = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old != new:
            changes[field] = {"before": old, "after": new}
    return changes


def _actor_label(actor: Any) -> tuple[str, int | None]:
    if actor is None:
        return "system", None
    return actor.email, actor.id


def _ensure_head() -> None:
    dialect = db.session.get_bind().dialect.name
    values = {"id": HEAD_ID, "seq": 0, "hash": hash_chain.GENESIS_HASH}
    if dialect == "postgresql":
        stmt = pg_insert(AuditChainHead).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(AuditChainHead).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported engines are tested
        stmt = insert(AuditChainHead).values(**values)
    db.session.execute(stmt)


def _advance_head() -> tuple[int, str]:
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    # writers queue here and each sees the head its predecessor committed: the chain can't fork.
    stmt = (
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.hash)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        _ensure_head()
        row = db.session.execute(stmt).first()
    return int(row[0]), str(row[1])


def record(
    actor: Any,
    action: str,
    entity_type: str,
    entity_id: Any,
    changes: Any = None,
) -> AuditEvent:
    """Append an event to the chain in the current transaction; the caller commits."""
    db.session.flush()
    seq, prev_hash = _advance_head()
    label, actor_id = _actor_label(actor)
    at = datetime.now(UTC)
    changes = jsonable(changes if changes is not None else {})
    payload = hash_chain.event_payload(
        seq=seq,
        at=at,
        actor=label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=changes,
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=label,
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=changes,
        prev_hash=prev_hash,
        hash=hash_chain.digest(prev_hash, payload),
    )
    db.session.add(event)
    db.session.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(hash=event.hash)
    )
    return event


def record_change(
    actor: Any,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditEvent:
    """Append an event whose changes are the diff between two snapshots."""
    return record(actor, action, entity_type, entity_id, diff(before, after))


def stored_events(stmt: Select | None = None) -> Iterator[hash_chain.ChainEvent]:
    """The stored events (all, or those `stmt` selects) in sequence order, for verification."""
    stmt = select(AuditEvent) if stmt is None else stmt
    result = db.session.execute(stmt.order_by(AuditEvent.seq)).scalars()
    for event in result.yield_per(1000):
        yield hash_chain.ChainEvent(
            seq=event.seq,
            payload=hash_chain.event_payload(
                seq=event.seq,
                at=event.at,
                actor=event.actor,
                action=event.action,
                entity_type=event.entity_type,
                entity_id=event.entity_id,
                changes=event.changes,
            ),
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


def verify_stored_chain() -> hash_chain.Verification:
    """Verify every stored event against its hash, its predecessor and the recorded head."""
    head_row = db.session.get(AuditChainHead, HEAD_ID)
    head = (head_row.seq, head_row.hash) if head_row else (0, hash_chain.GENESIS_HASH)
    return hash_chain.verify(stored_events(), head=head)


def chain_head() -> tuple[int, str]:
    """The sequence number and hash of the newest event."""
    head_row = db.session.get(AuditChainHead, HEAD_ID)
    return (head_row.seq, head_row.hash) if head_row else (0, hash_chain.GENESIS_HASH)
