"""The audit trail: events in the same transaction, verification, tamper detection, concurrency."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from registry.audit.models import AuditEvent
from registry.audit.service import verify_stored_chain
from registry.extensions import db


@pytest.fixture
def history(client, factory):
    """A few audited changes made through the API."""
    admin = factory.user("admin")
    headers = factory.headers(admin)
    for n in range(3):
        client.post(
            "/api/v1/pilots",
            json={
                "name": f"Pilot {n}",
                "purpose": "p",
                "agency": "MCG",
                "owner_email": admin.email,
                "stage": "pilot",
            },
            headers=headers,
        )
    db.session.remove()
    return admin


def run_verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_verify_passes_and_prints_the_head(runner, history):
    result = run_verify(runner)
    assert result.exit_code == 0, result.output
    head = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert head.hash in result.output and f"seq {head.seq}" in result.output


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        ("UPDATE audit_events SET actor = 'mallory@evil.gov' WHERE seq = 3", 3),
        ("UPDATE audit_events SET changes = '{}' WHERE seq = 4", 4),
        ("DELETE FROM audit_events WHERE seq = 2", 3),
        ("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)", None),
        ("UPDATE audit_events SET seq = seq + 1000 WHERE seq = 2", 3),
    ],
    ids=["edited actor", "edited changes", "deleted middle", "deleted last", "reordered"],
)
def test_tampering_with_sql_is_detected_and_named(app, runner, history, tamper, broken):
    last = db.session.scalar(select(func.max(AuditEvent.seq)))
    db.session.execute(text(tamper))
    db.session.commit()
    db.session.remove()
    result = run_verify(runner)
    assert result.exit_code == 1
    expected = broken if broken is not None else last
    assert f"event {expected}" in result.output


def test_failed_request_writes_no_event(client, factory):
    admin = factory.user("admin")
    headers = factory.headers(admin)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = client.post(
        "/api/v1/pilots",
        json={
            "name": "X",
            "purpose": "p",
            "agency": "A",
            "owner_email": admin.email,
            "stage": "pilot",
            "data_source_ids": [12345],
        },
        headers=headers,
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_audit_api_filters(client, history, factory):
    headers = factory.headers(history)
    events = client.get("/api/v1/audit?entity_type=pilot", headers=headers).get_json()
    assert [e["action"] for e in events] == ["create"] * 3
    assert set(events[0]) >= {
        "seq",
        "at",
        "actor",
        "action",
        "entity_type",
        "entity_id",
        "changes",
        "prev_hash",
        "hash",
    }
    assert events[1]["prev_hash"] == events[0]["hash"] or events[1]["seq"] > events[0]["seq"] + 1
    mine = client.get(f"/api/v1/audit?actor={history.email}", headers=headers).get_json()
    assert mine and all(e["actor"] == history.email for e in mine)
    one = client.get("/api/v1/audit?entity_type=pilot&entity_id=2", headers=headers).get_json()
    assert [e["entity_id"] for e in one] == ["2"]


def test_concurrent_writers_do_not_fork_the_chain(app, factory):
    """Parallel requests, each on its own connection, all land on one unbroken chain."""
    admin = factory.user("admin")
    token = factory.token(admin)
    email = admin.email
    db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}

    def create(n):
        client = app.test_client()
        body = {
            "name": f"Concurrent {n}",
            "purpose": "p",
            "agency": "MCG",
            "owner_email": email,
            "stage": "pilot",
        }
        return client.post("/api/v1/pilots", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(40)))
    assert statuses == [201] * 40
    with app.app_context():
        result = verify_stored_chain()
        assert result.ok, result.reason
        pilot_events = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "pilot")
        )
        assert pilot_events == 40
        hashes = db.session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(hashes) == len(set(hashes)), "two events share a predecessor: the chain forked"
