"""Web sessions end when idle too long or too old, and every sign-out is audited."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.extensions import db


def _sign_outs():
    return [e.changes for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_out").order_by(AuditEvent.seq))]


@pytest.mark.parametrize(
    ("shift", "reason"),
    [({"last_seen": 31 * 60}, "session_idle"), ({"signed_in_at": 12 * 3600 + 1}, "session_lifetime")],
)
def test_an_idle_or_old_session_is_ended_and_audited(client, login, shift, reason):
    login("caio")
    assert client.get("/pilots").status_code == 200
    with client.session_transaction() as session:
        for key, seconds in shift.items():
            session[key] = int(time.time()) - seconds
    ended = client.get("/pilots")
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/login")
    assert _sign_outs() == [{"reason": reason}]
    assert client.get("/pilots").status_code == 302


def test_activity_keeps_a_session_alive_and_limits_are_configurable(app, client, login):
    login("team")
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 29 * 60
    assert client.get("/pilots").status_code == 200
    app.config["SESSION_IDLE_MINUTES"] = 1
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - 90
    assert client.get("/pilots").status_code == 302


def test_signing_out_is_audited(client, login):
    user = login("board")
    client.post("/logout")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_out")).all()
    assert [(e.entity_id, e.changes) for e in events] == [(str(user.id), {"method": "password"})]
