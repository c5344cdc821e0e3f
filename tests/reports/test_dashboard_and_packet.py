"""The dashboard's figure cards, its charts and data tables, and the board packet's cover and
page layout."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from registry.catalog.models import Pilot
from registry.extensions import db
from reports.charts import BLACK, GREEN, PURPLE, STATUS_STYLES, TIER_STYLES, bar_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def _kpis(html: str) -> dict[str, int]:
    cards = re.findall(r'data-kpi="([a-z_]+)">.*?<span class="kpi-value">(\d+)</span>', html, re.S)
    return {key: int(value) for key, value in cards}


@pytest.fixture
def portfolio(factory):
    """Pilots in known states: 2 submitted, 1 approved, 1 approved with conditions, 1 in use
    without approval; one serious incident, one low one; one overdue condition."""
    from assessments import incidents

    owner = factory.user("team")
    pilots = [factory.pilot(owner, name=f"Use case {n}") for n in range(6)]
    factory.set_state(pilots[0], review_status="submitted", risk_tier="IV")
    factory.set_state(pilots[1], review_status="submitted", risk_tier="III")
    factory.set_state(pilots[2], review_status="approved", risk_tier="II")
    factory.set_state(pilots[3], review_status="approved_with_conditions", risk_tier="II")
    factory.set_state(pilots[4], stage="deployed", in_use_without_approval=True)
    incidents.open_incident({"pilot_id": pilots[2].id, "severity": "serious"}, owner)
    incidents.open_incident({"pilot_id": pilots[3].id, "severity": "low"}, owner)
    overdue = factory.condition(pilots[3], "Publish the notice.")
    overdue.due_date = dt.date.today() - dt.timedelta(days=3)
    factory.condition(pilots[3], "Train the operators.")  # due in 30 days: not overdue
    db.session.commit()
    return pilots


def test_the_dashboard_cards_count_what_the_data_holds(client, login, portfolio):
    login("board")
    html = client.get("/dashboard").get_data(as_text=True)
    kpis = _kpis(html)

    def count(*where):
        return db.session.scalar(sa.select(sa.func.count()).select_from(Pilot).where(*where))

    assert kpis == {
        "total": count(),
        "approved": count(Pilot.review_status.in_(["approved", "approved_with_conditions"])),
        "awaiting_decision": count(Pilot.review_status == "submitted"),
        "in_use_without_approval": count(Pilot.in_use_without_approval.is_(True)),
        "serious_incidents": 1,
        "overdue_conditions": 1,
    }
    assert kpis["total"] == 6 and kpis["approved"] == 2 and kpis["awaiting_decision"] == 2
    assert kpis["in_use_without_approval"] == 1
    # A figure that is a problem says so in words, not only in colour.
    assert html.count("Needs attention") == 3
    assert "/pilots?review_status=submitted" in html


def test_the_dashboard_tables_are_behind_a_show_the_data_toggle(client, login, portfolio):
    login("board")
    html = client.get("/dashboard").get_data(as_text=True)
    for title in ("pilots by risk tier", "pilots by stage", "pilots by review status"):
        assert f"<summary>Show the data: {title}</summary>" in html
    # The tables are inside the <details>, after their chart.
    block = html.split('id="status-heading"')[1].split("</section>")[0]
    assert block.index("<svg") < block.index("<details") < block.index("<table")
    assert "Approved with conditions</th><td><a" in block


def test_charts_colour_by_tier_and_status_with_symbols_and_readable_text():
    svg = bar_chart_svg("status", "Pilots by review status", ["Approved", "Approved with conditions",
                        "Rejected"], [3, 1, 0], [STATUS_STYLES["approved"],
                        STATUS_STYLES["approved_with_conditions"], STATUS_STYLES["rejected"]])
    root = ET.fromstring(svg)
    fills = " ".join(p.get("style", "") for p in root.iter(f"{SVG}path"))
    assert GREEN.lower() in fills.lower() and PURPLE.lower() in fills.lower()
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "✓ Approved" in texts and "✓* Approved with conditions" in texts and "✗ Rejected" in texts
    # Drawn 3.5 in (252 pt = 336 px) wide, the size a 375 px phone shows it at: every label is
    # at least 10 pt, i.e. 13.3 px.
    assert root.get("width") == "252pt"
    sizes = [float(m) for m in re.findall(r"font-size:\s*([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 10 * 1.0  # matplotlib writes pt as px in SVG user units
    tiers = bar_chart_svg("tier", "Pilots by risk tier", ["Tier IV"], [2], [TIER_STYLES["IV"]])
    assert "▇ Tier IV" in tiers and TIER_STYLES["IV"].colour == BLACK
    # Each palette colour has at least 3:1 contrast against white (WCAG 1.4.11).
    for style in [*TIER_STYLES.values(), *STATUS_STYLES.values()]:
        assert _contrast(style.colour) >= 3.0, style


def _contrast(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (lum + 0.05)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is missing")
def test_the_board_packet_has_a_cover_with_the_agency_and_the_date(
    app, client, login, portfolio, tmp_path
):
    from assessments.compliance import today
    from registry.auth.organizations import root

    login("board")
    pdf = tmp_path / "packet.pdf"
    pdf.write_bytes(client.get("/reports/board-packet.pdf").data)

    def page_text(first: int, last: int) -> str:
        out = subprocess.run(["pdftotext", "-f", str(first), "-l", str(last), "-layout", str(pdf), "-"],
                             check=True, capture_output=True, text=True).stdout
        return re.sub(r"\s+", " ", out)

    cover = page_text(1, 1)
    assert "AI portfolio: board packet" in cover
    assert root().name in cover
    assert f"Prepared {today().day} {today():%B %Y}" in cover
    assert "Contents" in cover and "Executive summary" in cover
    # The next page opens with the top residual risks (the board reads them first), then the
    # executive summary with the key figures.
    second = page_text(2, 2)
    assert "Executive summary Key figures" in second
    assert second.index("Top residual risks") < second.index("Executive summary Key figures")
    # AGENCY_NAME, when configured, names the agency instead.
    app.config["AGENCY_NAME"] = "Department of Examples"
    pdf.write_bytes(client.get("/reports/board-packet.pdf").data)
    assert "Department of Examples" in page_text(1, 1)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is missing")
def test_the_board_packet_keeps_each_chart_with_its_figures_and_the_verification_whole(
    client, login, portfolio, tmp_path
):
    login("board")
    pdf = tmp_path / "packet.pdf"
    pdf.write_bytes(client.get("/reports/board-packet.pdf").data)
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout).group(1))
    texts = [
        subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                       check=True, capture_output=True, text=True).stdout
        for n in range(1, pages + 1)
    ]
    for title in ("Pilots by risk tier", "Pilots by stage", "Pilots by review status"):
        holding = [n for n, text in enumerate(texts) if f"{title}: the figures" in text]
        assert len(holding) == 1 and title in texts[holding[0]].replace(f"{title}: the figures", "")
    verification = [n for n, text in enumerate(texts) if "Latest signed checkpoint" in text
                    or "Audit chain head when rendered" in text or "sha256 of this report" in text]
    assert len(set(verification)) == 1, verification
    # "Each use case" shares its page with the first use case, and use cases share pages
    # (one per page left most of each page empty).
    start = next(n for n, text in enumerate(texts) if "Each use case" in text and "Sorted by" in text)
    assert "Agency" in texts[start] and "Owner" in texts[start]
    assert any(text.count("Owner") >= 2 for text in texts[start:]), "one use case per page"
