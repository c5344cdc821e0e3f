"""The pilot page as a task list: a summary with the next action, the team's steps in order,
blocking items linked to their fix, and the report linked for everyone who may read it."""

import re
from html import unescape

from assessments import workflow
from registry.extensions import db


def signed_in(app, factory, user):
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    return client


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(html)))


def test_team_sees_steps_in_order_with_status_and_the_next_action(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    db.session.commit()
    html = signed_in(app, factory, owner).get(f"/pilots/{pilot.id}").get_data(as_text=True)
    text = text_of(html)
    steps = [
        "Description of the use case",
        "Data sources",
        "Impact questionnaire",
        "Evidence",
        "Bias checks",
        "Review",
    ]
    task_list = text.split("Steps to approval")[1]
    positions = [task_list.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Completed" in task_list and "Not started" in task_list
    # The next action is the first unfinished step, linked to where it is done.
    summary = html.split('id="summary-heading"')[1].split("</section>")[0]
    assert "No data source is linked yet." in summary
    assert f'href="/pilots/{pilot.id}/edit#data_source_ids"' in summary
    assert f'href="/pilots/{pilot.id}/report.pdf">Download report (PDF)' in summary
    # The summary and steps come before the material; submitting comes after the evidence
    # and bias-check sections it depends on.
    assert html.index('id="summary-heading"') < html.index('id="about-heading"')
    assert html.index('id="evidence-heading"') < html.index('id="submit-form"')
    assert html.index('id="bias-heading"') < html.index('id="submit-form"')


def test_blocking_items_link_to_where_they_are_fixed(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner, is_high_impact="High-impact", hi_justification="Benefits.")
    db.session.commit()
    html = signed_in(app, factory, owner).get(f"/pilots/{pilot.id}").get_data(as_text=True)
    blocking = html.split('class="blocking-list"')[1].split("</ul>")[0]
    assert f'href="/pilots/{pilot.id}/questionnaire"' in blocking
    assert "evidence_item=" in blocking and "#attach-evidence" in blocking
    # The evidence form comes back with that item chosen.
    item = re.search(r"evidence_item=(\w+)", blocking).group(1)
    page = signed_in(app, factory, owner).get(f"/pilots/{pilot.id}?evidence_item={item}")
    assert f'<option value="{item}" selected>' in page.get_data(as_text=True)


def test_caio_next_action_is_the_decision_and_board_may_download_the_report(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    workflow.submit(pilot, owner)
    db.session.commit()
    caio_page = signed_in(app, factory, factory.user("caio")).get(f"/pilots/{pilot.id}")
    summary = caio_page.get_data(as_text=True).split('id="summary-heading"')[1]
    summary = summary.split("</section>")[0]
    assert "waiting for your decision" in summary
    assert f'href="/pilots/{pilot.id}/decide">Decide on this pilot' in summary

    board_page = signed_in(app, factory, factory.user("board")).get(f"/pilots/{pilot.id}")
    html = board_page.get_data(as_text=True)
    assert "Waiting for a CAIO" in text_of(html)
    assert f'href="/pilots/{pilot.id}/report.pdf">Download report (PDF)' in html
