"""Delete draft asks first: a modal with JavaScript, a confirmation page without it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_delete_draft_asks_in_a_modal_and_looks_different_from_edit(open_tab, live_server):
    team = live_server.user("team")
    pilot = live_server.pilot(team)
    keep = live_server.pilot(team)
    tab = open_tab()
    page = tab.page
    tab.login(team)
    tab.goto(f"/pilots/{keep.id}")
    edit = page.get_by_role("link", name="Edit pilot")
    delete = page.get_by_role("link", name="Delete draft")
    colour = "(el) => getComputedStyle(el).backgroundColor"
    assert edit.evaluate(colour) != delete.evaluate(colour), "Delete looks like Edit"

    # Cancelling the dialog keeps the draft and returns focus to the link.
    delete.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Delete “{keep.name}”?")
    tab.check()
    dialog.get_by_role("link", name="No, keep it").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(delete).to_be_focused()

    tab.goto(f"/pilots/{pilot.id}")
    page.get_by_role("link", name="Delete draft").click()
    tab.follow(
        page.get_by_role("dialog").get_by_role("button", name="Yes, delete this draft"), check=False
    )
    tab.expect_flash(f"Deleted “{pilot.name}”")


def test_delete_draft_without_javascript_uses_a_confirmation_page(open_tab, live_server):
    """The dialog's script is not loaded (as when JavaScript is off or fails): the link opens
    the confirmation page. (Turning JavaScript off altogether would also stop axe.)"""
    team = live_server.user("team")
    pilot = live_server.pilot(team)
    tab = open_tab()
    tab.page.context.route("**/confirm-dialog.js", lambda route: route.abort())
    tab.login(team)
    tab.goto(f"/pilots/{pilot.id}")
    tab.follow(tab.page.get_by_role("link", name="Delete draft"))
    assert tab.heading() == f"Delete “{pilot.name}”?"
    tab.check()
    tab.follow(tab.page.get_by_role("button", name="Yes, delete this draft"), check=False)
    tab.expect_flash(f"Deleted “{pilot.name}”")
