"""The public transparency inventory, without signing in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import unique

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_public_searches_the_inventory_and_downloads_the_csv(tab, live_server, width):
    owner = live_server.user("team")
    name = unique("Benefits letter translator")
    live_server.pilot(
        owner, name=name, purpose="Translates benefits letters for residents.", submit=True
    )
    hidden = live_server.pilot(
        owner, name=unique("Withheld triage"), is_withheld="Yes - Disclosure Risk", submit=True
    )
    page = tab.page

    tab.goto("/")  # the front door for visitors is the inventory
    assert tab.heading() == "AI use-case inventory"
    expect(page.locator(".plain-explanation")).to_contain_text("Chief AI Officer")
    expect(tab.nav().get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    tab.close_menu()

    page.get_by_label("Search name, purpose and agency").fill(name)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/?*")
    tab.check()
    rows = page.locator("table.inventory-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(name)
    expect(rows.first).to_contain_text("Translates benefits letters")

    # Each use case has its own page, at a permalink.
    tab.follow(rows.first.get_by_role("link", name=name))
    assert tab.heading() == name
    assert "/inventory/" in page.url
    expect(page.locator("main")).to_contain_text("Translates benefits letters")
    page.go_back()
    page.wait_for_load_state("load")

    page.get_by_label("Search name, purpose and agency").fill(hidden.name)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="No use cases found")).to_be_visible()
    tab.check()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text(encoding="utf-8-sig")
    records = list(csv.DictReader(io.StringIO(content)))
    names = {record["use_case_name"] for record in records}
    assert name in names
    assert hidden.name not in names
