"""Public trust (#18): concerns from the public, incidents, the risk register and the
publishing workflow, through the API as the contract describes them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from registry.extensions import db

CONCERN = "/api/v1/public/concerns"


@pytest.fixture
def people(factory):
    return {
        "owner": factory.user("team"),
        "caio": factory.user("caio"),
        "caio2": factory.user("caio"),
        "admin": factory.user("admin"),
        "board": factory.user("board"),
    }


@pytest.fixture
def tokens(factory, people):
    return {role: factory.headers(user) for role, user in people.items()}


@pytest.fixture
def published(factory, people):
    return factory.public_pilot(
        people["owner"],
        name="Benefits letter helper",
        purpose="Drafts plain letters about benefit decisions.",
        vendor_name="Acme Secret Vendor",
        benefits="Residents understand their letters.",
        system_outputs="A draft letter for a caseworker.",
    )


def csv_rows(client, path="/api/v1/inventory.csv"):
    response = client.get(path)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def patch_pilot(client, pilot_id, headers, body):
    etag = client.get(f"/api/v1/pilots/{pilot_id}", headers=headers).headers["ETag"]
    return client.patch(
        f"/api/v1/pilots/{pilot_id}", json=body, headers={**headers, "If-Match": etag}
    )


# ---- concerns ----------------------------------------------------------------------------------


def test_a_concern_is_reported_without_an_account_and_followed_by_its_reference(
    client, published, tokens
):
    response = client.post(
        CONCERN,
        json={
            "use_case_id": published.use_case_id,
            "description": "<script>alert(1)</script> The letter said I was denied, wrongly.",
            "contact_email": "resident@example.org",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "new" and body["reference"].startswith("C-")
    status = client.get(f"{CONCERN}/{body['reference']}").get_json()
    assert status["status"] == "new" and status["response"] is None
    assert "contact_email" not in status and "description" not in status
    # Staff see it in the queue, verbatim; the CAIOs were told.
    queue = client.get("/api/v1/concerns", headers=tokens["caio"]).get_json()
    assert queue[0]["description"].startswith("<script>alert(1)</script>")
    assert queue[0]["contact_given"] is True and "contact_email" not in queue[0]
    inbox = client.get("/api/v1/inbox", headers=tokens["caio"]).get_json()
    assert any(item["kind"] == "concern" for item in inbox)
    # The status page shows the text nowhere; the staff page escapes it.
    page = client.get(f"/public/concerns/{body['reference']}")
    assert page.status_code == 200 and b"<script>alert" not in page.data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 50_000}, "description"),
        ({"use_case_id": "NOPE-123456"}, "use_case_id"),
        ({"contact_email": "not an address"}, "contact_email"),
        ({"website": "http://spam.example"}, "website"),
    ],
)
def test_bad_concerns_get_a_4xx_naming_the_field_and_store_nothing(client, published, body, field):
    from assessments.trust_models import Concern

    data = {"use_case_id": published.use_case_id, "description": "The letter is wrong.", **body}
    response = client.post(CONCERN, json=data)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert db.session.query(Concern).count() == 0


def test_a_flood_from_one_address_gets_429_with_retry_after(app, client, published):
    app.config["CONCERN_RATE_LIMIT"] = 3
    data = {"use_case_id": published.use_case_id, "description": "Wrong entry."}
    codes = [client.post(CONCERN, json=data).status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    response = client.post(CONCERN, json=data)
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["code"] == 429


def test_triage_responds_dismisses_merges_and_opens_incidents(client, published, tokens):
    refs = [
        client.post(
            CONCERN, json={"use_case_id": published.use_case_id, "description": f"Problem {n}"}
        ).get_json()["reference"]
        for n in range(3)
    ]
    queue = {
        c["reference"]: c for c in client.get("/api/v1/concerns", headers=tokens["caio"]).get_json()
    }
    first, second, third = (queue[r]["id"] for r in refs)

    def triage(concern_id, body, who="caio"):
        return client.post(f"/api/v1/concerns/{concern_id}/triage", json=body, headers=tokens[who])

    assert triage(first, {"action": "dismiss", "reason": "short"}).status_code == 422
    assert triage(first, {"action": "dismiss"}, who="owner").status_code == 403
    done = triage(first, {"action": "dismiss", "reason": "The letter was correct; we checked it."})
    assert done.status_code == 200 and done.get_json()["status"] == "dismissed"
    merged = triage(second, {"action": "merge", "into": refs[2]})
    assert merged.get_json()["status"] == "merged"
    opened = triage(third, {"action": "open_incident", "incident": {"severity": "medium"}})
    assert opened.status_code == 200 and opened.get_json()["incident_id"]
    public = client.get(f"{CONCERN}/{refs[0]}").get_json()
    assert public["status"] == "dismissed" and "checked it" in public["response"]
    assert client.get(f"{CONCERN}/{refs[1]}").get_json()["merged_into"] == refs[2]
    assert client.get(f"{CONCERN}/{refs[2]}").get_json()["incident_status"] == "open"
    # The public page of the use case counts them, without their text.
    page = client.get(f"/inventory/{published.use_case_id}").get_data(as_text=True)
    assert "3 concerns" in page and "1 incident" in page and "Problem 1" not in page


# ---- incidents ---------------------------------------------------------------------------------


def test_incidents_have_the_contract_fields_and_need_if_match(client, published, tokens):
    response = client.post(
        "/api/v1/incidents",
        json={
            "pilot_id": published.id,
            "severity": "low",
            "harm_categories": ["Wrong advice"],
            "affected_groups": ["Older residents"],
            "occurred_at": "2026-01-05T10:00:00Z",
            "detected_at": "2026-01-06T09:00:00Z",
            "corrective_actions": [
                {
                    "description": "Fix the template.",
                    "owner_email": published.owner.email,
                    "due_date": "2026-02-01",
                }
            ],
        },
        headers=tokens["owner"],
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    for key in (
        "pilot_id",
        "severity",
        "status",
        "harm_categories",
        "affected_groups",
        "occurred_at",
        "detected_at",
    ):
        assert key in body
    assert body["status"] == "open" and body["corrective_actions"][0]["owner_email"]
    url = f"/api/v1/incidents/{body['id']}"
    assert (
        client.patch(url, json={"status": "mitigating"}, headers=tokens["owner"]).status_code == 428
    )
    etag = client.get(url, headers=tokens["owner"]).headers["ETag"]
    changed = client.patch(
        url, json={"status": "mitigating"}, headers={**tokens["owner"], "If-Match": etag}
    )
    assert changed.status_code == 200 and changed.get_json()["status"] == "mitigating"
    listed = client.get("/api/v1/incidents", headers=tokens["board"]).get_json()
    assert [i["id"] for i in listed] == [body["id"]]


def test_a_corrective_action_dated_before_the_incident_is_refused(client, published, tokens):
    from assessments.trust_models import Incident

    response = client.post(
        "/api/v1/incidents",
        json={
            "pilot_id": published.id,
            "severity": "medium",
            "occurred_at": "2026-03-10T00:00:00Z",
            "detected_at": "2026-03-11T00:00:00Z",
            "corrective_actions": [
                {
                    "description": "Retrain.",
                    "owner_email": published.owner.email,
                    "due_date": "2026-03-01",
                }
            ],
        },
        headers=tokens["caio"],
    )
    assert response.status_code == 422
    assert "corrective_actions[0].due_date" in response.get_json()["errors"]
    assert db.session.query(Incident).count() == 0


def approve(client, pilot_id, tokens):
    """Approve, waiving whatever the checklist still lacks (this test is about incidents)."""
    items = client.get(f"/api/v1/pilots/{pilot_id}/compliance", headers=tokens["caio"]).get_json()
    waivers = [
        {"item_id": item["id"], "justification": "Accepted for this pilot phase by the CAIO."}
        for item in items["items"]
        if item["status"] == "unmet"
    ]
    return client.post(
        f"/api/v1/pilots/{pilot_id}/decisions",
        json={"decision": "approve", "rationale": "Meets the policy.", "waivers": waivers},
        headers=tokens["caio"],
    )


def test_a_serious_incident_blocks_re_approval_until_resolved_or_accepted(
    client, factory, people, tokens
):
    pilot = factory.pilot(people["owner"], name="Screener")
    client.post(f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"])
    first = approve(client, pilot.id, tokens)
    assert first.status_code == 201, first.get_json()
    incident = client.post(
        "/api/v1/incidents",
        json={"pilot_id": pilot.id, "severity": "serious", "title": "Wrong denials"},
        headers=tokens["owner"],
    ).get_json()
    body = client.get(f"/api/v1/pilots/{pilot.id}", headers=tokens["owner"]).get_json()
    assert body["review_due_reason"].startswith("a serious incident is open")
    kinds = [n["kind"] for n in client.get("/api/v1/inbox", headers=tokens["caio"]).get_json()]
    assert "incident" in kinds
    # A resubmission cannot be approved while the incident is open.
    patch_pilot(client, pilot.id, tokens["owner"], {"purpose": "Screens with a human check."})
    assert (
        client.post(
            f"/api/v1/pilots/{pilot.id}/submission", json={}, headers=tokens["owner"]
        ).status_code
        == 201
    )
    refused = approve(client, pilot.id, tokens)
    assert refused.status_code == 409
    assert f"incident {incident['id']}" in refused.get_json()["errors"]
    # Accepting needs a CAIO and a justification; then the approval goes through.
    url = f"/api/v1/incidents/{incident['id']}"
    etag = client.get(url, headers=tokens["caio"]).headers["ETag"]
    short = client.patch(
        url, json={"status": "accepted"}, headers={**tokens["caio"], "If-Match": etag}
    )
    assert short.status_code == 422 and "acceptance_justification" in short.get_json()["errors"]
    etag = client.get(url, headers=tokens["owner"]).headers["ETag"]
    assert (
        client.patch(
            url,
            json={"status": "accepted", "acceptance_justification": "x" * 30},
            headers={**tokens["owner"], "If-Match": etag},
        ).status_code
        == 403
    )
    etag = client.get(url, headers=tokens["caio"]).headers["ETag"]
    accepted = client.patch(
        url,
        json={
            "status": "accepted",
            "acceptance_justification": "A caseworker now checks every denial before it is sent.",
        },
        headers={**tokens["caio"], "If-Match": etag},
    )
    assert accepted.status_code == 200 and accepted.get_json()["blocks_approval"] is False
    assert approve(client, pilot.id, tokens).status_code == 201


# ---- risks -----------------------------------------------------------------------------------------


def test_the_risk_register_scores_and_refuses_a_likelihood_of_seven(client, published, tokens):
    from assessments.trust_models import Risk

    url = f"/api/v1/pilots/{published.id}/risks"
    bad = client.post(url, json={"likelihood": 7, "severity": 3}, headers=tokens["owner"])
    assert bad.status_code == 422 and "likelihood" in bad.get_json()["errors"]
    assert db.session.query(Risk).count() == 0
    made = client.post(
        url,
        json={
            "likelihood": 4,
            "severity": 5,
            "residual_likelihood": 2,
            "residual_severity": 3,
            "mitigation": "A caseworker reviews every draft.",
            "owner_email": published.owner.email,
            "category": "Accuracy and reliability",
            "description": "Wrong amounts in letters.",
        },
        headers=tokens["owner"],
    )
    assert made.status_code == 201, made.get_json()
    risk = made.get_json()
    assert risk["inherent_level"] == 20 and risk["residual_level"] == 6
    etag = client.get(f"/api/v1/risks/{risk['id']}", headers=tokens["owner"]).headers["ETag"]
    changed = client.patch(
        f"/api/v1/risks/{risk['id']}",
        json={"residual_likelihood": 1},
        headers={**tokens["owner"], "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.get_json()["residual_level"] == 3
    assert client.get(url, headers=tokens["board"]).get_json()[0]["id"] == risk["id"]


# ---- publishing and withholding -----------------------------------------------------------------


def test_field_level_withholding_never_leaks_on_any_public_output(
    client, published, tokens, people
):
    before = dt.date.today() - dt.timedelta(days=1)
    key = published.use_case_id
    assert csv_rows(client)[0]["vendor_name"] == "Acme Secret Vendor"
    response = patch_pilot(
        client, published.id, tokens["owner"], {"withheld_fields": ["vendor_name"]}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["withheld_fields"] == ["vendor_name"]
    secret = "Acme Secret Vendor"
    outputs = {
        "csv": client.get("/api/v1/inventory.csv").get_data(as_text=True),
        "json": client.get("/api/v1/inventory.json").get_data(as_text=True),
        "page": client.get("/inventory?q=benefits").get_data(as_text=True),
        "permalink": client.get(f"/inventory/{key}").get_data(as_text=True),
        "history": client.get("/api/v1/inventory/history.csv").get_data(as_text=True),
        "diff_csv": client.get(
            f"/api/v1/inventory/diff.csv?from={before}&to={dt.date.today()}"
        ).get_data(as_text=True),
        "diff_json": client.get(
            f"/api/v1/inventory/diff.json?from={before}&to={dt.date.today()}"
        ).get_data(as_text=True),
        "history_page": client.get(f"/inventory/history?from={before}").get_data(as_text=True),
    }
    for name, text in outputs.items():
        assert secret not in text, name
    (row,) = csv_rows(client)
    assert row["vendor_name"] == "withheld" and row["use_case_name"] == "Benefits letter helper"
    history = csv_rows(client, "/api/v1/inventory/history.csv")
    assert {r["vendor_name"] for r in history} == {"withheld"}
    assert [r["action"] for r in history] == ["published", "withheld"]
    # Un-withholding discloses more: it waits for a publisher.
    patch_pilot(client, published.id, tokens["owner"], {"withheld_fields": []})
    assert csv_rows(client)[0]["vendor_name"] == "withheld"


def test_publishing_goes_draft_ready_published_and_refuses_empty_required_fields(
    client, factory, people, tokens
):
    from assessments import workflow

    pilot = factory.pilot(people["owner"], name="Draft record", purpose="Sorts mail.")
    url = f"/api/v1/pilots/{pilot.id}/publication"
    assert client.get(url, headers=tokens["owner"]).get_json()["publication_state"] == "draft"
    # Required public fields: a record with an empty purpose cannot be made ready.
    db.session.execute(db.text("UPDATE pilots SET purpose = '' WHERE id = :id"), {"id": pilot.id})
    db.session.commit()
    db.session.expire_all()
    refused = client.post(url, json={"action": "ready"}, headers=tokens["owner"])
    assert refused.status_code == 409 and "problem_solved" in refused.get_json()["errors"]
    patch_pilot(client, pilot.id, tokens["owner"], {"purpose": "Sorts incoming mail by topic."})
    ready = client.post(url, json={"action": "ready"}, headers=tokens["owner"])
    assert ready.status_code == 200 and ready.get_json()["publication_state"] == "ready"
    assert client.post(url, json={"action": "publish"}, headers=tokens["owner"]).status_code == 403
    done = client.post(url, json={"action": "publish"}, headers=tokens["caio"])
    assert done.status_code == 200 and done.get_json()["publication_state"] == "published"
    assert [r["use_case_name"] for r in csv_rows(client)] == ["Draft record"]
    body = client.get(f"/api/v1/pilots/{pilot.id}", headers=tokens["owner"]).get_json()
    assert body["publication_state"] == "published" and body["withheld_fields"] == []
    assert workflow  # the review workflow is not needed to publish


def test_the_history_shows_a_retracted_record_with_its_reason(client, published, tokens):
    url = f"/api/v1/pilots/{published.id}/publication"
    short = client.post(url, json={"action": "retract", "reason": "no"}, headers=tokens["caio"])
    assert short.status_code == 422
    reason = "The pilot was stopped before it reached any resident."
    done = client.post(url, json={"action": "retract", "reason": reason}, headers=tokens["caio"])
    assert done.status_code == 200 and done.get_json()["publication_state"] == "retracted"
    assert csv_rows(client) == []
    history = csv_rows(client, "/api/v1/inventory/history.csv")
    assert [(r["action"], r["reason"]) for r in history][-1] == ("retracted", reason)
    assert history[-1]["use_case_name"] == "Benefits letter helper"
    page = client.get(f"/inventory/{published.use_case_id}").get_data(as_text=True)
    assert reason in page
    today = dt.date.today()
    changes = client.get(
        f"/api/v1/inventory/diff.json?from={today - dt.timedelta(days=1)}&to={today}"
    ).get_json()["changes"]
    assert changes == []  # added and retracted within the period: not in the inventory at either
    # A published use case is never deleted.
    assert (
        client.delete(f"/api/v1/pilots/{published.id}", headers=tokens["owner"]).status_code == 409
    )


def test_the_year_over_year_diff_accounts_for_every_use_case(client, factory, people, tokens):
    from registry.catalog.models import PublishedVersion

    kept = factory.public_pilot(people["owner"], name="Kept")
    gone = factory.public_pilot(people["owner"], name="Gone")
    last_year = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    db.session.query(PublishedVersion).update({"published_at": last_year})
    db.session.commit()
    client.post(
        f"/api/v1/pilots/{gone.id}/publication",
        json={"action": "retract", "reason": "Replaced by a vendor product."},
        headers=tokens["caio"],
    )
    factory.public_pilot(people["owner"], name="New")
    patch_pilot(
        client,
        kept.id,
        tokens["owner"],
        {"stage": "retired", "retired_reason": "The contract ended."},
    )
    day_from = (last_year + dt.timedelta(days=1)).date()
    changes = {
        c["use_case_name"]: c
        for c in client.get(
            f"/api/v1/inventory/diff.json?from={day_from}&to={dt.date.today()}"
        ).get_json()["changes"]
    }
    assert changes["New"]["change"] == "added"
    assert changes["Gone"]["change"] == "retracted"
    assert changes["Gone"]["reason"] == "Replaced by a vendor product."
    assert (
        changes["Kept"]["change"] == "retired"
        and changes["Kept"]["reason"] == "The contract ended."
    )


def test_waivers_and_withheld_counts_are_published(client, factory, people, tokens):
    factory.public_pilot(people["owner"], name="Secret one", is_withheld="Yes - Disclosure Risk")
    body = client.get("/api/v1/inventory/waivers.json").get_json()
    assert body["withheld_use_cases"] == 1 and body["waivers"] == []
    history = client.get("/api/v1/inventory/history.csv").get_data(as_text=True)
    assert "Secret one" not in history


def test_plain_language_checks_warn_and_links_are_checked_by_the_job(
    app, client, factory, people, tokens, live_link_server
):
    from assessments import publishing

    app.config["LINK_CHECK_ALLOW_PRIVATE"] = True
    pilot = factory.pilot(
        people["owner"],
        name="Long words",
        purpose=(
            "The comprehensive multidimensional algorithmic prioritization infrastructure "
            "operationalizes heterogeneous administrative information to institutionalize "
            "interdepartmental accountability mechanisms across SNAP and TANF programs while "
            "simultaneously harmonizing organizational responsibilities and considerations for "
            "every office, every region and every partner organization in the state."
        ),
        pia_url=f"{live_link_server}/missing",
        code_url=f"{live_link_server}/ok",
    )
    checks = publishing.checks(pilot)
    kinds = {w["check"] for w in checks["warnings"]}
    assert {"reading_grade", "sentence_length", "undefined_acronym"} <= kinds
    assert {link["state"] for link in checks["links"]} == {"pending"}
    publishing.check_links(pilot.id)
    states = {
        link["url"].rsplit("/", 1)[-1]: link["state"] for link in publishing.checks(pilot)["links"]
    }
    assert states == {"missing": "broken", "ok": "ok"}
    # They warn, they do not block.
    url = f"/api/v1/pilots/{pilot.id}/publication"
    assert client.post(url, json={"action": "ready"}, headers=tokens["owner"]).status_code == 200


@pytest.fixture
def live_link_server():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        do_GET = do_HEAD

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_an_inquiry_address_replaces_the_owners_email(app, client, factory, people):
    app.config["PUBLIC_INQUIRY_EMAILS"] = {"MCG": "ai-inventory@mcg.gov"}
    factory.public_pilot(people["owner"], name="Contact check")
    (row,) = csv_rows(client)
    assert row["contact_email"] == "ai-inventory@mcg.gov"
    assert people["owner"].email not in client.get("/api/v1/inventory.json").get_data(as_text=True)


def test_the_board_packet_leads_with_top_residual_risks_and_open_serious_incidents(
    app, client, published, tokens, login, people
):
    client.post(
        f"/api/v1/pilots/{published.id}/risks",
        json={
            "likelihood": 5,
            "severity": 5,
            "residual_likelihood": 4,
            "residual_severity": 4,
            "description": "Letters deny benefits in error.",
        },
        headers=tokens["owner"],
    )
    client.post(
        "/api/v1/incidents",
        json={"pilot_id": published.id, "severity": "critical", "title": "Mass wrongful denials"},
        headers=tokens["caio"],
    )
    login(user=people["board"])
    html = client.get("/reports/board-packet").get_data(as_text=True)
    assert "Top residual risks" in html and "Letters deny benefits in error." in html
    assert "Open serious incidents" in html and "Mass wrongful denials" in html
    assert html.index("Top residual risks") < html.index("Executive summary")
