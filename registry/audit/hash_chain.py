"""The hash chain: pure functions that digest events and verify a sequence of them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_time(at: datetime) -> str:
    """A timestamp in one spelling, whatever the database gave back (naive means UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def canonical_json(payload: Mapping[str, Any]) -> str:
    """JSON with sorted keys and no spacing, so that equal payloads digest equally."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_payload(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    changes: Any,
) -> dict[str, Any]:
    """The fields of an event that its hash covers."""
    return {
        "seq": seq,
        "at": canonical_time(at),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "changes": changes,
    }


def digest(prev_hash: str, payload: Mapping[str, Any]) -> str:
    """sha256 over the previous hash followed by the event's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainEvent:
    """What verification needs to know of one stored event."""

    seq: int
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    count: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None


def verify(
    events: Iterable[ChainEvent],
    *,
    head: tuple[int, str] | None = None,
    after: tuple[int, str] = (0, GENESIS_HASH),
) -> Verification:
    """Walk events in sequence order and report the first one that breaks the chain.

    Parameters
    ----------
    events : iterable of ChainEvent
        The stored events, ordered by ``seq``.
    head : (seq, hash), optional
        The recorded chain head; it catches events deleted from the end of the chain.
    after : (seq, hash), optional
        Where the walk starts: the events given follow the event with this sequence number
        and hash (a signed checkpoint). The default starts at the genesis.

    Returns
    -------
    Verification
    """
    last_seq, prev_hash = after
    expected_seq = last_seq + 1
    count = 0
    for event in events:
        if event.seq != expected_seq:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                event.seq,
                f"event {event.seq}: expected sequence number {expected_seq}; "
                "an event is missing or was reordered",
            )
        if event.prev_hash != prev_hash:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                event.seq,
                f"event {event.seq}: prev_hash does not match the hash of event {event.seq - 1}",
            )
        recomputed = digest(prev_hash, event.payload)
        if recomputed != event.hash:
            return Verification(
                False,
                count,
                last_seq,
                prev_hash,
                event.seq,
                f"event {event.seq}: content does not match its hash (edited after the fact)",
            )
        prev_hash = event.hash
        last_seq = event.seq
        expected_seq += 1
        count += 1
    if head is not None and (head[0], head[1]) != (last_seq, prev_hash):
        return Verification(
            False,
            count,
            last_seq,
            prev_hash,
            last_seq + 1,
            f"event {last_seq + 1}: missing; the recorded chain head is event {head[0]}",
        )
    return Verification(True, count, last_seq, prev_hash)
