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
    live_server.pilot(team, submit=True)
    page = tab.page
    tab.login(board)

    tab.follow(tab.nav().get_by_role("link", name="Dashboard"))
    assert tab.heading() == "Oversight dashboard"

    # Follow the first non-zero count of a filter to the pilot list it summarises.
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

    tab.goto("/dashboard")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the board packet (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == "board-packet.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
