"""A governance board member reads the dashboard, follows a count and downloads the packet."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_board_follows_a_dashboard_count_and_downloads_the_board_packet(tab, live_server, width):
    team = live_server.user("team")
    board = live_server.user("board")
    page = tab.page
    tab.login(board)

    tab.follow(tab.nav().get_by_role("link", name="Dashboard"))
    assert tab.heading() == "Oversight dashboard"

    # The figure cards count what the charts show; a pilot submitted now awaits a decision.
    # (The live server's database is shared by the session: count from what is there.)
    awaiting = page.locator("[data-kpi=awaiting_decision] .kpi-value")
    before = int(awaiting.inner_text())
    live_server.pilot(team, submit=True)
    tab.goto("/dashboard")
    expect(awaiting).to_have_text(str(before + 1))
    # Each chart's figures are behind "Show the data"; follow the first non-zero count of a
    # filter to the pilot list it summarises.
    for summary in page.locator(".dash-block details summary").all():
        summary.click()
    counts = page.locator(".dash-block tbody a[href*='/pilots?']")
    link = next(
        counts.nth(i) for i in range(counts.count()) if counts.nth(i).inner_text().split()[0] != "0"
    )
    count = int(link.inner_text().split()[0])
    label = link.locator(".usa-sr-only").inner_text()
    tab.follow(link)
    assert "/pilots?" in page.url
    assert tab.heading() == "AI pilots"
    expect(page.locator(".pagination")).to_contain_text(f"of {count}.", timeout=2_000)
    assert page.locator("table.pilot-table tbody tr").count() == min(count, 25), label

    # On a 375 px phone no chart text is drawn smaller than 12 px.
    page.set_viewport_size({"width": 375, "height": 800})
    tab.goto("/dashboard")
    smallest = page.evaluate(
        """() => Math.min(...Array.from(document.querySelectorAll('figure.portfolio-chart svg text'))
             .map(t => t.getBoundingClientRect().height))"""
    )
    assert smallest >= 12, smallest
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 900})
    tab.goto("/dashboard")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the board packet (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == "board-packet.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
