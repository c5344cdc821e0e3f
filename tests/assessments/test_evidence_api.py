"""Evidence files over the API: sniffed by content, stored by sha256, downloaded byte for byte."""

import io
import os

import pytest
from sqlalchemy import func, select

from assessments.models import Evidence
from registry.audit.models import AuditEvent
from registry.extensions import db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def team(factory):
    return factory.user("team")


@pytest.fixture
def headers(factory, team):
    return factory.headers(team)


@pytest.fixture
def pilot(factory, team):
    from policies import store

    store.active_version()  # install the shipped policy first, so counts compare like with like
    return factory.pilot(team, is_high_impact="High-impact")


def upload(client, pilot, headers, content, name, kind="pia", **extra):
    data = {"kind": kind, "file": (io.BytesIO(content), name), **extra}
    return client.post(f"/api/v1/pilots/{pilot.id}/evidence", data=data, headers=headers)


def counts():
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(Evidence)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_upload_and_download_byte_for_byte(client, headers, pilot):
    response = upload(
        client, pilot, headers, PDF, "privacy-assessment.pdf", item_id="privacy_impact_assessment"
    )
    assert response.status_code == 201, response.get_json()
    evidence = response.get_json()
    assert evidence["media_type"] == "application/pdf" and evidence["size"] == len(PDF)
    download = client.get(evidence["download_url"], headers=headers)
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    listed = client.get(f"/api/v1/pilots/{pilot.id}/evidence", headers=headers).get_json()
    assert [e["id"] for e in listed] == [evidence["id"]]


def test_evidence_meets_checklist_items(client, headers, pilot):
    upload(
        client,
        pilot,
        headers,
        b"Operators were trained on 2026-01-12.\n",
        "training.txt",
        kind="training_record",
    )
    items = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=headers).get_json()["items"]
    training = next(i for i in items if i["id"] == "hi_training_established")
    assert training["status"] == "met" and training["evidence"]


@pytest.mark.parametrize(
    ("content", "name", "status"),
    [
        (
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
            + b"\x00" * 48
            + b"PE\x00\x00",
            "report.pdf",
            422,
        ),
        (b"<!doctype html><html><script>alert(1)</script></html>", "notes.txt", 422),
        (b"", "empty.pdf", 422),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "scan.png", 422),
    ],
    ids=["disguised executable", "html as text", "empty", "elf as png"],
)
def test_bad_files_are_refused_and_leave_nothing(
    client, app, headers, pilot, content, name, status
):
    before = counts()
    response = upload(client, pilot, headers, content, name)
    assert response.status_code == status and "file" in response.get_json()["errors"]
    assert counts() == before
    root = os.path.join(app.config["UPLOAD_FOLDER"], "evidence")
    stored = [f for dirpath, _, files in os.walk(root) for f in files if "tmp" not in dirpath]
    assert stored == []


def test_too_large_is_413(client, app, headers, pilot):
    app.config["MAX_EVIDENCE_BYTES"] = 1024
    response = upload(client, pilot, headers, b"a" * 5000, "big.txt")
    assert response.status_code == 413 and response.is_json
    assert counts()[0] == 0


def test_unknown_kind_and_item_are_named(client, headers, pilot):
    response = upload(
        client, pilot, headers, PDF, "x.pdf", kind="horoscope", item_id="no_such_item"
    )
    assert response.status_code == 422
    assert {"kind", "item_id"} <= set(response.get_json()["errors"])


def test_missing_file_is_named(client, headers, pilot):
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/evidence", data={"kind": "pia"}, headers=headers
    )
    assert response.status_code == 422 and "file" in response.get_json()["errors"]
