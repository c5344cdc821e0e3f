"""The pilot page as a task list, on a phone and a desktop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [375, 1280])
def test_first_screen_shows_status_and_next_action_and_steps_link_to_their_work(
    open_tab, live_server, width
):
    team = live_server.user("team")
    pilot = live_server.pilot(team)
    tab = open_tab()
    page = tab.page
    page.set_viewport_size({"width": width, "height": 800})
    tab.login(team)
    tab.goto(f"/pilots/{pilot.id}")
    tab.check()

    # Status and next action are on the first screen, with no sideways scroll.
    for locator in (page.locator(".status-line"), page.locator(".next-action")):
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        assert box and box["y"] + box["height"] <= 800, f"below the first screen: {box}"
    expect(page.locator(".status-line")).to_contain_text("Draft")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.get_by_role("link", name="Download report (PDF)")).to_be_visible()

    # The steps are in order, each with a status; the questionnaire step opens the questionnaire.
    steps = page.locator(".task-list > li")
    expect(steps).to_have_count(6)
    expect(steps.nth(0)).to_contain_text("Completed")
    tab.follow(steps.nth(2).get_by_role("link", name="Impact questionnaire"))
    assert "questionnaire" in page.url

    # The report downloads as a PDF.
    tab.goto(f"/pilots/{pilot.id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download report (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
