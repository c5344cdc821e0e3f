"""A project team's journey: register a pilot, assess it, check it for bias, submit it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import Tab, unique

pytestmark = pytest.mark.browser

COMPAS = Path(__file__).resolve().parents[1] / "data" / "compas_two_year.csv"


def answer_questionnaire(tab: Tab) -> None:
    """Answer step by step: a follow-up appears at once (script) or after "Save and
    continue" (without it); then check the answers and submit."""
    page = tab.page
    for _ in range(20):
        assert "Step" in page.locator(".step-count").inner_text()
        if tab.heading() == "Check your answers":
            break
        controller = page.locator("fieldset#uses_personal_information")
        follow_up = page.locator("fieldset.question", has_text="Which sensitive categories")
        if controller.count():
            expect(follow_up).to_be_hidden()
            controller.get_by_label("Yes", exact=True).check()
            if page.locator("form.questionnaire[data-enhanced]").count():
                expect(follow_up).to_be_visible()
            else:
                tab.follow(page.get_by_role("button", name="Save and continue"))
                tab.expect_flash("More questions appeared")
                expect(follow_up).to_be_visible()
                expect(follow_up).to_contain_text("follow-up question")
            follow_up.get_by_label("Health or disability").check()
        unanswered = page.locator("fieldset.question:visible:not(:has(input:checked))")
        for _ in range(unanswered.count()):
            unanswered.nth(0).locator("input").first.check()
        tab.follow(page.get_by_role("button", name="Save and continue"))
        while page.locator(".flashes", has_text="More questions appeared").count():
            unanswered = page.locator("fieldset.question:visible:not(:has(input:checked))")
            for _ in range(unanswered.count()):
                unanswered.nth(0).locator("input").first.check()
            tab.follow(page.get_by_role("button", name="Save and continue"))
    assert tab.heading() == "Check your answers"
    expect(page.locator("main")).to_contain_text("Health or disability")
    tab.follow(page.get_by_role("button", name="Submit assessment"), check=False)
    tab.expect_flash("Assessment saved: impact level")
    assert tab.heading() == "Impact assessment result"


@pytest.mark.parametrize("width", [1280, 375])
def test_team_registers_assesses_checks_and_submits_a_pilot(tab, live_server, tmp_path, width):
    team = live_server.user("team")
    existing = live_server.data_source(team, name=unique("Case management records"))
    page = tab.page
    tab.login(team)

    # A second data source, through the form.
    tab.goto("/data-sources")
    tab.follow(page.get_by_role("link", name="Register a data source"))
    source_name = unique("Call centre transcripts")
    page.get_by_label("Name").fill(source_name)
    page.get_by_label("System of record").fill("Contact centre platform")
    page.get_by_label("Personally identifiable information (PII)").check()
    tab.follow(page.get_by_role("button", name="Save"), check=False)
    tab.expect_flash(f"Registered data source “{source_name}”")

    # Register the pilot with both sources.
    tab.goto("/pilots")
    tab.follow(page.get_by_role("link", name="Register a pilot"))
    name = unique("Recidivism risk screener")
    page.get_by_label("Name (required)", exact=True).fill(name)
    page.get_by_label("Purpose: the problem it solves").fill(
        "Flags cases for a caseworker's closer look."
    )
    page.get_by_label("Agency (abbreviation)").fill("DOJ")
    page.get_by_label("Accountable owner").fill(team.email)
    page.get_by_label(existing.name).check()
    page.get_by_label(source_name).check()
    page.get_by_label("Is it high-impact under M-25-21?").select_option("High-impact")
    tab.follow(page.get_by_role("button", name="Register pilot"), check=False)
    tab.expect_flash(f"Registered “{name}”")
    assert tab.heading() == name
    sources = page.locator("section[aria-labelledby=sources-heading]")
    expect(sources).to_contain_text(existing.name)
    expect(sources).to_contain_text(source_name)
    pilot_url = page.url

    # The impact questionnaire, with a conditional follow-up.
    tab.follow(page.get_by_role("link", name="Answer the impact questionnaire").last)
    answer_questionnaire(tab)
    tab.follow(page.get_by_role("link", name="Back to the pilot"))
    expect(page.locator(".status-line")).not_to_contain_text("Tier not assessed")

    # A bias check on the COMPAS outputs.
    tab.follow(page.get_by_role("link", name="Run a bias check"))
    page.get_by_label("Model outputs file").set_input_files(COMPAS)
    page.get_by_label("True outcome column (y_true)").fill("two_year_recid")
    page.get_by_label("Model prediction column (y_pred)").fill("predicted_high_risk")
    page.get_by_label("Sensitive feature 1").fill("race")
    page.get_by_label("Sensitive feature 2").fill("sex")
    page.get_by_label("Name for this check").fill("COMPAS two-year")
    page.get_by_role("button", name="Run bias check").click()
    page.wait_for_url("**/bias-checks/*")
    # A file this small is checked inline (a queued check: see the next test).
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Succeeded")
    tab.check()
    assert tab.heading() == "Bias check: COMPAS two-year"
    expect(facts).to_contain_text("7214 used")
    expect(page.get_by_role("heading", name="By group")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("African-American")
    tab.follow(page.get_by_role("link", name="Back to the pilot"))
    expect(page.locator("section[aria-labelledby=bias-heading]")).to_contain_text("COMPAS two-year")

    # Evidence, then submission.
    evidence = tmp_path / "privacy-impact-assessment.txt"
    evidence.write_text("Privacy impact assessment: completed and signed.\n")
    form = page.locator("form.upload-form")
    form.get_by_label("File").set_input_files(evidence)
    form.get_by_label("Title").fill("Signed PIA")
    tab.follow(form.get_by_role("button", name="Upload evidence"), check=False)
    tab.expect_flash("Attached privacy-impact-assessment.txt")
    expect(page.locator(".evidence-list")).to_contain_text("Signed PIA")

    page.get_by_label("Note for the reviewers").fill("Ready for the CAIO.")
    tab.follow(page.get_by_role("button", name="Submit for review"), check=False)
    tab.expect_flash("Submitted for review")
    assert page.url == pilot_url
    expect(page.locator(".status-line")).to_contain_text("Submitted")


def test_a_queued_bias_check_shows_its_progress_until_the_results(tab, live_server):
    """Large files are queued; the page says so and refreshes only when the user asks."""
    from assessments import jobs

    team = live_server.user("team")
    pilot = live_server.pilot(team)
    page = tab.page
    tab.login(team)
    tab.goto(f"/pilots/{pilot.id}/bias-checks/new")

    # Queue the check behind a job that waits, so the page is seen while it is queued.
    release = threading.Event()
    jobs._local_executor().submit(release.wait, 60)
    config = live_server.app.config
    inline_rows = config.get("BIAS_CHECK_INLINE_ROWS")
    config["BIAS_CHECK_INLINE_ROWS"] = 10
    try:
        page.get_by_label("Model outputs file").set_input_files(COMPAS)
        page.get_by_label("True outcome column (y_true)").fill("two_year_recid")
        page.get_by_label("Model prediction column (y_pred)").fill("predicted_high_risk")
        page.get_by_label("Sensitive feature 1").fill("race")
        page.get_by_role("button", name="Run bias check").click()
        page.wait_for_url("**/bias-checks/*")
    finally:
        if inline_rows is None:
            config.pop("BIAS_CHECK_INLINE_ROWS")
        else:
            config["BIAS_CHECK_INLINE_ROWS"] = inline_rows
    try:
        status = page.get_by_role("status")
        expect(status).to_contain_text("Queued")
        expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
        tab.check()
        page.get_by_role("link", name="refresh automatically every 5 seconds").click()
        expect(page.locator("meta[http-equiv=refresh]")).to_have_count(1)
        # The user asked for this refresh and can stop it: WCAG 2.2.1 is met here.
        tab.check(allow=frozenset({"meta-refresh"}))
    finally:
        release.set()
    expect(page.locator("dl.facts")).to_contain_text("Succeeded", timeout=60_000)
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
    tab.check()
    expect(page.get_by_role("heading", name="By group")).to_be_visible()


@pytest.mark.parametrize("script", ["with the script", "without the script"])
@pytest.mark.parametrize("width", [1280, 375])
def test_questionnaire_is_finished_step_by_step(open_tab, live_server, script, width):
    team = live_server.user("team")
    pilot = live_server.pilot(team)
    tab = open_tab()
    page = tab.page
    page.set_viewport_size({"width": width, "height": 800})
    if script == "without the script":
        page.context.route("**/questionnaire.js", lambda route: route.abort())
    tab.login(team)
    tab.goto(f"/pilots/{pilot.id}/questionnaire")
    expect(page.locator(".step-count")).to_contain_text("Step 1 of")
    tab.check()
    answer_questionnaire(tab)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
