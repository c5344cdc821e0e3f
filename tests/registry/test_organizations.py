"""Organisations: the tree, its API and command line, and roles scoped to a subtree."""

from __future__ import annotations

import csv
import io

import pytest

from registry.auth import organizations
from registry.auth import service as auth_service


def _org(code: str, parent) -> int:
    return organizations.create_organization(
        {"name": f"Office {code}", "code": code, "parent_id": parent}, actor=None
    ).id


def _user(role: str, org_code: str, n: str):
    return auth_service.create_user(
        {
            "email": f"{role}.{n}@agency.gov",
            "name": f"{role} {n}",
            "role": role,
            "password": "correct-horse-battery-2026",
            "organization": org_code,
        },
        actor=None,
    )


@pytest.fixture
def tree(factory):
    """Root R; bureaus A and B (siblings); office A1 under A; a draft pilot of A1."""
    root = organizations.root()
    a = _org("BUR-A", root.id)
    b = _org("BUR-B", root.id)
    a1 = _org("BUR-A-1", a)
    users = {
        "root_caio": _user("caio", root.code, "root"),
        "root_admin": _user("admin", root.code, "root"),
        "a_caio": _user("caio", "BUR-A", "a"),
        "b_caio": _user("caio", "BUR-B", "b"),
        "a_board": _user("board", "BUR-A", "a"),
        "b_board": _user("board", "BUR-B", "b"),
        "a_admin": _user("admin", "BUR-A", "a"),
        "b_admin": _user("admin", "BUR-B", "b"),
        "a1_team": _user("team", "BUR-A-1", "a1"),
    }
    pilot = factory.pilot(users["a1_team"])
    tokens = {name: factory.token(user) for name, user in users.items()}
    return {"root": root.id, "a": a, "b": b, "a1": a1, "users": users, "pilot": pilot.id,
            "tokens": tokens}


def _headers(tree, who):
    return {"Authorization": f"Bearer {tree['tokens'][who]}"}


def test_the_root_organisation_exists_and_organisations_form_a_tree(client, factory, tree):
    admin = tree["users"]["root_admin"]
    listed = client.get("/api/v1/organizations", headers=_headers(tree, "root_admin")).get_json()
    assert listed[0] == {"id": tree["root"], "name": listed[0]["name"],
                         "code": organizations.root().code, "parent_id": None}
    by_code = {o["code"]: o for o in listed}
    assert by_code["BUR-A-1"]["parent_id"] == tree["a"]
    assert by_code["BUR-A"]["parent_id"] == tree["root"]
    assert set(by_code["BUR-A"]) == {"id", "name", "code", "parent_id"}
    assert admin.organization_id == tree["root"]
    assert tree["users"]["a1_team"].organization_id == tree["a1"]
    pilot = client.get(f"/api/v1/pilots/{tree['pilot']}", headers=_headers(tree, "a1_team"))
    assert pilot.get_json()["organization_id"] == tree["a1"]


def test_an_administrator_adds_organisations_only_under_their_subtree(client, tree):
    body = {"name": "Office of A", "code": "A-2", "parent_id": tree["a"]}
    created = client.post("/api/v1/organizations", json=body, headers=_headers(tree, "a_admin"))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["parent_id"] == tree["a"] and created.get_json()["code"] == "A-2"
    sibling = client.post(
        "/api/v1/organizations",
        json={"name": "Office of A", "code": "A-3", "parent_id": tree["a"]},
        headers=_headers(tree, "b_admin"),
    )
    assert sibling.status_code == 403
    assert client.get("/api/v1/organizations", headers=_headers(tree, "a_admin")).get_json()[-1][
        "code"
    ] == "A-2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Dup", "code": "BUR-A"}, "code"),
        ({"name": "Second root", "code": "ROOT2", "parent_id": None}, "parent_id"),
        ({"name": "Orphan", "code": "ORPH", "parent_id": 999_999}, "parent_id"),
        # Found by the API fuzzer on PostgreSQL: beyond a 64-bit integer it was a 500.
        ({"name": "Huge", "code": "HUGE", "parent_id": -1_000_000_000_000_000_001}, "parent_id"),
        ({"name": "Bad", "code": "has space"}, "code"),
        ({"name": "", "code": "EMPTY"}, "name"),
    ],
)
def test_bad_organisations_get_422_naming_the_field_and_nothing_is_saved(
    client, tree, body, field
):
    body = {"parent_id": tree["root"], **body}
    before = len(organizations.list_organizations())
    response = client.post("/api/v1/organizations", json=body, headers=_headers(tree, "root_admin"))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert field in errors.get("json", errors)
    assert len(organizations.list_organizations()) == before


def test_users_create_takes_an_organisation_and_defaults_to_the_root(runner, factory, tree):
    result = runner.invoke(
        args=["users", "create", "bureau.caio@agency.gov", "--name", "Bureau CAIO", "--role",
              "caio", "--password", "correct-horse-battery-2026", "--organization", "BUR-B"]
    )
    assert result.exit_code == 0, result.output
    user = auth_service.find_user("bureau.caio@agency.gov")
    assert user.organization_id == tree["b"]
    assert [(a.role, a.organization_id) for a in user.assignments] == [("caio", tree["b"])]
    result = runner.invoke(
        args=["users", "create", "plain@agency.gov", "--name", "Plain", "--role", "team"]
    )
    assert result.exit_code == 0, result.output
    assert auth_service.find_user("plain@agency.gov").organization_id == tree["root"]
    result = runner.invoke(
        args=["users", "create", "lost@agency.gov", "--name", "Lost", "--role", "team",
              "--organization", "NOPE"]
    )
    assert result.exit_code == 2 and "organization" in result.output
    assert auth_service.find_user("lost@agency.gov") is None


def test_organisations_cli_creates_and_lists(runner, tree):
    result = runner.invoke(args=["organizations", "create", "BUR-C", "--name", "Bureau C"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["organizations", "list"]).output
    assert "BUR-C" in listing and "BUR-A-1" in listing


# (method, path, body, {actor: status}) for a draft pilot of office A1 (under bureau A).
CROSS_ORG = [
    ("POST", "/api/v1/pilots/{pilot}/decisions",
     {"decision": "reject", "rationale": "The model is not ready for this population."},
     dict(root_caio=409, a_caio=409, b_caio=403, a_admin=403, b_board=403)),
    ("POST", "/api/v1/pilots/{pilot}/risk-tier-override",
     {"risk_tier": "III", "justification": "Affects access to housing benefits."},
     dict(root_caio=200, a_caio=200, b_caio=403, a_board=403)),
    ("PATCH", "/api/v1/pilots/{pilot}", {"name": "Renamed"},
     dict(root_admin=200, a_admin=200, b_admin=403, b_caio=403)),
    ("DELETE", "/api/v1/pilots/{pilot}", None,
     dict(b_admin=403, a_admin=204)),
    ("POST", "/api/v1/pilots/{pilot}/comments", {"body": "Looks reasonable."},
     dict(a_board=201, b_board=403, b_caio=403, root_caio=201)),
    ("GET", "/api/v1/pilots/{pilot}/comments", None,
     dict(a_board=200, b_board=403, a_caio=200, b_caio=403)),
]

CROSS_CASES = [
    pytest.param(method, path, body, who, expected[who], id=f"{method} {path} as {who}")
    for method, path, body, expected in CROSS_ORG
    for who in expected
]


@pytest.mark.parametrize(("method", "path", "body", "who", "expected"), CROSS_CASES)
def test_cross_organisation_matrix(client, tree, method, path, body, who, expected):
    url = path.format(pilot=tree["pilot"])
    headers = _headers(tree, who)
    if method == "PATCH":
        headers["If-Match"] = client.get(url, headers=headers).headers["ETag"]
    response = client.open(url, method=method, json=body, headers=headers)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected == 403 and who == "b_caio" and "decisions" in path:
        assert "outside yours" in response.get_json()["message"]


def test_a_sibling_bureaus_caio_cannot_decide_in_the_browser(client, tree):
    from assessments import workflow
    from registry.catalog import service as catalog

    pilot = catalog.get_pilot(tree["pilot"])
    workflow.submit(pilot, tree["users"]["a1_team"])
    client.post("/login", data={"email": tree["users"]["b_caio"].email,
                                "password": "correct-horse-battery-2026"})
    response = client.post(
        f"/pilots/{tree['pilot']}/decide",
        data={"decision": "reject", "rationale": "The model is not ready for this population."},
    )
    assert response.status_code == 403
    assert catalog.get_pilot(tree["pilot"]).review_status == "submitted"


def test_queue_dashboard_and_board_packet_show_only_the_readers_subtree(client, tree):
    from assessments import workflow
    from registry.catalog import service as catalog

    workflow.submit(catalog.get_pilot(tree["pilot"]), tree["users"]["a1_team"])

    def queue(who):
        rows = client.get("/api/v1/review-queue", headers=_headers(tree, who)).get_json()
        return {row["pilot_id"] for row in rows}

    assert tree["pilot"] in queue("a_caio")
    assert tree["pilot"] in queue("root_caio")
    assert tree["pilot"] not in queue("b_caio")

    def packet(who):
        body = client.get("/api/v1/reports/board-packet.csv", headers=_headers(tree, who))
        assert body.status_code == 200
        return {int(row["pilot_id"]) for row in csv.DictReader(io.StringIO(body.get_data(as_text=True)))}

    assert packet("a_board") == {tree["pilot"]}
    assert packet("b_board") == set()
    assert packet("root_admin") == {tree["pilot"]}

    client.post("/login", data={"email": tree["users"]["b_board"].email,
                                "password": "correct-horse-battery-2026"})
    assert "0 AI use cases" in client.get("/dashboard").get_data(as_text=True)
    client.post("/logout")
    client.post("/login", data={"email": tree["users"]["a_board"].email,
                                "password": "correct-horse-battery-2026"})
    assert "1 AI use cases" in client.get("/dashboard").get_data(as_text=True)


def test_public_inventory_filters_by_agency_code_including_the_subtree(client, tree):
    from assessments import workflow
    from registry.catalog import service as catalog

    workflow.submit(catalog.get_pilot(tree["pilot"]), tree["users"]["a1_team"])
    use_case = catalog.get_pilot(tree["pilot"]).use_case_id

    def ids(agency):
        rows = client.get(f"/api/v1/inventory.json?agency={agency}").get_json()
        return {row["id"] for row in rows}

    assert use_case in ids("BUR-A")
    assert use_case in ids("BUR-A-1")
    assert use_case not in ids("BUR-B")
    assert use_case in ids(organizations.root().code)
    csv_body = client.get("/api/v1/inventory.csv?agency=BUR-B").get_data(as_text=True)
    assert use_case not in csv_body
    assert use_case in client.get("/api/v1/inventory.csv?agency=BUR-A").get_data(as_text=True)


def test_a_pilot_cannot_be_registered_for_an_organisation_outside_the_creators(client, tree):
    body = {"name": "Elsewhere", "purpose": "Testing scope.", "agency": "MCG",
            "owner_email": tree["users"]["a1_team"].email, "stage": "pre_deployment",
            "organization_id": tree["b"]}
    response = client.post("/api/v1/pilots", json=body, headers=_headers(tree, "a1_team"))
    assert response.status_code == 422
    assert "organization_id" in str(response.get_json()["errors"])
    body["organization_id"] = tree["a1"]
    assert client.post("/api/v1/pilots", json=body,
                       headers=_headers(tree, "a1_team")).status_code == 201


def test_only_caios_of_the_pilots_subtree_are_notified_of_a_submission(client, tree):
    from assessments import workflow
    from registry.catalog import service as catalog

    workflow.submit(catalog.get_pilot(tree["pilot"]), tree["users"]["a1_team"])

    def inbox(who):
        return client.get("/api/v1/inbox", headers=_headers(tree, who)).get_json()

    assert inbox("a_caio") and inbox("root_caio")
    assert not inbox("b_caio")
