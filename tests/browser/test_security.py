"""Security as the browser sees it: read-only roles and CSRF tokens."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import unique

pytestmark = pytest.mark.browser


def test_board_member_sees_no_edit_controls_and_gets_403_on_edit_urls(tab, live_server):
    team = live_server.user("team")
    board = live_server.user("board")
    pilot = live_server.pilot(team, submit=True)
    page = tab.page
    tab.login(board)

    tab.goto("/pilots")
    expect(page.get_by_role("link", name=pilot.name)).to_be_visible()
    expect(page.get_by_role("link", name="Register a pilot")).to_have_count(0)

    tab.goto(f"/pilots/{pilot.id}")
    main = page.locator("main")
    for control in ("Edit pilot", "Run a bias check", "Answer the impact questionnaire"):
        expect(main.get_by_role("link", name=control)).to_have_count(0)
    for control in ("Delete draft", "Upload evidence", "Record decision", "Submit for review"):
        expect(main.get_by_role("button", name=control)).to_have_count(0)
    expect(main.locator("input[type=file]")).to_have_count(0)

    for path in (f"/pilots/{pilot.id}/edit", "/pilots/new", f"/pilots/{pilot.id}/questionnaire"):
        tab.goto(path, status=403)
        expect(page.locator("main")).to_contain_text("does not have permission")

    tab.goto("/data-sources")
    expect(page.get_by_role("link", name="Register a data source")).to_have_count(0)
    expect(page.locator("main").get_by_role("link", name="Edit")).to_have_count(0)


def submit_without_csrf_token(tab, button: str) -> int:
    """Remove the form's hidden CSRF token in the page, submit it, return the status."""
    page = tab.page
    form = page.locator("main form", has=page.get_by_role("button", name=button))
    assert form.locator("input[name=csrf_token]").count() == 1
    form.evaluate("form => form.querySelector('input[name=csrf_token]').remove()")
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name=button).click()
    tab.check()
    return navigation.value.status


def test_forms_without_a_csrf_token_are_refused(tab, live_server):
    team = live_server.user("team")
    page = tab.page

    tab.goto("/login")
    page.get_by_label("Email address").fill(team.email)
    page.get_by_label("Password").fill(team.password)
    assert submit_without_csrf_token(tab, "Sign in") == 400
    expect(page.locator("main")).to_contain_text("CSRF")

    tab.login(team)
    tab.goto("/data-sources/new")
    name = unique("Forged source")
    page.get_by_label("Name").fill(name)
    assert submit_without_csrf_token(tab, "Save") == 400
    tab.goto(f"/data-sources?q={name.replace(' ', '+')}")
    expect(page.get_by_role("heading", name="No data sources")).to_be_visible()

    # The same form with its token goes through.
    tab.goto("/data-sources/new")
    page.get_by_label("Name").fill(name)
    tab.follow(page.get_by_role("button", name="Save"), check=False)
    tab.expect_flash(name)
