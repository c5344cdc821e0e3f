"""Content-addressed storage for uploads: streamed to disk, hashed, size-capped, deduplicated."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from registry.errors import InsufficientStorage, PayloadTooLarge, ValidationFailed

__all__ = [
    "CHUNK_SIZE",
    "StoredFile",
    "delete_if_unreferenced",
    "open_stored",
    "path_for",
    "store_stream",
    "stored_upload",
]

CHUNK_SIZE = 1024 * 1024

# Errors that mean "the disk cannot take this file", which the client can do nothing about;
# anything else (EIO, a bug) is not a storage-capacity problem and propagates unchanged.
# ENOTDIR: the configured UPLOAD_FOLDER runs through a regular file, so nothing can be written.
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
)
_SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    """A stored upload: its content hash (also its name), its size in bytes and its path."""

    sha256: str
    size: int
    path: Path


def path_for(root: str | os.PathLike[str], sha256: str) -> Path:
    """Where the content with this sha256 lives; ValueError unless it is 64 lowercase hex digits."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return Path(root) / sha256[:2] / sha256


def open_stored(root: str | os.PathLike[str], sha256: str) -> BinaryIO:
    """Open stored content for reading; FileNotFoundError if it is not (or no longer) stored."""
    return path_for(root, sha256).open("rb")


def delete_if_unreferenced(
    root: str | os.PathLike[str], sha256: str, is_referenced: Callable[[str], bool]
) -> bool:
    """Delete stored content unless `is_referenced(sha256)`; True if a file was deleted."""
    path = path_for(root, sha256)
    if is_referenced(sha256):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    # The fan-out directory stays: removing it could race with a concurrent upload that has
    # just created it and is about to link its file into it.
    return True


def store_stream(
    stream: BinaryIO | Iterable[bytes],
    *,
    root: str | os.PathLike[str],
    max_bytes: int,
    chunk_size: int = CHUNK_SIZE,
) -> StoredFile:
    """Stream an upload to `root/<sha256[:2]>/<sha256>` and return what was stored.

    `stream` is a binary file-like object (anything with ``read``) or an iterable of bytes.
    The client's filename is never used, so no name can escape `root`.

    Raises:
        PayloadTooLarge: as soon as more than `max_bytes` bytes have been read.
        ValidationFailed: the upload is empty.
        InsufficientStorage: the disk is full, over quota, read-only or not writable.
    In every failure case the temporary file is removed.
    """
    stored, _created = _store(stream, Path(root), max_bytes, chunk_size)
    return stored


@contextmanager
def stored_upload(
    stream: BinaryIO | Iterable[bytes],
    root: str | os.PathLike[str],
    max_bytes: int,
    *,
    chunk_size: int = CHUNK_SIZE,
    is_referenced: Callable[[str], bool] | None = None,
) -> Iterator[StoredFile]:
    """Store an upload for the duration of a `with` block that records it.

    If the block raises, the stored file is deleted again, unless the same content was
    already stored before this upload (another record may reference it). Passing
    `is_referenced` additionally keeps content that a concurrent request has referenced in
    the meantime.
    """
    stored, created = _store(stream, Path(root), max_bytes, chunk_size)
    try:
        yield stored
    except BaseException:
        if created:
            try:
                if is_referenced is None:
                    stored.path.unlink(missing_ok=True)
                else:
                    delete_if_unreferenced(root, stored.sha256, is_referenced)
            except Exception:
                # The original error matters more than a stray file; a sweep can remove it.
                log.exception("could not remove stored upload %s", stored.sha256)
        raise


def _store(
    stream: BinaryIO | Iterable[bytes], root: Path, max_bytes: int, chunk_size: int
) -> tuple[StoredFile, bool]:
    """Store the upload; the flag says whether this call created the content file."""
    if max_bytes < 1 or chunk_size < 1:
        raise ValueError("max_bytes and chunk_size must be positive")
    # The temporary file lives under root so that the final rename stays on one filesystem
    # and is atomic: readers never see a partially written content file.
    tmp_dir = root / "tmp"
    with _storage_errors():
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        out = os.fdopen(fd, "wb")
        try:
            for chunk in _chunks(stream, chunk_size):
                size += len(chunk)
                if size > max_bytes:
                    message = f"The file is larger than the limit of {_human_size(max_bytes)}."
                    raise PayloadTooLarge(message, errors={"file": [message]})
                digest.update(chunk)
                with _storage_errors():
                    out.write(chunk)
            with _storage_errors():
                out.flush()
                # Some filesystems (NFS, quotas) report ENOSPC/EDQUOT only on fsync or close.
                os.fsync(out.fileno())
                out.close()
        finally:
            if not out.closed:
                # Closing flushes the buffer again, and on a full disk that fails again; the
                # first error is the one to report. The descriptor is released regardless.
                with suppress(OSError):
                    out.close()
        if size == 0:
            message = "The file is empty."
            raise ValidationFailed(message, errors={"file": [message]})
        final = path_for(root, digest.hexdigest())
        with _storage_errors():
            final.parent.mkdir(exist_ok=True)
            created = _publish(tmp, final, size)
        return StoredFile(sha256=digest.hexdigest(), size=size, path=final), created
    finally:
        # On success the content lives on under its final name; on any failure, including a
        # worker being stopped mid-upload, no part file may be left behind.
        _unlink_quietly(tmp)


def _publish(tmp: Path, final: Path, size: int) -> bool:
    """Give the complete temporary file its content name; True if this call created it."""
    try:
        # A hard link never replaces an existing file, so exactly one of several concurrent
        # uploads of the same content learns that it created the file.
        os.link(tmp, final)
        return True
    except FileExistsError:
        if final.stat().st_size == size:
            return False
        # Same name but wrong size can only be damage; the new copy is known to be good.
        log.warning("replacing damaged stored file %s", final.name)
        os.replace(tmp, final)
        return False
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS - {errno.EPERM}:
            raise
        # Filesystems without hard links (some FUSE and SMB mounts): fall back to rename.
        if final.exists():
            return False
        os.replace(tmp, final)
        return True


def _chunks(stream: BinaryIO | Iterable[bytes], chunk_size: int) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if read is None:
        for chunk in stream:  # type: ignore[union-attr]
            if chunk:
                yield bytes(chunk)
        return
    while chunk := read(chunk_size):
        yield chunk


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRNOS:
            raise
        log.error("upload storage failed: %s", exc)
        message = (
            "The upload could not be written to disk (the server's storage is full or not "
            "writable); try again later or contact the administrator."
        )
        raise InsufficientStorage(message, errors={"file": [message]}) from exc


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove temporary upload %s", path)


def _human_size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
