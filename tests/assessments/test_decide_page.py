"""The CAIO's decision page: a refused decision keeps every typed field and says what to fix."""

import datetime as dt
import re
from html import unescape

from assessments import workflow
from assessments.models import Decision
from registry.catalog.models import Pilot
from registry.extensions import db


def version_of(html):
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def submitted_pilot(factory):
    """A high-impact pilot under review, blocked by several unmet checklist items."""
    owner = factory.user("team")
    pilot = factory.pilot(
        owner, is_high_impact="High-impact", hi_justification="Decides on benefits."
    )
    workflow.submit(pilot, owner, note="Ready for review.")
    db.session.commit()
    return pilot


def signed_in(app, factory, role="caio"):
    user = factory.user(role)
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    return client


def test_revisiting_the_decide_url_shows_the_form_not_405(app, factory):
    pilot = submitted_pilot(factory)
    reviewer = signed_in(app, factory)
    page = reviewer.get(f"/pilots/{pilot.id}/decide")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Record decision" in html and "Blocking items" in html
    assert "The team must: answer the impact questionnaire" not in html  # only in a refusal
    assert "Answer the impact questionnaire" in html  # each blocking item says how it is met
    assert f"/pilots/{pilot.id}/report.pdf" in html
    # The pilot page sends the CAIO here; nothing is waiting once decided, so GET says so.
    assert f'href="/pilots/{pilot.id}/decide"' in reviewer.get(f"/pilots/{pilot.id}").get_data(
        as_text=True
    )


def test_decide_page_is_for_independent_caios_only(app, factory):
    pilot = submitted_pilot(factory)
    assert signed_in(app, factory, "board").get(f"/pilots/{pilot.id}/decide").status_code == 403


def test_decide_page_for_a_pilot_not_under_review_returns_to_the_pilot(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    db.session.commit()
    response = signed_in(app, factory).get(f"/pilots/{pilot.id}/decide", follow_redirects=True)
    assert response.status_code == 200
    assert "Nothing is waiting for a decision" in response.get_data(as_text=True)


def test_refused_approval_409_keeps_what_was_typed_and_names_each_unmet_item(app, factory):
    pilot = submitted_pilot(factory)
    reviewer = signed_in(app, factory)
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    due = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    response = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={
            "version": version_of(page),
            "decision": "approve_with_conditions",
            "rationale": "Low exposure during the pilot.",
            "stage": "pilot",
            "waive": ["impact_assessment"],
            "justification_impact_assessment": "The assessment follows within the pilot.",
            "condition_text": ["Publish a plain-language notice.", ""],
            "condition_due": [due, ""],
        },
    )
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "The decision was not recorded" in html
    # Every typed value is still in the form.
    assert 'value="approve_with_conditions" checked' in html
    assert "Low exposure during the pilot.</textarea>" in html
    assert 'value="impact_assessment" checked' in html
    assert "The assessment follows within the pilot.</textarea>" in html
    assert 'value="Publish a plain-language notice."' in html
    assert f'value="{due}"' in html
    # The summary names the unmet items in words, links each to its field and to its fix.
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert "is not met" in summary and 'href="#waive-' in summary
    assert "The team must: attach evidence" in summary
    assert "_" not in re.sub(r"<[^>]+>", "", summary)  # no internal ids in the words
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).review_status == "submitted"
    assert db.session.query(Decision).filter_by(pilot_id=pilot.id).count() == 0


def test_refused_waiver_422_names_the_field_in_words_and_keeps_the_form(app, factory):
    pilot = submitted_pilot(factory)
    reviewer = signed_in(app, factory)
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    response = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={
            "version": version_of(page),
            "decision": "approve_with_conditions",
            "rationale": "Proceed with care.",
            "waive": ["impact_assessment"],
            "justification_impact_assessment": "",
            "condition_text": ["Report monthly."],
            "condition_due": [(dt.date.today() + dt.timedelta(days=9)).isoformat()],
        },
    )
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "waivers[0]" not in html and "justification_impact" not in html.split("<form")[0]
    assert '<a href="#justification-impact_assessment">Justification for waiving' in html
    assert 'id="justification-impact_assessment-error"' in html
    assert 'aria-describedby="justification-impact_assessment-error"' in html
    assert "Proceed with care.</textarea>" in html and 'value="Report monthly."' in html
    assert 'value="approve_with_conditions" checked' in html


def test_stale_decision_form_is_shown_again_with_its_values(app, factory):
    pilot = submitted_pilot(factory)
    reviewer = signed_in(app, factory)
    response = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={"version": "999", "decision": "reject", "rationale": "Not a fit for the agency."},
    )
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 412
    assert "Someone changed this pilot" in html
    assert "Not a fit for the agency.</textarea>" in html


def test_recorded_decision_redirects_to_the_pilot_page(app, factory):
    pilot = submitted_pilot(factory)
    reviewer = signed_in(app, factory)
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    response = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={
            "version": version_of(page),
            "decision": "request_changes",
            "rationale": "Answer the impact questionnaire first.",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/pilots/{pilot.id}#decisions-heading")
