"""Destructive or irreversible actions ask first, on a page that works without JavaScript."""

import re
from html import unescape

from assessments import workflow
from assessments.models import Decision
from registry.catalog.models import Pilot
from registry.extensions import db


def signed_in(app, factory, user):
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    return client


def hidden_fields(html):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def test_delete_draft_asks_first_then_deletes(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    db.session.commit()
    client = signed_in(app, factory, owner)
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert f'href="/pilots/{pilot.id}/delete" data-confirm>Delete draft</a>' in page
    confirm = client.get(f"/pilots/{pilot.id}/delete")
    html = unescape(confirm.get_data(as_text=True))
    assert confirm.status_code == 200
    assert f"Delete “{pilot.name}”?" in html and "Yes, delete this draft" in html
    assert f'<a class="usa-button usa-button--outline" href="/pilots/{pilot.id}">No, keep it</a>' in html
    assert db.session.get(Pilot, pilot.id) is not None  # asking deleted nothing
    done = client.post(f"/pilots/{pilot.id}/delete", data=hidden_fields(html))
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id) is None


def test_publishing_a_policy_asks_first(app, factory, client, login):
    from policies import store

    admin = login("admin")
    active = store.active_version()
    draft = store.create_draft(active.body.replace(active.version, "9.9.9", 1), admin)
    db.session.commit()
    detail = client.get(f"/admin/policies/{draft.id}").get_data(as_text=True)
    assert f'href="/admin/policies/{draft.id}/publish" data-confirm' in detail
    html = unescape(client.get(f"/admin/policies/{draft.id}/publish").get_data(as_text=True))
    assert f"Publish {draft.label}?" in html and "can never be changed" in html
    assert (
        client.post(f"/admin/policies/{draft.id}/publish", data=hidden_fields(html)).status_code
        == 302
    )
    db.session.expire_all()
    assert store.get_version(draft.id).status != "draft"
    again = client.get(f"/admin/policies/{draft.id}/publish", follow_redirects=True)
    assert "already published" in again.get_data(as_text=True)


def test_rejection_asks_first_and_going_back_keeps_the_form(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    workflow.submit(pilot, owner)
    db.session.commit()
    reviewer = signed_in(app, factory, factory.user("caio"))
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"version": version, "decision": "reject", "rationale": "Not a fit for residents."}
    confirm = reviewer.post(f"/pilots/{pilot.id}/decide", data=form)
    html = unescape(confirm.get_data(as_text=True))
    assert confirm.status_code == 200 and f"Reject “{pilot.name}”?" in html
    assert "Your rationale: Not a fit for residents." in html
    assert db.session.query(Decision).filter_by(pilot_id=pilot.id).count() == 0

    back = reviewer.post(f"/pilots/{pilot.id}/decide", data={**form, "change": "yes"})
    back_html = unescape(back.get_data(as_text=True))
    assert "Not a fit for residents.</textarea>" in back_html
    assert 'value="reject" checked' in back_html

    done = reviewer.post(f"/pilots/{pilot.id}/decide", data={**form, "confirmed": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).review_status == "rejected"


def test_an_error_page_names_the_problem_in_words_and_leads_back(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    db.session.commit()
    client = signed_in(app, factory, factory.user("board"))
    response = client.get(
        f"/pilots/{pilot.id}/edit", headers={"Referer": f"http://localhost/pilots/{pilot.id}"}
    )
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 403
    assert "You do not have permission" in html
    assert f'<a href="/pilots/{pilot.id}">Go back to the page you were on</a>' in html
    elsewhere = client.get(
        f"/pilots/{pilot.id}/edit", headers={"Referer": "https://example.org/x"}
    ).get_data(as_text=True)
    assert "Go back to the page you were on" not in elsewhere
