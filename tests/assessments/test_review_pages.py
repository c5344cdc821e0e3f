"""The review workflow in the browser-facing pages (without JavaScript)."""

import re

from registry.catalog.models import Pilot
from registry.extensions import db


def version_of(html):
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def test_team_submits_and_caio_decides_from_the_pilot_page(app, factory):
    owner = factory.user("team")
    caio = factory.user("caio")
    pilot = factory.pilot(owner)
    team = app.test_client()
    team.post("/login", data={"email": owner.email, "password": factory.PASSWORD})
    page = team.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Submit for review" in page
    assert (
        team.post(f"/pilots/{pilot.id}/submit", data={"version": version_of(page)}).status_code
        == 302
    )

    reviewer = app.test_client()
    reviewer.post("/login", data={"email": caio.email, "password": factory.PASSWORD})
    queue = reviewer.get("/review-queue").get_data(as_text=True)
    assert pilot.name in queue and "Blocking" in queue
    assert "Decide on this pilot" in reviewer.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    assert "Blocking items" in page and "Record decision" in page
    changes = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={
            "version": version_of(page),
            "decision": "request_changes",
            "rationale": "Please answer the impact questionnaire first.",
        },
        follow_redirects=True,
    )
    assert "Decision recorded" in changes.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).review_status == "changes_requested"
    inbox = team.get("/inbox").get_data(as_text=True)
    assert "Decision on" in inbox

    page = team.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    team.post(f"/pilots/{pilot.id}/submit", data={"version": version_of(page)})
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    approved = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={
            "version": version_of(page),
            "decision": "approve_with_conditions",
            "rationale": "Proceed.",
            "waive": ["impact_assessment"],
            "justification_impact_assessment": "Assessment to follow within the pilot; low exposure meanwhile.",
            "condition_text": ["Complete the impact questionnaire."],
            "condition_due": ["2099-01-01"],
        },
        follow_redirects=True,
    )
    html = approved.get_data(as_text=True)
    assert (
        "Approve with conditions" in html
        and "CAIO waived" in html
        and "Complete the impact questionnaire." in html
    )


def test_stale_form_version_is_refused(app, factory):
    owner = factory.user("team")
    pilot = factory.pilot(owner)
    client = app.test_client()
    client.post("/login", data={"email": owner.email, "password": factory.PASSWORD})
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    stale = str(int(version_of(page)) - 1 if int(version_of(page)) > 1 else 999)
    assert client.post(f"/pilots/{pilot.id}/submit", data={"version": stale}).status_code == 412


def test_board_can_comment_but_not_decide(app, factory):
    owner = factory.user("team")
    board = factory.user("board")
    pilot = factory.pilot(owner)
    client = app.test_client()
    client.post("/login", data={"email": board.email, "password": factory.PASSWORD})
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Record decision" not in page and "Submit for review</button>" not in page
    client.post(
        f"/pilots/{pilot.id}/comments",
        data={"body": "What does the vendor contract say about audits?"},
    )
    assert "vendor contract" in client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert (
        client.post(f"/pilots/{pilot.id}/decide", data={"decision": "approve"}).status_code == 403
    )


def test_refused_forms_on_the_pilot_page_answer_422_with_the_reason(app, factory):
    """Forms embedded in the pilot page re-render it with 422 and name the refused field;
    nothing of the refused request is kept."""
    from assessments.models import Comment, Decision, Evidence

    owner = factory.user("team")
    caio = factory.user("caio")
    pilot = factory.pilot(owner)
    team = app.test_client()
    team.post("/login", data={"email": owner.email, "password": factory.PASSWORD})

    comment = team.post(f"/pilots/{pilot.id}/comments", data={"body": "   "})
    assert comment.status_code == 422
    assert "Comment not posted — body:" in comment.get_data(as_text=True)
    assert pilot.name in comment.get_data(as_text=True)  # the pilot's page, not a bare error

    evidence = team.post(f"/pilots/{pilot.id}/evidence", data={"kind": "pia"})
    assert evidence.status_code == 422
    assert "Evidence not saved — file:" in evidence.get_data(as_text=True)

    page = team.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    team.post(f"/pilots/{pilot.id}/submit", data={"version": version_of(page)})
    reviewer = app.test_client()
    reviewer.post("/login", data={"email": caio.email, "password": factory.PASSWORD})
    page = reviewer.get(f"/pilots/{pilot.id}/decide").get_data(as_text=True)
    decision = reviewer.post(
        f"/pilots/{pilot.id}/decide",
        data={"version": version_of(page), "decision": "reject", "rationale": ""},
    )
    assert decision.status_code == 422
    assert '<a href="#rationale">Rationale</a>: Explain the decision' in decision.get_data(
        as_text=True
    )

    db.session.expire_all()
    assert db.session.get(Pilot, pilot.id).review_status == "submitted"
    for model in (Comment, Decision, Evidence):
        assert db.session.query(model).filter_by(pilot_id=pilot.id).count() == 0


def test_the_review_queue_can_be_scanned_and_sorted(app, factory):
    """Owner, tier, a short compliance summary with a link to the checklist, the waiting time
    on one line, and orders by waiting time, tier, unmet items and name."""
    owner = factory.user("team", name="Olu Owner")
    first = factory.public_pilot(owner, name="Zebra crossing counter")
    second = factory.public_pilot(owner, name="Alpha benefits screener")
    factory.set_state(second, risk_tier="IV")
    client = app.test_client()
    caio = factory.user("caio")
    client.post("/login", data={"email": caio.email, "password": factory.PASSWORD})

    page = client.get("/review-queue").get_data(as_text=True)
    assert "Olu Owner" in page and "by waiting longest" in page
    assert f'href="/pilots/{first.id}#checklist-heading"' in page
    assert 'class="text-base-dark text-no-wrap">since ' in page
    # A short summary: at most two blocking items named, then a count.
    summaries = re.findall(r"Blocking: ([^<]*)</span>", page)
    assert summaries and all(s.count(",") <= 1 for s in summaries)
    assert page.index("Zebra crossing counter") < page.index("Alpha benefits screener")

    by_name = client.get("/review-queue?sort=name").get_data(as_text=True)
    assert by_name.index("Alpha benefits screener") < by_name.index("Zebra crossing counter")
    assert '<strong aria-current="true">name</strong>' in by_name
    by_tier = client.get("/review-queue?sort=tier").get_data(as_text=True)
    assert by_tier.index("Alpha benefits screener") < by_tier.index("Zebra crossing counter")
    assert client.get("/review-queue?sort=unmet").status_code == 200
    # An unknown order is the default one, not an error.
    unknown = client.get("/review-queue?sort=%27;drop").get_data(as_text=True)
    assert "by waiting longest" in unknown
