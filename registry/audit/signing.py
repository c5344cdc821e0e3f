"""The checkpoint signing key (Ed25519, held outside the database) and the signed message.

A checkpoint says "the audit chain's event `seq` has hash `head`", signed at `signed_at`. The
signature covers exactly the bytes of `message()`, so anyone holding the public key can check
a checkpoint without this code (README: "Signed checkpoints").
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MESSAGE_PREFIX = "ai-oversight-registry audit checkpoint v1"


class SigningKeyError(RuntimeError):
    """The signing key can't be read or is not an Ed25519 key."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{what} is not valid base64") from None


def signed_at_text(moment: datetime) -> str:
    """A signing time in the one spelling the signature covers: UTC, seconds, `Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(seq: int, head: str, signed_at: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return f"{MESSAGE_PREFIX}\nseq={int(seq)}\nhead={head}\nsigned_at={signed_at}\n".encode()


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = b64decode(text, what="the public key")
    if len(raw) != 32:
        raise SigningKeyError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(key: Ed25519PrivateKey, seq: int, head: str, signed_at: str) -> str:
    """The base64 signature of one checkpoint."""
    return b64(key.sign(message(seq, head, signed_at)))


def signature_valid(public_key: str, checkpoint: Mapping[str, Any]) -> bool:
    """Whether the checkpoint's signature was made by the key `public_key` (base64)."""
    try:
        key = load_public_key(public_key)
        signature = b64decode(str(checkpoint["signature"]), what="the signature")
        key.verify(
            signature,
            message(int(checkpoint["seq"]), str(checkpoint["head"]), str(checkpoint["signed_at"])),
        )
    except (InvalidSignature, SigningKeyError, KeyError, TypeError, ValueError):
        return False
    return True


def signed_by_any(public_keys: Iterable[str], checkpoint: Mapping[str, Any]) -> str | None:
    """The first of the keys that signed the checkpoint, or None."""
    for key in public_keys:
        if signature_valid(key, checkpoint):
            return key
    return None


def _private_key_from_base64(text: str) -> Ed25519PrivateKey:
    raw = b64decode(text, what="AUDIT_SIGNING_KEY")
    if len(raw) != 32:
        raise SigningKeyError("AUDIT_SIGNING_KEY must be a base64 raw Ed25519 key of 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _read_key_file(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{path} does not hold an unencrypted PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a key that is not Ed25519")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` (mode 0600) unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # A hard link never replaces an existing file: of two processes starting at once,
        # one key wins and both use it.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def load_or_create(*, env_key: str | None, key_file: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The signing key: from the environment (base64), else the key file, created if missing."""
    if env_key:
        return _private_key_from_base64(env_key)
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)
