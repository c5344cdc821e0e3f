"""Signed checkpoints of the audit chain head, and checking that the chain extends them.

The hash chain alone proves only that the stored events agree with each other: whoever can
write to the database can rewrite an event and recompute every later hash. A checkpoint signs
(seq, head) with a key that lives outside the database, and copies of it live outside the
system (the public endpoint, every PDF, an auditor's files). A rewritten history no longer has
the signed hash at that seq, and its writer cannot sign a new checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from registry.audit import hash_chain, signing
from registry.audit.models import AuditCheckpoint, AuditEvent
from registry.audit.service import chain_head, stored_events
from registry.extensions import db

log = logging.getLogger(__name__)


class CheckpointRefused(RuntimeError):
    """The chain does not extend the last checkpoint, so it must not be signed again."""


class CheckpointFileError(ValueError):
    """An external checkpoint file can't be read."""


def signing_key() -> signing.Ed25519PrivateKey:
    """The app's signing key: AUDIT_SIGNING_KEY (base64), else AUDIT_SIGNING_KEY_FILE."""
    config = current_app.config
    return signing.load_or_create(
        env_key=config.get("AUDIT_SIGNING_KEY"), key_file=config["AUDIT_SIGNING_KEY_FILE"]
    )


def public_key() -> str:
    """The current signing key's public half, base64 (raw 32 bytes)."""
    return signing.public_key_text(signing_key())


def trusted_public_keys() -> list[str]:
    """The current public key and those of retired keys (AUDIT_TRUSTED_PUBLIC_KEYS)."""
    retired = current_app.config.get("AUDIT_TRUSTED_PUBLIC_KEYS") or []
    if isinstance(retired, str):
        retired = retired.replace(",", " ").split()
    return [public_key(), *(key.strip() for key in retired if key.strip())]


def as_dict(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as published: what the signature covers, the signature and its key."""
    return {
        "seq": checkpoint.seq,
        "head": checkpoint.head,
        "signed_at": signing.signed_at_text(checkpoint.signed_at),
        "signature": checkpoint.signature,
        "public_key": checkpoint.public_key,
    }


def stored() -> list[AuditCheckpoint]:
    """Every stored checkpoint, oldest first."""
    return list(db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))


def latest() -> AuditCheckpoint | None:
    """The newest stored checkpoint."""
    return db.session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))


def document() -> dict[str, Any]:
    """The public document: the current public key and every checkpoint."""
    return {"public_key": public_key(), "checkpoints": [as_dict(c) for c in stored()]}


def _events_after(seq: int, up_to: int) -> Iterator[hash_chain.ChainEvent]:
    return stored_events(select(AuditEvent).where(AuditEvent.seq > seq, AuditEvent.seq <= up_to))


def _hash_at(seq: int) -> str | None:
    if seq == 0:
        return hash_chain.GENESIS_HASH
    return db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


def local_copy_path() -> Path:
    """Where the signer keeps its own copy of the last checkpoint it signed (beside the key)."""
    configured = current_app.config.get("AUDIT_CHECKPOINT_COPY_FILE")
    if configured:
        return Path(configured)
    return Path(current_app.config["AUDIT_SIGNING_KEY_FILE"]).with_name(
        "audit_last_checkpoint.json"
    )


def local_copy() -> dict[str, Any] | None:
    """The signer's own copy of its last checkpoint, if it has one."""
    path = local_copy_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise CheckpointRefused(f"{path} can't be read: {error}") from None
    return data if isinstance(data, dict) and "seq" in data and "head" in data else None


def _keep_local_copy(checkpoint: dict[str, Any]) -> None:
    path = local_copy_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(checkpoint, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError as error:  # the stored and published copies still exist
        log.warning("audit checkpoint: could not keep a local copy in %s: %s", path, error)


def create(*, only_if_advanced: bool = False) -> AuditCheckpoint | None:
    """Sign the current chain head and store the checkpoint; the caller's session commits.

    First the chain must extend the last stored checkpoint and the signer's own copy of the
    last one it signed (kept beside the key, out of a database writer's reach: deleting the
    stored checkpoints does not get a rewritten history signed). The events after the newer
    of the two are verified from its signed hash. A chain that fails is refused
    (CheckpointRefused), never signed. With `only_if_advanced`, nothing is signed when the
    head has not moved since the last checkpoint.
    """
    head_seq, head_hash = chain_head()
    last = latest()
    if last is not None and only_if_advanced and last.seq == head_seq and last.head == head_hash:
        return None
    anchors = [(last.seq, last.head)] if last is not None else []
    if (copy := local_copy()) is not None:
        anchors.append((int(copy["seq"]), str(copy["head"])))
    start = (0, hash_chain.GENESIS_HASH)
    for seq, head in anchors:
        if seq > head_seq or _hash_at(seq) != head:
            raise CheckpointRefused(
                f"event {seq} no longer has the hash signed in the last checkpoint; "
                "run `flask --app wsgi audit verify`"
            )
        start = max(start, (seq, head))
    result = hash_chain.verify(
        _events_after(start[0], head_seq), head=(head_seq, head_hash), after=start
    )
    if not result.ok:
        raise CheckpointRefused(f"the audit chain is broken: {result.reason}")
    key = signing_key()
    signed_at = datetime.now(UTC).replace(microsecond=0)
    checkpoint = AuditCheckpoint(
        seq=head_seq,
        head=head_hash,
        signed_at=signed_at,
        signature=signing.sign(key, head_seq, head_hash, signing.signed_at_text(signed_at)),
        public_key=signing.public_key_text(key),
    )
    db.session.add(checkpoint)
    db.session.flush()
    # Written before the caller commits: the signed (seq, head) is in the chain either way.
    _keep_local_copy(as_dict(checkpoint))
    log.info("audit checkpoint signed: event %s %s", head_seq, head_hash)
    return checkpoint


@dataclass(frozen=True)
class Problem:
    """One checkpoint the chain fails: which one, and why."""

    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def check(
    checkpoints: Iterable[Mapping[str, Any]],
    *,
    public_keys: list[str],
    label: str,
    require_signature: bool = True,
) -> tuple[int, list[Problem]]:
    """Check each checkpoint's signature against the keys and that the chain extends it.

    Returns how many were checked and the problems found.
    """
    problems: list[Problem] = []
    head_seq, _ = chain_head()
    count = 0
    for index, checkpoint in enumerate(checkpoints, start=1):
        count += 1
        name = f"{label} {index} (event {checkpoint.get('seq')})"
        try:
            seq, head = int(checkpoint["seq"]), str(checkpoint["head"])
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(name, "needs an integer 'seq' and a 'head' hash"))
            continue
        if checkpoint.get("signature") is not None or require_signature:
            if signing.signed_by_any(public_keys, checkpoint) is None:
                problems.append(
                    Problem(name, "the signature is not valid for the registry's public key")
                )
                continue
        if seq > head_seq:
            problems.append(
                Problem(name, f"the chain ends at event {head_seq}: events after it are missing")
            )
            continue
        found = _hash_at(seq)
        if found is None:
            problems.append(Problem(name, f"event {seq} is missing"))
        elif found != head:
            problems.append(
                Problem(
                    name,
                    f"event {seq} has hash {found}, not the signed {head}: "
                    "the history was rewritten",
                )
            )
    return count, problems


def check_stored() -> tuple[int, list[Problem]]:
    """Check every stored checkpoint against the trusted public keys (not the stored ones)."""
    rows = [as_dict(c) for c in stored()]
    return check(rows, public_keys=trusted_public_keys(), label="stored checkpoint")


def read_external(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """The checkpoints in a file: one checkpoint object, or the endpoint's whole document.

    Returns the checkpoints and the public key the file names, if any.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointFileError(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointFileError("expected a JSON object")
    if "checkpoints" in data:
        items = data["checkpoints"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise CheckpointFileError("'checkpoints' must be a list of objects")
        return items, data.get("public_key")
    if "seq" in data and "head" in data:
        return [data], data.get("public_key")
    raise CheckpointFileError("expected a checkpoint (seq, head, signed_at, signature)")


def check_external(text: str, *, label: str) -> tuple[int, list[Problem]]:
    """Check a checkpoint file: signed by the key it names (else a trusted key), and extended."""
    items, named_key = read_external(text)
    problems: list[Problem] = []
    count = 0
    trusted = trusted_public_keys()
    for item in items:
        keys = [item["public_key"]] if item.get("public_key") else []
        keys += [named_key] if named_key else []
        checked, found = check(
            [item], public_keys=keys or trusted, label=label, require_signature=False
        )
        count += checked
        problems += found
    return count, problems


def check_head(seq: int, head: str) -> list[Problem]:
    """Check that the chain extends a bare (seq, head), such as one copied from an old PDF."""
    _, problems = check(
        [{"seq": seq, "head": head}], public_keys=[], label="given head", require_signature=False
    )
    return problems
