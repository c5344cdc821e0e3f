"""Accountability reports, the board packet, the dashboard and the exports."""

import csv
import io
import socket
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

COMPAS = Path(__file__).resolve().parents[1] / "data" / "compas_two_year.csv"


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture
def world(client, factory):
    from policies import store

    store.active_version()
    owner = factory.user("team", name="Tomás Reyes")
    caio = factory.user("caio", name="Carmen Ortiz")
    board = factory.user("board")
    pilot = factory.pilot(owner, name="Pretrial risk score", agency="MCG", is_high_impact="High-impact")
    tokens = {name: {"Authorization": f"Bearer {factory.token(user)}"}
              for name, user in {"owner": owner, "caio": caio, "board": board}.items()}
    client.post(f"/api/v1/pilots/{pilot.id}/bias-checks", headers=tokens["owner"], data={
        "y_true": "two_year_recid", "y_pred": "predicted_high_risk", "sensitive_features": "race",
        "name": "COMPAS outputs", "file": (io.BytesIO(COMPAS.read_bytes()), "compas.csv")})
    client.post(f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"])
    items = client.get(f"/api/v1/pilots/{pilot.id}/compliance", headers=tokens["caio"]).get_json()["items"]
    waivers = [{"item_id": i["id"], "justification": "Accepted during the supervised pilot phase."}
               for i in items if i["status"] == "unmet"]
    client.post(f"/api/v1/pilots/{pilot.id}/decisions", headers=tokens["caio"], json={
        "decision": "approve", "rationale": "Supervised pilot only.", "waivers": waivers})
    return {"pilot": pilot, "tokens": tokens, "owner": owner, "caio": caio}


def test_pilot_report_pdf_holds_the_facts(client, world):
    pilot, tokens = world["pilot"], world["tokens"]
    response = client.get(f"/api/v1/pilots/{pilot.id}/report.pdf", headers=tokens["board"])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)
    for expected in ("Pretrial risk score", "Tomás Reyes", "Carmen Ortiz", "CAIO waived",
                     "0.448", "0.235", "African-American", "Caucasian", "Page 1 of", "Approve"):
        assert expected in text, expected
    record = client.get(f"/api/v1/pilots/{pilot.id}/record.json", headers=tokens["board"]).get_json()
    assert record["verification"]["input_sha256"] in text.replace("\n", "")
    assert record["verification"]["chain_head_hash"] in text.replace("\n", "")
    reader = PdfReader(io.BytesIO(response.data))
    assert reader.metadata.title.startswith("Accountability report") and reader.metadata.author
    assert "/StructTreeRoot" in reader.trailer["/Root"]


def test_rendering_twice_gives_the_same_text(client, world):
    url = f"/api/v1/pilots/{world['pilot'].id}/report.pdf"
    first = pdf_text(client.get(url, headers=world["tokens"]["owner"]).data)
    second = pdf_text(client.get(url, headers=world["tokens"]["owner"]).data)
    assert first == second


def test_pdf_prints_lean_charts_and_the_preview_keeps_the_screen_charts(client, world, factory):
    pilot = world["pilot"]
    pdf = client.get(f"/api/v1/pilots/{pilot.id}/report.pdf", headers=world["tokens"]["board"]).data
    assert "race = African-American" in pdf_text(pdf)  # chart labels are still text in the PDF
    client.post("/login", data={"email": world["caio"].email, "password": factory.PASSWORD})
    preview = client.get(f"/pilots/{pilot.id}/report").get_data(as_text=True)
    assert "<desc" in preview and "<g id=" in preview  # browsers get the stored chart as it is


def test_board_packet(client, world):
    response = client.get("/api/v1/reports/board-packet.pdf?since=2020-01-01", headers=world["tokens"]["board"])
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)
    assert "Executive summary" in text and "Pretrial risk score" in text and "Page 2 of" in text
    assert "Decisions since 2020-01-01" in text
    bad = client.get("/api/v1/reports/board-packet.pdf?since=yesterday", headers=world["tokens"]["board"])
    assert bad.status_code == 422 and "since" in bad.get_json()["errors"]
    assert client.get("/api/v1/reports/board-packet.pdf", headers=world["tokens"]["owner"]).status_code == 403


def test_missing_pilot_is_404_json(client, world):
    response = client.get("/api/v1/pilots/987654/report.pdf", headers=world["tokens"]["board"])
    assert response.status_code == 404 and response.is_json


def test_rendering_errors_are_500_json_and_logged(client, world, monkeypatch, caplog):
    import reports.render

    def broken(*args, **kwargs):
        raise RuntimeError("pango exploded")

    monkeypatch.setattr(reports.render, "render_pdf", broken)
    response = client.get(f"/api/v1/pilots/{world['pilot'].id}/report.pdf", headers=world["tokens"]["board"])
    assert response.status_code == 500 and response.is_json
    assert any("pango exploded" in (r.exc_text or "") or r.exc_info for r in caplog.records)


class Listener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def test_smuggled_urls_in_pilot_text_never_reach_the_network(client, factory, world):
    listener = Listener()
    try:
        payload = (f'<img src="http://127.0.0.1:{listener.port}/x.png">'
                   f'<link rel="attachment" href="file:///etc/passwd">'
                   f'<link rel="stylesheet" href="http://127.0.0.1:{listener.port}/s.css">')
        pilot = factory.pilot(world["owner"], name="Smuggler " + payload[:200], purpose=payload,
                              benefits=payload, system_outputs=payload)
        response = client.get(f"/api/v1/pilots/{pilot.id}/report.pdf", headers=world["tokens"]["owner"])
        assert response.status_code == 200
        text = pdf_text(response.data)
        assert "<img src=" in text  # shown as text, escaped, not interpreted
        reader = PdfReader(io.BytesIO(response.data))
        names = reader.trailer["/Root"].get("/Names", {})
        assert "/EmbeddedFiles" not in names
        assert b"root:x:0:0" not in response.data
    finally:
        listener.close()
    assert listener.connections == 0


def test_exports(client, world, factory):
    pilot, tokens = world["pilot"], world["tokens"]
    card = client.get(f"/api/v1/pilots/{pilot.id}/model-card.json", headers=tokens["owner"]).get_json()
    assert card["model_details"]["name"] == "Pretrial risk score"
    assert card["quantitative_analyses"]["verdict"] == "fail"
    factory.pilot(world["owner"], name="=HYPERLINK(\"http://evil\")")
    body = client.get("/api/v1/reports/board-packet.csv", headers=tokens["caio"]).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    names = [r["name"] for r in rows]
    assert "'=HYPERLINK(\"http://evil\")" in names and "Pretrial risk score" in names


def test_dashboard_counts_link_to_filtered_lists(client, world, factory):
    client.post("/login", data={"email": world["caio"].email, "password": factory.PASSWORD})
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Oversight dashboard" in page and "/pilots?review_status=approved" in page
    assert "<svg" in page and "<title" in page
    preview = client.get(f"/pilots/{world['pilot'].id}/report").get_data(as_text=True)
    assert "Accountability report" in preview and "Verification" in preview
    packet = client.get("/reports/board-packet.pdf")
    assert packet.status_code == 200 and packet.data.startswith(b"%PDF-")
    client.post("/logout")
    client.post("/login", data={"email": world["owner"].email, "password": factory.PASSWORD})
    assert client.get("/dashboard").status_code == 403
