"""Signed checkpoints: a history rewritten with every hash recomputed no longer verifies.

Issue #13 item 6: a database writer rewrote an approval's actor and rationale, recomputed every
later hash and the head, and `audit verify` still passed. Checkpoints signed with a key kept
outside the database, and copies kept outside the system, now catch it.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import stat
import threading
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pypdf import PdfReader
from sqlalchemy import func, select

from registry.audit import hash_chain, schedule
from registry.audit.models import AuditCheckpoint, AuditEvent
from registry.extensions import db
from tests.registry.test_lifecycle import approve, people, pilot, submit, tokens  # noqa: F401


@pytest.fixture
def approved(client, factory, pilot, tokens):  # noqa: F811
    """A pilot approved through the API: the history holds a `record_decision` event."""
    submit(client, pilot.id, tokens["owner"])
    approve(client, pilot.id, tokens, rationale="Benefits outweigh the residual risk.")
    pilot_id = pilot.id
    db.session.remove()
    return pilot_id


def checkpoint(runner) -> dict:
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


_names = itertools.count(1)


def more_history(client, factory, n=2):
    admin = factory.user("admin")
    headers = factory.headers(admin)
    for _ in range(n):
        response = client.post(
            "/api/v1/data-sources", json={"name": f"Later source {next(_names)}"}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
    db.session.remove()


def rewrite_history(action: str = "record_decision") -> int:
    """What a database writer can do: edit an event, recompute every later hash and the head.

    Only raw SQL, as an attacker with a database connection would; returns the edited seq.
    """
    conn = db.session.connection()
    seq = conn.execute(
        sa.text("SELECT min(seq) FROM audit_events WHERE action = :a"), {"a": action}
    ).scalar_one()
    changes = db.session.get(AuditEvent, seq).changes
    changes = dict(changes, rationale="Approved without reservation.")
    conn.execute(
        sa.text(
            "UPDATE audit_events SET actor = :actor, changes = :changes WHERE seq = :seq"
        ).bindparams(sa.bindparam("changes", type_=sa.JSON)),
        {"actor": "mallory@agency.gov", "changes": changes, "seq": seq},
    )
    db.session.expire_all()
    prev = conn.execute(
        sa.text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq - 1}
    ).scalar_one()
    for event in db.session.scalars(
        select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
    ):
        payload = hash_chain.event_payload(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            changes=event.changes,
        )
        new_hash = hash_chain.digest(prev, payload)
        conn.execute(
            sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": new_hash, "s": event.seq},
        )
        prev = new_hash
    conn.execute(sa.text("UPDATE audit_chain_head SET hash = :h"), {"h": prev})
    db.session.commit()
    db.session.remove()
    return seq


def test_checkpoint_signs_the_head_with_a_key_file_made_on_first_use(app, client, runner, history):
    key_file = app.config["AUDIT_SIGNING_KEY_FILE"]
    made = checkpoint(runner)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    head = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert (made["seq"], made["head"]) == (head.seq, head.hash)

    published = client.get("/api/v1/audit/checkpoints")  # no token
    assert published.status_code == 200
    document = published.get_json()
    assert document["checkpoints"] == [made]
    # Checked here with `cryptography` alone, over the message the README documents.
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(document["public_key"]))
    message = (
        "ai-oversight-registry audit checkpoint v1\n"
        f"seq={made['seq']}\nhead={made['head']}\nsigned_at={made['signed_at']}\n"
    ).encode()
    key.verify(base64.b64decode(made["signature"]), message)  # raises if invalid

    result = verify(runner)
    assert result.exit_code == 0, result.output
    # The stored one, and the signer's own copy kept beside the key.
    assert "2 signed checkpoints verified" in result.output


@pytest.fixture
def history(client, factory):
    more_history(client, factory, 3)


def test_a_key_from_the_environment_is_used_and_no_file_is_written(database_uri, tmp_path):
    from registry import create_app
    from tests.conftest import BASE_CONFIG

    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "AUDIT_SIGNING_KEY": base64.b64encode(raw).decode(),
            "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "never.pem"),
        }
    )
    expected = base64.b64encode(
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    made = checkpoint(app.test_cli_runner())
    assert made["public_key"] == expected
    assert app.test_client().get("/api/v1/audit/checkpoints").get_json()["public_key"] == expected
    assert not (tmp_path / "never.pem").exists()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_rewritten_history_fails_against_the_stored_checkpoints(client, factory, runner, approved):
    checkpoint(runner)
    more_history(client, factory)
    checkpoint(runner)
    edited = rewrite_history()

    result = verify(runner)
    # Every hash agrees with the others: the chain alone can't tell ...
    assert "audit chain intact" in result.output
    # ... but the signed checkpoints can.
    assert result.exit_code == 1, result.output
    assert "the history was rewritten" in result.output
    assert db.session.scalar(select(AuditEvent.actor).where(AuditEvent.seq == edited)) == (
        "mallory@agency.gov"
    )
    # And the registry refuses to sign the rewritten head.
    refused = runner.invoke(args=["audit", "checkpoint"])
    assert refused.exit_code != 0 and "not signed" in refused.output


def test_rewritten_checkpoints_fail_their_signature(client, factory, runner, approved):
    checkpoint(runner)
    more_history(client, factory)
    rewrite_history()
    # The writer also points the stored checkpoints at the new hashes; they can't re-sign.
    conn = db.session.connection()
    for row in conn.execute(sa.text("SELECT id, seq FROM audit_checkpoints")).all():
        new_head = conn.execute(
            sa.text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": row.seq}
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE audit_checkpoints SET head = :h WHERE id = :i"),
            {"h": new_head, "i": row.id},
        )
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "signature is not valid" in result.output


@pytest.mark.parametrize("form", ["document", "single"])
def test_rewritten_history_fails_against_an_earlier_checkpoint_file(
    client, factory, runner, approved, tmp_path, form
):
    checkpoint(runner)
    document = client.get("/api/v1/audit/checkpoints").get_json()
    kept = tmp_path / "kept.json"
    kept.write_text(
        json.dumps(document if form == "document" else document["checkpoints"][-1]),
        encoding="utf-8",
    )
    more_history(client, factory)
    assert verify(runner, "--checkpoint", str(kept)).exit_code == 0

    rewrite_history()
    # The writer also deletes every stored checkpoint: only the auditor's copy is left.
    db.session.execute(sa.text("DELETE FROM audit_checkpoints"))
    db.session.commit()
    result = verify(runner, "--checkpoint", str(kept))
    assert result.exit_code == 1, result.output
    assert "kept.json" in result.output and "the history was rewritten" in result.output


def test_a_head_copied_from_elsewhere_is_checked(client, factory, runner, approved):
    head = db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    seq, good = head.seq, head.hash
    more_history(client, factory)
    assert verify(runner, "--head", f"{seq}:{good}").exit_code == 0
    rewrite_history()
    result = verify(runner, "--head", f"{seq}:{good}")
    assert result.exit_code == 1 and f"event {seq}" in result.output


def test_a_forged_checkpoint_file_is_refused(client, runner, approved, tmp_path):
    made = checkpoint(runner)
    forged = dict(made, seq=made["seq"] - 1, head="0" * 64)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged), encoding="utf-8")
    result = verify(runner, "--checkpoint", str(path))
    assert result.exit_code == 1 and "signature is not valid" in result.output
    path.write_text("[1, 2]", encoding="utf-8")
    result = verify(runner, "--checkpoint", str(path))
    assert result.exit_code == 1 and "expected a JSON object" in result.output


def test_the_schedule_signs_a_head_that_moved_and_only_then(app, client, factory, history):
    app.config["AUDIT_CHECKPOINT_INTERVAL_SECONDS"] = 1
    before = set(threading.enumerate())
    stop = schedule.start(app)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.remove()
            if db.session.scalar(select(func.count()).select_from(AuditCheckpoint)):
                break
            time.sleep(0.05)
        assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) >= 1
    finally:
        stop.set()
        for thread in set(threading.enumerate()) - before:
            if thread.name == "audit-checkpoints":
                thread.join(timeout=20)
                assert not thread.is_alive()
    db.session.remove()
    count = db.session.scalar(select(func.count()).select_from(AuditCheckpoint))
    schedule.sign_if_moved(app)  # the head has not moved: nothing new
    assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == count
    more_history(client, factory, 1)
    schedule.sign_if_moved(app)
    assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == count + 1


def test_every_pdf_carries_the_latest_signed_checkpoint(client, factory, runner, approved):
    made = checkpoint(runner)
    board = factory.headers(factory.user("board"))
    for url in (f"/api/v1/pilots/{approved}/report.pdf", "/api/v1/reports/board-packet.pdf"):
        response = client.get(url, headers=board)
        assert response.status_code == 200, url
        reader = PdfReader(io.BytesIO(response.data))
        text = "".join(page.extract_text() or "" for page in reader.pages).replace("\n", "")
        assert "Latest signed checkpoint" in text, url
        for value in (made["head"], made["signature"], made["public_key"], made["signed_at"]):
            assert value in text, (url, value)


def test_deleting_the_stored_checkpoints_does_not_get_a_rewrite_signed(
    app, client, factory, runner, approved
):
    checkpoint(runner)
    more_history(client, factory)
    rewrite_history()
    db.session.execute(sa.text("DELETE FROM audit_checkpoints"))
    db.session.commit()
    # The signer kept its own copy of what it signed, beside the key: it refuses ...
    refused = runner.invoke(args=["audit", "checkpoint"])
    assert refused.exit_code != 0 and "no longer has the hash signed" in refused.output
    assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0
    # ... and verify, with no file given, reports the rewrite.
    result = verify(runner)
    assert result.exit_code == 1 and "signer's copy" in result.output
    assert "the history was rewritten" in result.output
