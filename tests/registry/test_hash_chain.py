"""The hash chain, as pure functions."""

from datetime import UTC, datetime

from registry.audit import hash_chain


def make_chain(n):
    events, prev = [], hash_chain.GENESIS_HASH
    for seq in range(1, n + 1):
        payload = hash_chain.event_payload(
            seq=seq,
            at=datetime(2026, 1, 1, tzinfo=UTC),
            actor="a@b.gov",
            action="update",
            entity_type="pilot",
            entity_id="1",
            changes={"name": {"before": seq, "after": seq + 1}},
        )
        digest = hash_chain.digest(prev, payload)
        events.append(hash_chain.ChainEvent(seq, payload, prev, digest))
        prev = digest
    return events


def test_intact_chain_verifies_and_reports_its_head():
    events = make_chain(5)
    result = hash_chain.verify(events, head=(5, events[-1].hash))
    assert result.ok and result.count == 5 and result.head_hash == events[-1].hash


def test_edited_event_is_named():
    events = make_chain(5)
    tampered = dict(events[2].payload, actor="mallory@evil.gov")
    events[2] = hash_chain.ChainEvent(3, tampered, events[2].prev_hash, events[2].hash)
    result = hash_chain.verify(events)
    assert not result.ok and result.broken_seq == 3 and "edited" in result.reason


def test_deleted_middle_event_is_named():
    events = make_chain(5)
    del events[1]
    result = hash_chain.verify(events)
    assert not result.ok and result.broken_seq == 3


def test_deleted_last_event_is_caught_by_the_head():
    events = make_chain(5)
    result = hash_chain.verify(events[:4], head=(5, events[-1].hash))
    assert not result.ok and result.broken_seq == 5


def test_reordered_events_are_caught():
    events = make_chain(4)
    swapped = [events[0], events[2], events[1], events[3]]
    assert not hash_chain.verify(swapped).ok


def test_time_spelling_does_not_change_the_digest():
    aware = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)
    naive = aware.replace(tzinfo=None)
    assert hash_chain.canonical_time(aware) == hash_chain.canonical_time(naive)
