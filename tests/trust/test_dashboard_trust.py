"""Public trust on the staff pages (#18): the dashboard shows open serious incidents and
concerns past their first-response date; a pilot's page links to its incidents, risk register
and concerns."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from registry.extensions import db


@pytest.fixture
def people(factory):
    return {
        "owner": factory.user("team"),
        "caio": factory.user("caio"),
        "board": factory.user("board"),
    }


@pytest.fixture
def tokens(factory, people):
    return {role: factory.headers(user) for role, user in people.items()}


@pytest.fixture
def published(factory, people):
    return factory.public_pilot(people["owner"], name="Benefits letter helper")


def open_incident(client, pilot_id, headers, severity, title):
    response = client.post(
        "/api/v1/incidents",
        json={"pilot_id": pilot_id, "severity": severity, "title": title},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def set_status(client, incident_id, headers, status, **fields):
    url = f"/api/v1/incidents/{incident_id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    response = client.patch(
        url, json={"status": status, **fields}, headers={**headers, "If-Match": etag}
    )
    assert response.status_code == 200, response.get_json()


def section(html: str, heading_id: str) -> str:
    """The dashboard section whose heading has ``heading_id``."""
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert match, f"no section {heading_id}"
    return match.group(1)


def test_an_open_serious_incident_is_on_the_dashboard_until_it_is_resolved(
    client, login, published, people, tokens
):
    serious = open_incident(client, published.id, tokens["owner"], "serious", "Wrong denials")
    open_incident(client, published.id, tokens["owner"], "critical", "Letters to wrong people")
    open_incident(client, published.id, tokens["owner"], "low", "Typo in a letter")
    login(user=people["board"])
    incidents = section(client.get("/dashboard").get_data(as_text=True), "incidents-heading")
    assert "Open serious incidents (2)" in incidents
    assert f'href="/incidents/{serious["id"]}">Wrong denials</a>' in incidents
    assert "Letters to wrong people" in incidents and "Typo in a letter" not in incidents
    assert f'href="/pilots/{published.id}"' in incidents
    # Once resolved, it is gone; the critical one stays.
    set_status(client, serious["id"], tokens["owner"], "resolved", resolution="Template fixed.")
    incidents = section(client.get("/dashboard").get_data(as_text=True), "incidents-heading")
    assert "Open serious incidents (1)" in incidents
    assert "Wrong denials" not in incidents and "Letters to wrong people" in incidents


def test_the_dashboard_counts_concerns_past_their_first_response_date(
    client, login, factory, published, people, tokens
):
    from assessments.trust_models import Concern

    other = factory.public_pilot(people["owner"], name="Pothole router")
    references = []
    for pilot in (published, published, other):
        response = client.post(
            "/api/v1/public/concerns",
            json={"use_case_id": pilot.use_case_id, "description": "The entry is wrong."},
        )
        assert response.status_code == 201, response.get_json()
        references.append(response.get_json()["reference"])
    login(user=people["board"])
    concerns = section(client.get("/dashboard").get_data(as_text=True), "concerns-heading")
    assert "past their first-response date (0)" in concerns
    # Ten working days pass for the first two; the third is answered in time.
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    for concern in db.session.query(Concern).filter(Concern.reference.in_(references[:2])):
        concern.first_response_due = yesterday
    db.session.commit()
    concerns = section(client.get("/dashboard").get_data(as_text=True), "concerns-heading")
    assert "past their first-response date (2)" in concerns
    assert (
        f'href="/concerns?pilot_id={published.id}&amp;overdue=1">Benefits letter helper: 2</a>'
        in concerns
    )
    assert "Pothole router" not in concerns
    # The link leads to exactly those concerns.
    queue = client.get(f"/concerns?pilot_id={published.id}&overdue=1").get_data(as_text=True)
    assert all(ref in queue for ref in references[:2]) and references[2] not in queue
    # A first response takes a concern off the count.
    concern = db.session.query(Concern).filter_by(reference=references[0]).one()
    response = client.post(
        f"/api/v1/concerns/{concern.id}/triage",
        json={"action": "respond", "response": "We are checking the entry."},
        headers=tokens["caio"],
    )
    assert response.status_code == 200, response.get_json()
    concerns = section(client.get("/dashboard").get_data(as_text=True), "concerns-heading")
    assert "past their first-response date (1)" in concerns


def test_the_pilot_page_links_to_its_incidents_risks_and_concerns(
    client, login, factory, published, people, tokens
):
    other = factory.public_pilot(people["owner"], name="Pothole router")
    open_incident(client, published.id, tokens["owner"], "medium", "Slow letters")
    open_incident(client, other.id, tokens["owner"], "medium", "Someone else's incident")
    login(user=people["caio"])
    page = client.get(f"/pilots/{published.id}").get_data(as_text=True)
    panel = section(page, "trust-heading")
    assert f'href="/incidents?pilot_id={published.id}">Incidents</a>: 1 recorded, 1 open' in panel
    assert f'href="/pilots/{published.id}/risks">Risk register</a>: 0 risks' in panel
    assert (
        f'href="/concerns?pilot_id={published.id}">Concerns from the public</a>: 0 received'
        in panel
    )
    listed = client.get(f"/incidents?pilot_id={published.id}").get_data(as_text=True)
    assert "Slow letters" in listed and "Someone else" not in listed
    assert client.get(f"/pilots/{published.id}/risks").status_code == 200
    assert client.get(f"/concerns?pilot_id={published.id}").status_code == 200
    assert client.get("/incidents?pilot_id=999999").status_code == 404
    assert client.get("/incidents?pilot_id=abc").status_code == 422
