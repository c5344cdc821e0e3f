"""A person's own account security in Chromium: setting up an authenticator app, new recovery
codes and turning the app off (each asks first), and issuing and revoking an API token; axe
checks every page on the way, on a desktop and a phone."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


@pytest.mark.parametrize("width", [1280, 375])
def test_someone_sets_up_an_app_and_manages_their_codes_and_tokens(tab, live_server, width):
    team = live_server.user("team")
    page = tab.page
    tab.login(team)

    tab.follow(tab.nav().get_by_role("link", name="Account security"))
    tab.follow(page.get_by_role("link", name="Set up an authenticator app"))
    expect(page.locator(".mfa-qr svg")).to_be_visible()
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(_code(secret))
    tab.follow(page.get_by_role("button", name="Check the code and finish"))
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator(".recovery-codes li").count() == 10
    tab.goto("/account/security")

    # New recovery codes ask first; cancelling changes nothing.
    page.get_by_role("link", name="Make new recovery codes").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Make new recovery codes?")
    tab.check()
    dialog.get_by_role("link", name="No, go back").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("link", name="Make new recovery codes").click()
    tab.follow(page.get_by_role("dialog").get_by_role("button", name="Yes, make new codes"))
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()

    # An API token: issued once, listed by name, revoked after a confirmation.
    tab.goto("/account/tokens")
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("What it may do").select_option("read")
    tab.follow(page.get_by_role("button", name="Issue the token"))
    expect(page.locator(".issued-token")).to_be_visible()
    row = page.locator("tbody tr", has_text="nightly export")
    expect(row).to_contain_text("Read only")
    row.get_by_role("link", name="Revoke").click()
    tab.follow(page.get_by_role("dialog").get_by_role("button", name="Yes, revoke this token"))
    tab.expect_flash("is revoked")
    expect(page.locator("tbody tr", has_text="nightly export")).to_contain_text("Revoked")

    # Turning the app off asks first, then sign-in needs the password alone again.
    tab.goto("/account/security")
    page.get_by_role("link", name="Turn off the authenticator app").click()
    tab.follow(page.get_by_role("dialog").get_by_role("button", name="Yes, turn it off"))
    tab.expect_flash("The authenticator app is removed")
    expect(page.get_by_role("link", name="Set up an authenticator app")).to_be_visible()
