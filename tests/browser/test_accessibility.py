"""Accessibility beyond the journeys: keyboard-only use, error states and the admin pages.

Every page these tests land on is also checked with axe-core by `Tab.check()`.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import Tab, unique

pytestmark = pytest.mark.browser

FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').slice(0, 40),
    // The yellow outline, and the dark ring that makes it visible on white (WCAG 1.4.11).
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2
      && style.boxShadow !== 'none',
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0,
  };
}
"""


def tab_to(tab: Tab, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`; every stop must show focus."""
    page = tab.page
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        assert focused, "Tab left the page"
        assert focused["outline"] and focused["onScreen"], f"focus is not visible on {focused}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def test_team_registers_a_pilot_with_the_keyboard_only(tab, live_server):
    team = live_server.user("team")
    source = live_server.data_source(team)
    page = tab.page
    keyboard = page.keyboard

    tab.goto("/login")
    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "usa-skipnav"
    assert page.evaluate(FOCUS_JS)["onScreen"], "the skip link stays off screen when focused"
    keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main", "the skip link skips nothing"
    tab_to(tab, "#email")
    keyboard.type(team.email)
    tab_to(tab, "#password")
    keyboard.type(team.password)
    keyboard.press("Enter")
    tab.expect_flash(f"Signed in as {team.name}")

    tab_to(tab, "main a[href='/pilots/new']")
    keyboard.press("Enter")
    page.wait_for_url("**/pilots/new")
    tab.check()
    name = unique("Keyboard-registered chatbot")
    for selector, text in (  # in the order of the form
        ("#name", name),
        ("#purpose", "Answers questions about permit applications."),
        ("#agency", "DOT"),
        ("#owner_email", team.email),
    ):
        tab_to(tab, selector)
        keyboard.type(text)
    tab_to(tab, f"#ds-{source.id}")
    keyboard.press("Space")
    expect(page.locator(f"#ds-{source.id}")).to_be_checked()
    tab_to(tab, "main button[type=submit]")
    keyboard.press("Enter")
    tab.expect_flash(f"Registered “{name}”")
    assert tab.heading() == name
    expect(page.locator("section[aria-labelledby=sources-heading]")).to_contain_text(source.name)


def test_form_errors_are_summarised_and_tied_to_their_fields(tab, live_server):
    team = live_server.user("team")
    pilot = live_server.pilot(team)
    page = tab.page

    tab.goto("/login")
    page.get_by_label("Email address").fill(team.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    tab.check()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")

    tab.login(team)
    for path, button in (
        ("/pilots/new", "Register pilot"),
        ("/data-sources/new", "Save"),
        (f"/pilots/{pilot.id}/bias-checks/new", "Run bias check"),
        (f"/pilots/{pilot.id}/questionnaire", "Save and continue"),
    ):
        tab.goto(path)
        if path == "/data-sources/new":
            page.get_by_label("Provenance link").fill("not a link")
        with page.expect_navigation() as navigation:
            page.locator("main").get_by_role("button", name=button).click()
        assert navigation.value.status == 422, path
        summary = page.get_by_role("alert")
        expect(summary).to_be_visible()
        tab.check()  # axe, and every error is in its field's aria-describedby
        assert page.locator(".field-errors").count() >= 1, path
        # Each link in the summary leads to the field (or group) it names.
        for link in summary.get_by_role("link").all():
            target = link.get_attribute("href")
            assert target.startswith("#") and page.locator(target).count() == 1, (path, target)


@pytest.mark.parametrize("width", [1280, 375])
def test_admin_pages(tab, live_server, width):
    admin = live_server.user("admin")
    page = tab.page
    tab.login(admin)

    tab.follow(tab.nav().get_by_role("link", name="Users"))
    tab.follow(page.get_by_role("link", name="Create a user"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_be_visible()
    tab.check()
    email = f"{unique('new').replace(' ', '-')}@agency.gov"
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Full name").fill("New Reviewer")
    page.get_by_label("Role").select_option("board")
    page.get_by_label("Password").fill("a long enough passphrase 2026")
    tab.follow(page.get_by_role("button", name="Save"), check=False)
    tab.expect_flash(f"Created governance board {email}")
    expect(page.locator("main")).to_contain_text(email)

    tab.follow(tab.nav().get_by_role("link", name="Policies"))
    tab.follow(page.locator("main table a").first)
    tab.follow(page.get_by_role("link", name="Policies").first)
    tab.follow(page.get_by_role("link", name="Upload a draft"))
    page.get_by_label("Policy YAML").fill("name: Draft\nversion: [unclosed\nitems: []\n")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    tab.check()
    # The editor numbers its lines and marks the one with the problem; the error's link
    # selects that line in the text.
    expect(page.locator(".code-gutter")).to_be_visible()
    marked = page.locator(".code-gutter .error-line")
    expect(marked).to_have_count(1)
    line = int(marked.inner_text())
    page.get_by_role("alert").get_by_role("link", name=f"Line {line}").click()
    selected = page.evaluate(
        "() => { const t = document.getElementById('body');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == "name: Draft\nversion: [unclosed\nitems: []\n".split("\n")[line - 1]

    # An invitation: the link is shown here when no email server is set up.
    tab.follow(tab.nav().get_by_role("link", name="Users"))
    tab.follow(page.get_by_role("link", name="Invite a user"))
    invited = f"{unique('invited').replace(' ', '-')}@agency.gov"
    page.get_by_label("Email address").fill(invited)
    page.get_by_label("Full name").fill("Invited Person")
    tab.follow(page.get_by_role("button", name="Send the invitation"))
    expect(page.get_by_label(f"Invitation link for {invited}")).to_have_value(
        re.compile(r"/invitations/")
    )

    tab.goto("/admin/inventory/import")
    expect(page.get_by_label("Inventory file (CSV)")).to_be_visible()
