"""Each role's home is a work surface; the navigation marks the current page and unread mail."""

import re

from assessments import workflow
from registry.extensions import db


def signed_in(app, factory, user):
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": factory.PASSWORD})
    return client


def test_caio_home_lists_waiting_decisions_and_the_inbox_counts_unread(app, factory):
    owner = factory.user("team")
    caio = factory.user("caio")
    pilot = factory.pilot(owner, name="Permit triage")
    workflow.submit(pilot, owner)
    db.session.commit()
    html = signed_in(app, factory, caio).get("/").get_data(as_text=True)
    waiting = html.split('id="waiting-heading"')[1].split("</section>")[0]
    assert f'href="/pilots/{pilot.id}/decide">Permit triage</a>' in waiting
    assert "Overdue conditions" in html and "Reviews due" in html
    # The submission notified the CAIO: the inbox link carries the unread count.
    assert re.search(r'href="/inbox"><span>Inbox</span> <span class="unread">1<', html)


def test_board_home_shows_kpis_and_the_packet(app, factory):
    board = factory.user("board")
    factory.pilot(factory.user("team"))
    db.session.commit()
    html = signed_in(app, factory, board).get("/").get_data(as_text=True)
    assert "AI use cases by risk tier" in html and "Waiting for a decision" in html
    assert 'href="/reports/board-packet.pdf"' in html
    assert "Pilots you own" not in html


def test_team_home_lists_its_pilots_with_next_step_and_nav_marks_the_page(app, factory):
    owner = factory.user("team")
    mine = factory.pilot(owner, name="Mine")
    factory.pilot(factory.user("team"), name="Someone else's")
    db.session.commit()
    client = signed_in(app, factory, owner)
    html = client.get("/").get_data(as_text=True)
    mine_section = html.split('id="mine-heading"')[1].split("</section>")[0]
    assert f'href="/pilots/{mine.id}">Mine</a>' in mine_section
    assert "Someone else" not in mine_section
    assert "Next: Answer the impact questionnaire" in mine_section
    page = client.get(f"/pilots/{mine.id}").get_data(as_text=True)
    assert (
        '<a class="usa-nav-link usa-current" href="/pilots" aria-current="page"><span>Pilots</span></a>'
        in page
    )
    assert page.count('aria-current="page"') == 2  # the nav link and the breadcrumb
