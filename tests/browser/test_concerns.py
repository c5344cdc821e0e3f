"""A member of the public reports a concern and follows it, in Chromium, anonymously: with
JavaScript (the page's proof of work) and without it (the form's waiting time)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import Tab, unique

pytestmark = pytest.mark.browser


def published_use_case(live_server):
    owner = live_server.user("team")
    name = unique("Benefits letter helper")
    ref = live_server.pilot(owner, name=name, purpose="Drafts letters.", submit=True)

    def use_case_id(factory):
        from registry.catalog.models import Pilot
        from registry.extensions import db

        return db.session.get(Pilot, ref.id).use_case_id

    return name, live_server.call(use_case_id)


def respond(live_server, reference: str, text: str) -> None:
    def work(factory):
        from assessments import concerns

        concern = concerns.by_reference(reference)
        concerns.triage(concern, {"action": "respond", "response": text}, factory.user("caio"))

    live_server.call(work)


def report(tab: Tab, use_case_id: str, text: str, *, check: bool = True) -> None:
    page = tab.page
    tab.goto(f"/inventory/{use_case_id}", check=check)
    tab.follow(page.get_by_role("link", name="Report a concern"), check=check)
    page.get_by_label("What is wrong, or what happened?").fill(text)
    page.get_by_label("Your email address (optional)").fill("resident@example.org")


def test_a_concern_journey_with_javascript(tab, live_server):
    name, use_case_id = published_use_case(live_server)
    page = tab.page
    text = "<b>Not bold</b> The letter told me I earn too much, but I do not."
    report(tab, use_case_id, text)
    with page.expect_navigation(url=re.compile(r"/public/concerns/C-")):
        page.get_by_role("button", name="Send the report").click()
    tab.check()
    expect(page.get_by_text("Your report was sent")).to_be_visible()
    reference = page.locator(".concern-reference").inner_text()
    expect(page.locator(".concern-status")).to_have_text(
        "Received, waiting for a first response"
    )
    respond(live_server, reference, "We are checking the income rule used in your letter.")
    tab.goto(f"/public/concerns/{reference}")
    expect(page.locator(".concern-response")).to_have_text(
        "We are checking the income rule used in your letter."
    )
    tab.goto(f"/inventory/{use_case_id}")
    expect(page.locator(".concern-counts")).to_contain_text("1 the agency has responded")
    assert "Not bold" not in page.content()  # the public page never shows what was reported


def test_a_concern_journey_without_javascript(chromium, live_server):
    # axe-core runs as a script, so the pages are checked for accessibility in the test
    # above, with JavaScript; here the browser runs none.
    name, use_case_id = published_use_case(live_server)
    context = chromium.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    tab = Tab(context.new_page(), live_server)
    config = live_server.app.config
    wait = config["CONCERN_NOJS_MIN_SECONDS"]
    try:
        page = tab.page
        text = "<script>document.title='x'</script> My appeal was ignored."
        report(tab, use_case_id, text, check=False)
        # Sent at once without JavaScript: the form asks to wait and keeps what was typed.
        config["CONCERN_NOJS_MIN_SECONDS"] = 3600
        with page.expect_navigation():
            page.get_by_role("button", name="Send the report").click()
        expect(page.get_by_role("alert").first).to_contain_text("send it again")
        expect(page.get_by_label("What is wrong, or what happened?")).to_have_value(text)
        config["CONCERN_NOJS_MIN_SECONDS"] = 0
        with page.expect_navigation(url=re.compile(r"/public/concerns/C-")):
            page.get_by_role("button", name="Send the report").click()
        reference = page.locator(".concern-reference").inner_text()
        assert reference.startswith("C-")

        def stored(factory):
            from assessments import concerns

            return concerns.by_reference(reference).description

        assert live_server.call(stored) == text  # kept verbatim, shown escaped
        assert not tab.server_errors
    finally:
        config["CONCERN_NOJS_MIN_SECONDS"] = wait
        context.close()
