"""Tests for content-addressed upload storage."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessments import storage
from assessments.storage import (
    StoredFile,
    delete_if_unreferenced,
    open_stored,
    path_for,
    store_stream,
    stored_upload,
)
from registry.errors import InsufficientStorage, PayloadTooLarge, ValidationFailed

MiB = 1024 * 1024


def content_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp")


def temp_files(root: Path) -> list[Path]:
    tmp = root / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


class Upload(io.BytesIO):
    """A werkzeug-FileStorage-like stream whose client-supplied names must be ignored."""

    def __init__(self, data: bytes, filename: str):
        super().__init__(data)
        self.filename = filename
        self.name = filename


def test_round_trip_is_byte_for_byte(tmp_path):
    data = random.Random(1).randbytes(3 * MiB + 12345)
    stored = store_stream(io.BytesIO(data), root=tmp_path, max_bytes=10 * MiB)

    digest = hashlib.sha256(data).hexdigest()
    assert stored == StoredFile(sha256=digest, size=len(data), path=path_for(tmp_path, digest))
    assert stored.path == tmp_path / digest[:2] / digest
    assert stored.path.read_bytes() == data
    with open_stored(tmp_path, digest) as fh:
        assert fh.read() == data
    assert content_files(tmp_path) == [stored.path]
    assert temp_files(tmp_path) == []


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=5000), chunk_size=st.integers(1, 700))
def test_any_content_round_trips_with_any_chunk_size(data, chunk_size):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stored = store_stream(
            io.BytesIO(data), root=root, max_bytes=len(data), chunk_size=chunk_size
        )
        assert stored.size == len(data)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.path.read_bytes() == data
        assert temp_files(root) == []


def test_accepts_an_iterable_of_chunks(tmp_path):
    stored = store_stream(iter([b"ab", b"", bytearray(b"cd")]), root=tmp_path, max_bytes=4)
    assert stored.path.read_bytes() == b"abcd"


def test_identical_content_is_stored_once(tmp_path):
    first = store_stream(io.BytesIO(b"same bytes"), root=tmp_path, max_bytes=100)
    mtime = first.path.stat().st_mtime_ns
    second = store_stream(io.BytesIO(b"same bytes"), root=tmp_path, max_bytes=100)

    assert second == first
    assert first.path.stat().st_mtime_ns == mtime
    assert content_files(tmp_path) == [first.path]
    assert temp_files(tmp_path) == []


def test_different_content_gets_different_files(tmp_path):
    a = store_stream(io.BytesIO(b"a"), root=tmp_path, max_bytes=10)
    b = store_stream(io.BytesIO(b"b"), root=tmp_path, max_bytes=10)
    assert a.path != b.path
    assert content_files(tmp_path) == sorted([a.path, b.path])


def test_damaged_stored_copy_is_replaced(tmp_path):
    stored = store_stream(io.BytesIO(b"good content"), root=tmp_path, max_bytes=100)
    stored.path.write_bytes(b"trunc")
    again = store_stream(io.BytesIO(b"good content"), root=tmp_path, max_bytes=100)
    assert again.path.read_bytes() == b"good content"
    assert temp_files(tmp_path) == []


def test_exactly_the_limit_is_accepted(tmp_path):
    stored = store_stream(io.BytesIO(b"x" * 1000), root=tmp_path, max_bytes=1000, chunk_size=64)
    assert stored.size == 1000


def test_over_the_limit_stops_reading_and_leaves_nothing(tmp_path):
    limit = 5 * MiB
    chunks_read = 0

    def body():
        nonlocal chunks_read
        # One byte over the limit, then far more that must never be read.
        for chunk in [b"x" * MiB] * 5 + [b"y"] + [b"z" * MiB] * 100:
            chunks_read += 1
            yield chunk

    with pytest.raises(PayloadTooLarge) as caught:
        store_stream(body(), root=tmp_path, max_bytes=limit)

    assert caught.value.code == 413
    assert caught.value.errors == {"file": [caught.value.message]}
    assert "5 MiB" in caught.value.message
    assert chunks_read == 6
    assert temp_files(tmp_path) == []
    assert content_files(tmp_path) == []


def test_over_the_limit_from_a_file_like_stream(tmp_path):
    with pytest.raises(PayloadTooLarge):
        store_stream(io.BytesIO(b"x" * 1001), root=tmp_path, max_bytes=1000, chunk_size=100)
    assert temp_files(tmp_path) == []
    assert content_files(tmp_path) == []


@pytest.mark.parametrize("body", [io.BytesIO(b""), iter([]), iter([b"", b""])])
def test_empty_upload_is_422(tmp_path, body):
    with pytest.raises(ValidationFailed) as caught:
        store_stream(body, root=tmp_path, max_bytes=100)
    assert caught.value.code == 422
    assert caught.value.errors == {"file": ["The file is empty."]}
    assert temp_files(tmp_path) == []
    assert content_files(tmp_path) == []


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\system32\\evil.dll", "a/../../b"],
)
def test_client_filename_is_never_used(tmp_path, filename):
    root = tmp_path / "store"
    stored = store_stream(Upload(b"payload", filename), root=root, max_bytes=100)
    digest = hashlib.sha256(b"payload").hexdigest()
    assert stored.path == root / digest[:2] / digest
    assert stored.path.resolve().is_relative_to(root.resolve())
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


@pytest.mark.parametrize(
    "bad",
    [
        "../" + "a" * 61,
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        "",
        None,
        b"a" * 64,
    ],
)
def test_path_for_rejects_anything_but_a_hex_digest(tmp_path, bad):
    with pytest.raises(ValueError):
        path_for(tmp_path, bad)


def test_open_stored_missing_content(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_stored(tmp_path, "0" * 64)


class FailingWriter(io.FileIO):
    """A real temp file whose writes fail with a chosen errno once some data is written."""

    error = errno.ENOSPC

    def write(self, data):
        if self.tell() > 0:
            raise OSError(self.error, os.strerror(self.error))
        return super().write(data)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES])
def test_write_failure_is_507_and_leaves_no_temp_file(tmp_path, monkeypatch, code):
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        if "w" not in mode:
            return real_fdopen(fd, mode, *args, **kwargs)
        writer = FailingWriter(fd, "wb")
        writer.error = code
        return writer

    monkeypatch.setattr(storage.os, "fdopen", fdopen)
    with pytest.raises(InsufficientStorage) as caught:
        store_stream(io.BytesIO(b"x" * 1000), root=tmp_path, max_bytes=10_000, chunk_size=100)

    assert caught.value.code == 507
    assert caught.value.message.startswith("The upload could not be written to disk")
    assert caught.value.errors == {"file": [caught.value.message]}
    assert isinstance(caught.value.__cause__, OSError)
    assert temp_files(tmp_path) == []
    assert content_files(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_real_disk_full_error(tmp_path, monkeypatch):
    """The kernel's own ENOSPC (from /dev/full), surfacing on write, flush or fsync."""
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(storage.tempfile, "mkstemp", mkstemp)
    with pytest.raises(InsufficientStorage):
        store_stream(io.BytesIO(b"x" * 100), root=tmp_path, max_bytes=1000)
    assert temp_files(tmp_path) == []
    assert content_files(tmp_path) == []


def test_unwritable_root_is_507(tmp_path, monkeypatch):
    def mkstemp(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(storage.tempfile, "mkstemp", mkstemp)
    with pytest.raises(InsufficientStorage):
        store_stream(io.BytesIO(b"data"), root=tmp_path, max_bytes=100)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_root_directory_is_507(tmp_path):
    root = tmp_path / "store"
    (root / "tmp").mkdir(parents=True)
    root.chmod(0o555)
    (root / "tmp").chmod(0o555)
    try:
        with pytest.raises(InsufficientStorage):
            store_stream(io.BytesIO(b"data"), root=root, max_bytes=100)
    finally:
        (root / "tmp").chmod(0o755)
        root.chmod(0o755)
    assert temp_files(root) == []


def test_other_os_errors_propagate_unchanged(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage.os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        store_stream(io.BytesIO(b"data"), root=tmp_path, max_bytes=100)
    assert caught.value.errno == errno.EIO
    assert not isinstance(caught.value, InsufficientStorage)
    assert temp_files(tmp_path) == []


def test_a_failing_client_stream_leaves_no_temp_file(tmp_path):
    class Disconnects(io.RawIOBase):
        def read(self, size=-1):
            raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store_stream(Disconnects(), root=tmp_path, max_bytes=100)
    assert temp_files(tmp_path) == []


def test_falls_back_to_rename_without_hard_links(tmp_path, monkeypatch):
    def link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(storage.os, "link", link)
    stored = store_stream(io.BytesIO(b"data"), root=tmp_path, max_bytes=100)
    assert stored.path.read_bytes() == b"data"
    again = store_stream(io.BytesIO(b"data"), root=tmp_path, max_bytes=100)
    assert again == stored
    assert temp_files(tmp_path) == []


def test_delete_if_unreferenced(tmp_path):
    stored = store_stream(io.BytesIO(b"data"), root=tmp_path, max_bytes=100)
    asked = []

    def referenced(sha):
        asked.append(sha)
        return True

    assert delete_if_unreferenced(tmp_path, stored.sha256, referenced) is False
    assert stored.path.exists()
    assert asked == [stored.sha256]
    assert delete_if_unreferenced(tmp_path, stored.sha256, lambda sha: False) is True
    assert not stored.path.exists()
    assert delete_if_unreferenced(tmp_path, stored.sha256, lambda sha: False) is False
    with pytest.raises(ValueError):
        delete_if_unreferenced(tmp_path, "../x", lambda sha: False)


def test_stored_upload_keeps_the_file_on_success(tmp_path):
    with stored_upload(io.BytesIO(b"kept"), tmp_path, 100) as stored:
        assert stored.path.read_bytes() == b"kept"
    assert stored.path.exists()


def test_stored_upload_removes_a_new_file_when_the_body_fails(tmp_path):
    with pytest.raises(RuntimeError, match="transaction failed"):
        with stored_upload(io.BytesIO(b"new content"), tmp_path, 100) as stored:
            assert stored.path.exists()
            raise RuntimeError("transaction failed")
    assert not stored.path.exists()
    assert content_files(tmp_path) == []
    assert temp_files(tmp_path) == []


def test_stored_upload_never_removes_content_that_existed_before(tmp_path):
    existing = store_stream(io.BytesIO(b"shared"), root=tmp_path, max_bytes=100)
    with pytest.raises(RuntimeError):
        with stored_upload(io.BytesIO(b"shared"), tmp_path, 100) as stored:
            assert stored == existing
            raise RuntimeError("transaction failed")
    assert existing.path.read_bytes() == b"shared"


def test_stored_upload_keeps_content_referenced_meanwhile(tmp_path):
    with pytest.raises(RuntimeError):
        with stored_upload(
            io.BytesIO(b"raced"), tmp_path, 100, is_referenced=lambda sha: True
        ) as stored:
            raise RuntimeError("transaction failed")
    assert stored.path.exists()


def test_stored_upload_propagates_storage_errors_before_the_body(tmp_path):
    entered = False
    with pytest.raises(PayloadTooLarge):
        with stored_upload(io.BytesIO(b"x" * 101), tmp_path, 100):
            entered = True
    assert not entered
    assert content_files(tmp_path) == []
