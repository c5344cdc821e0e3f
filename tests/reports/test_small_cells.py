"""Small-cell protection in what leaves the registry: the board packet and every public output.

A count below the policy's ``privacy.small_cell_min`` (10 in the shipped library) is shown as
"fewer than 10" in the board packet (HTML and PDF), with secondary suppression so that the total
does not give it away; the CAIO still sees the exact figure on the check's page. No output
served without sign-in shows a group's small count.
"""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

# Groups a (40 people), b (35) and "Pacific Islander" (7): the 7 is small, and with the total
# shown it would be the total minus 75, so the next smallest, b, is hidden as well.
ROWS = [("a", 40), ("b", 35), ("Pacific Islander", 7)]


def _content() -> bytes:
    lines = ["g,y,p"]
    for group, n in ROWS:
        lines += [f"{group},{i % 2},{(i // 2) % 2}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def checked(client, factory):
    from policies import store

    store.active_version()
    owner = factory.user("team")
    board = factory.user("board")
    caio = factory.user("caio")
    # Submitted, so listed in the public inventory: public pages do show this pilot.
    pilot = factory.public_pilot(owner, name="Benefit eligibility triage")
    check = factory.bias_check(pilot, owner, content=_content())
    assert check.status == "succeeded", check.error
    return {"pilot": pilot, "check": check, "board": board, "caio": caio}


def _packet_line(text: str) -> str:
    flat = " ".join(text.split())
    match = re.search(r"Group sizes (.*?All groups: [^.]*\.)", flat)
    assert match, flat[:2000]
    return match.group(1)


def test_board_packet_shows_small_groups_as_fewer_than_the_minimum(client, factory, checked):
    client.post("/login", data={"email": checked["board"].email, "password": factory.PASSWORD})
    html = client.get("/reports/board-packet").get_data(as_text=True)
    line = _packet_line(re.sub(r"<[^>]+>", " ", html))
    assert "Pacific Islander: fewer than 10" in line
    assert "b: 10 or more" in line  # secondary: else 82 - 40 - 35 = 7
    assert "a: 40" in line and "All groups: 82" in line
    assert not re.search(r"Pacific Islander\W+7\b", html)

    pdf = client.get(
        "/api/v1/reports/board-packet.pdf", headers=factory.headers(checked["board"])
    ).data
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    line = _packet_line(text)
    assert "Pacific Islander: fewer than 10" in line and "b: 10 or more" in line
    assert not re.search(r"Pacific Islander\W+7\b", text)


def test_the_caio_sees_exact_figures_on_the_checks_page(client, factory, checked):
    client.post("/login", data={"email": checked["caio"].email, "password": factory.PASSWORD})
    page = client.get(f"/bias-checks/{checked['check'].id}").get_data(as_text=True)
    assert "Pacific Islander (7 people)" in page
    assert re.search(r"Pacific Islander\W.{0,300}?<td>\s*7\s*</td>", page, re.S)
    record = client.get(
        f"/api/v1/bias-checks/{checked['check'].id}", headers=factory.headers(checked["caio"])
    ).get_json()
    assert {g["group"]["g"]: g["count"] for g in record["by_group"]}["Pacific Islander"] == 7


def test_the_policys_minimum_decides_what_is_small():
    from reports.render import group_sizes

    results = {"by_group": [{"group": {"g": g}, "count": n} for g, n in ROWS]}
    assert (
        group_sizes(results, 5)
        == "a: 40; b: 35; Pacific Islander: 7. All groups: 82 (counts below 5 are not shown exactly)."
    )
    assert "Pacific Islander: fewer than 50" in group_sizes(results, 50)
    assert group_sizes(results, 1) == "a: 40; b: 35; Pacific Islander: 7. All groups: 82."


def _url(rule, ids):
    values = {}
    for arg in rule.arguments:
        values[arg] = ids.get(arg, 1)
    return rule, values


def test_no_output_served_without_sign_in_shows_a_small_count(app, client, checked):
    """Every GET route of the app, asked anonymously: none shows the 7 of the small group."""
    ids = {
        "pilot_id": checked["pilot"].id,
        "check_id": checked["check"].id,
        "id": checked["pilot"].id,
    }
    served = []
    with app.test_request_context():
        from flask import url_for

        rules = [
            r
            for r in app.url_map.iter_rules()
            if "GET" in r.methods and not r.endpoint.endswith("static")
        ]
        urls = []
        for rule in rules:
            try:
                urls.append(url_for(rule.endpoint, **{a: ids.get(a, 1) for a in rule.arguments}))
            except Exception:  # noqa: BLE001 - a converter that takes no number: not a data page
                continue
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            continue
        served.append(url)
        body = response.get_data()
        if response.mimetype == "application/pdf":
            body = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(body)).pages)
        else:
            body = body.decode("utf-8", errors="replace")
        assert not re.search(r"Pacific Islander\W{1,40}7\b", body), url
        if "Pacific Islander" in body:
            assert "fewer than 10" in body, url
    assert {"/inventory", "/api/v1/inventory.csv", "/api/v1/inventory.json"} <= set(served)
    inventory = client.get("/api/v1/inventory.json").get_data(as_text=True)
    assert "Benefit eligibility triage" in inventory  # the pilot is public, its groups are not
    assert not any(url.startswith(f"/bias-checks/{checked['check'].id}") for url in served)
