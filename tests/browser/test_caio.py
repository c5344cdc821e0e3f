"""The Chief AI Officer works the review queue: changes requested, then approval with conditions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_caio_requests_changes_then_approves_with_conditions_and_a_waiver(
    open_tab, live_server, width
):
    team = live_server.user("team")
    caio = live_server.user("caio")
    pilot = live_server.pilot(team, submit=True)
    reviewer, owner = open_tab(), open_tab()
    page = reviewer.page
    reviewer.login(caio)

    # The submission reached the CAIO's inbox and the review queue.
    reviewer.follow(reviewer.nav().get_by_role("link", name="Inbox"))
    expect(page.locator(".inbox")).to_contain_text(f"“{pilot.name}” was submitted for review")
    reviewer.follow(reviewer.nav().get_by_role("link", name="Review queue"))
    row = page.locator("tbody tr", has_text=pilot.name)
    expect(row).to_contain_text("Blocking:")
    reviewer.follow(row.get_by_role("link", name=pilot.name, exact=True))
    assert reviewer.heading() == pilot.name
    reviewer.follow(page.get_by_role("link", name="Decide on this pilot").first)

    # Blocking items are listed, so the CAIO asks for changes.
    blocking = page.locator(".notice", has_text="Blocking items").locator("li")
    expect(blocking.first).to_be_visible()
    assert blocking.count() >= 1
    page.get_by_role("radio", name="Request changes").check()
    page.get_by_label("Rationale").fill("Attach the privacy impact assessment, please.")
    reviewer.follow(page.get_by_role("button", name="Record decision"), check=False)
    reviewer.expect_flash("Decision recorded: request changes")
    expect(page.locator(".status-line")).to_contain_text("Changes requested")

    # The team resubmits.
    owner.login(team)
    owner.goto(f"/pilots/{pilot.id}")
    expect(owner.page.locator(".decisions")).to_contain_text("Attach the privacy impact")
    owner.page.get_by_label("Note for the reviewers").fill("Resubmitting as discussed.")
    owner.follow(owner.page.get_by_role("button", name="Submit for review"), check=False)
    owner.expect_flash("Submitted for review")

    # The CAIO approves with a condition, waiving every blocking item.
    reviewer.goto(f"/pilots/{pilot.id}/decide")
    expect(page.locator(".status-line")).to_contain_text("Submitted")
    page.get_by_role("radio", name="Approve with conditions").check()
    page.get_by_label("Rationale").fill("Low risk for a pilot, with one condition.")
    waivers = page.locator("input[name=waive]")
    assert waivers.count() == blocking.count() >= 1
    for index in range(waivers.count()):
        waiver = waivers.nth(index)
        waiver.check()
        item_id = waiver.get_attribute("value")
        page.locator(f"#justification-{item_id}").fill(
            "Acceptable for a limited pilot; revisit at the next review."
        )
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    page.get_by_label("Condition 1", exact=True).fill("Publish a plain-language notice.")
    page.get_by_label("Condition 1 due date").fill(due)
    reviewer.follow(page.get_by_role("button", name="Record decision"), check=False)
    reviewer.expect_flash("Decision recorded: approve with conditions")

    decisions = page.locator(".decisions")
    expect(page.locator(".status-line")).to_contain_text("Approved with conditions")
    expect(decisions.locator("li").first).to_contain_text("Approve with conditions")
    expect(decisions.locator("li").first).to_contain_text("CAIO waived")
    expect(decisions.locator("li").nth(1)).to_contain_text("Request changes")
    expect(page.locator(".conditions")).to_contain_text("Publish a plain-language notice.")
    expect(page.locator(".conditions")).to_contain_text(due)

    # The team sees the same decision on its page.
    owner.goto(f"/pilots/{pilot.id}")
    expect(owner.page.locator(".decisions li").first).to_contain_text("Approve with conditions")
    expect(owner.page.get_by_role("button", name="Report met")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 375])
def test_refused_decision_keeps_every_typed_field_and_links_each_fix(open_tab, live_server, width):
    """409 (an unmet item neither waived nor covered) and 422 (a waiver without a
    justification) show the same form again, filled in, with an error summary in words."""
    team = live_server.user("team")
    caio = live_server.user("caio")
    pilot = live_server.pilot(
        team, submit=True, is_high_impact="High-impact", hi_justification="Decides on benefits."
    )
    reviewer = open_tab()
    page = reviewer.page
    page.set_viewport_size({"width": width, "height": 800})
    reviewer.login(caio)
    reviewer.goto(f"/pilots/{pilot.id}")
    reviewer.follow(page.get_by_role("link", name="Decide on this pilot").first)
    waivers = page.locator("input[name=waive]")
    assert waivers.count() >= 2, "the demo pilot should block on several items"
    first = waivers.nth(0).get_attribute("value")
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()

    # 409: approve with a condition that covers nothing, waiving only the first item.
    page.get_by_role("radio", name="Approve with conditions").check()
    page.get_by_label("Rationale").fill("Low exposure while piloting.")
    waivers.nth(0).check()
    page.locator(f"#justification-{first}").fill("Covered by the vendor's own audit this year.")
    page.get_by_label("Condition 1", exact=True).fill("Publish a plain-language notice.")
    page.get_by_label("Condition 1 due date").fill(due)
    reviewer.follow(page.get_by_role("button", name="Record decision"))
    reviewer.check()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("The decision was not recorded")
    expect(summary).to_contain_text("is not met")
    assert "_" not in summary.inner_text()
    assert summary.get_by_role("link").count() >= 2
    expect(page.get_by_role("radio", name="Approve with conditions")).to_be_checked()
    expect(page.get_by_label("Rationale")).to_have_value("Low exposure while piloting.")
    expect(waivers.nth(0)).to_be_checked()
    expect(page.locator(f"#justification-{first}")).to_have_value(
        "Covered by the vendor's own audit this year."
    )
    expect(page.get_by_label("Condition 1", exact=True)).to_have_value(
        "Publish a plain-language notice."
    )
    expect(page.get_by_label("Condition 1 due date")).to_have_value(due)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # The summary says how each unmet item is met (the team does it: no refused link).
    expect(summary.locator(".fix-links li").first).to_contain_text("The team must:")

    # 422: waive every item but leave one justification empty.
    for index in range(waivers.count()):
        waivers.nth(index).check()
        item = waivers.nth(index).get_attribute("value")
        if index:
            page.locator(f"#justification-{item}").fill("")
    reviewer.follow(page.get_by_role("button", name="Record decision"))
    expect(summary).to_contain_text("Justification for waiving")
    assert "waivers[" not in page.content()
    expect(page.get_by_label("Rationale")).to_have_value("Low exposure while piloting.")
    expect(page.locator(f"#justification-{first}")).to_have_value(
        "Covered by the vendor's own audit this year."
    )
    link = summary.get_by_role("link", name=re.compile("Justification for waiving")).first
    target = link.get_attribute("href")
    expect(page.locator(target)).to_have_attribute("aria-invalid", "true")

    # Revisiting the URL shows the form again (no 405).
    reviewer.goto(f"/pilots/{pilot.id}/decide")
    expect(page.get_by_role("button", name="Record decision")).to_be_visible()
