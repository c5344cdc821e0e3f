"""The administration pages for organisations and role assignments, scoped to a subtree, and
the public page of an agency, bureau or office."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.auth import organizations
from registry.auth.models import Organization, RoleAssignment
from registry.extensions import db
from tests.registry.test_organizations import _org, _user


@pytest.fixture
def tree(factory):
    """Root R; bureaus A and B; office A1 under A; administrators of R, A and B."""
    root = organizations.root()
    a = _org("BUR-A", root.id)
    b = _org("BUR-B", root.id)
    a1 = _org("BUR-A-1", a)
    users = {
        "root_admin": _user("admin", root.code, "root"),
        "a_admin": _user("admin", "BUR-A", "a"),
        "b_admin": _user("admin", "BUR-B", "b"),
        "a_caio": _user("caio", "BUR-A", "a"),
        "b_caio": _user("caio", "BUR-B", "b"),
        "a1_team": _user("team", "BUR-A-1", "a1"),
        "b_team": _user("team", "BUR-B", "b"),
    }
    return {"root": root.id, "a": a, "b": b, "a1": a1, "users": users}


def _parent(organization_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(Organization, organization_id).parent_id


def _events(entity: str, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == entity, AuditEvent.action == action)
        )
    )


# ---- the tree ---------------------------------------------------------------------------------


def test_the_tree_shows_every_organisation_and_offers_changes_only_within_the_subtree(
    client, login, tree
):
    login(user=tree["users"]["a_admin"])
    page = client.get("/admin/organizations")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Office BUR-A", "Office BUR-A-1", "Office BUR-B"):
        assert name in html
    assert f"/admin/organizations/{tree['a']}/edit" in html
    assert f"/admin/organizations/{tree['a1']}/edit" in html
    assert f"/admin/organizations/{tree['b']}/edit" not in html
    assert f"/admin/organizations/{tree['root']}/edit" not in html
    # A1 sits inside A's list in the markup (a nested list, not a flat one).
    assert html.index("Office BUR-A<") < html.index("Office BUR-A-1<")
    home = client.get("/pilots").get_data(as_text=True)
    assert 'href="/admin/organizations"' in home  # the navigation links it


def test_only_administrators_reach_the_organisation_pages(client, login, tree):
    login(user=tree["users"]["a_caio"])
    assert client.get("/admin/organizations").status_code == 403
    assert client.get("/admin/organizations/new").status_code == 403
    assert client.get(f"/admin/organizations/{tree['a']}/edit").status_code == 403
    assert 'href="/admin/organizations"' not in client.get("/pilots").get_data(as_text=True)


# ---- adding -----------------------------------------------------------------------------------


def test_an_administrator_adds_an_office_under_their_bureau(client, login, tree):
    login(user=tree["users"]["a_admin"])
    form = client.get(f"/admin/organizations/new?parent={tree['a']}")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert f'<option value="{tree["a"]}" selected>' in html
    assert f'<option value="{tree["b"]}"' not in html  # only where they may add
    response = client.post(
        "/admin/organizations/new",
        data={"name": "Office of Data", "code": "BUR-A-DATA", "parent_id": str(tree["a"])},
    )
    assert response.status_code == 302
    created = organizations.by_code("BUR-A-DATA")
    assert created.parent_id == tree["a"] and created.name == "Office of Data"
    assert [e.entity_id for e in _events("organization", "create")][-1] == str(created.id)


def test_adding_under_another_bureau_is_refused_and_saves_nothing(client, login, tree):
    login(user=tree["users"]["a_admin"])
    before = len(organizations.list_organizations())
    assert client.get(f"/admin/organizations/new?parent={tree['b']}").status_code == 403
    response = client.post(
        "/admin/organizations/new",
        data={"name": "Annex", "code": "B-ANNEX", "parent_id": str(tree["b"])},
    )
    assert response.status_code == 403
    assert len(organizations.list_organizations()) == before
    assert client.get("/admin/organizations/new?parent=999999").status_code == 404


@pytest.mark.parametrize(
    ("data", "label", "words"),
    [
        ({"name": "", "code": "NEW-1"}, "Name", "Enter the organisation's name."),
        ({"name": "x" * 201, "code": "NEW-2"}, "Name", "Use at most 200 characters."),
        ({"name": "Twin", "code": "BUR-B"}, "Code", "already exists"),
        ({"name": "Spaced", "code": "has space"}, "Code", "letters, digits"),
        ({"name": "Lost", "code": "NEW-3", "parent_id": "somewhere"}, "Sits under",
         "Choose the organisation it sits under."),
        ({"name": "Orphan", "code": "NEW-4", "parent_id": "999999"}, "Sits under",
         "There is no organization 999999."),
    ],
)
def test_a_bad_new_organisation_is_422_naming_the_field_in_words(
    client, login, tree, data, label, words
):
    login(user=tree["users"]["root_admin"])
    before = len(organizations.list_organizations())
    response = client.post(
        "/admin/organizations/new", data={"parent_id": str(tree["root"]), **data}
    )
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert f"{label}: " in html and words in html
    assert "parent_id:" not in html and "parent id:" not in html
    assert len(organizations.list_organizations()) == before


# ---- renaming and moving ---------------------------------------------------------------------


def test_the_root_administrator_renames_and_moves_an_office(client, login, tree):
    login(user=tree["users"]["root_admin"])
    form = client.get(f"/admin/organizations/{tree['a1']}/edit").get_data(as_text=True)
    # Not offered: the office itself (nor anything under it).
    assert f'<option value="{tree["a1"]}"' not in form
    response = client.post(
        f"/admin/organizations/{tree['a1']}/edit",
        data={"name": "Office of Records", "parent_id": str(tree["b"])},
    )
    assert response.status_code == 302
    assert _parent(tree["a1"]) == tree["b"]
    assert db.session.get(Organization, tree["a1"]).name == "Office of Records"
    (event,) = _events("organization", "update")
    assert event.changes["parent_id"] == {"before": tree["a"], "after": tree["b"]}
    assert event.changes["name"]["after"] == "Office of Records"
    # The subtree follows: B's CAIO now reaches the office, A's no longer does.
    assert organizations.in_scope(tree["users"]["b_caio"], {"caio"}, tree["a1"])
    assert not organizations.in_scope(tree["users"]["a_caio"], {"caio"}, tree["a1"])


def test_a_bureau_administrator_renames_in_their_subtree_but_moves_nothing_out_of_it(
    client, login, tree
):
    login(user=tree["users"]["a_admin"])
    renamed = client.post(
        f"/admin/organizations/{tree['a1']}/edit",
        data={"name": "Office One", "parent_id": str(tree["a"])},
    )
    assert renamed.status_code == 302
    moved = client.post(
        f"/admin/organizations/{tree['a1']}/edit",
        data={"name": "Office One", "parent_id": str(tree["b"])},
    )
    assert moved.status_code == 403
    assert _parent(tree["a1"]) == tree["a"]
    # Another bureau's organisations: neither the form nor a change.
    assert client.get(f"/admin/organizations/{tree['b']}/edit").status_code == 403
    refused = client.post(
        f"/admin/organizations/{tree['b']}/edit",
        data={"name": "Taken over", "parent_id": str(tree["a"])},
    )
    assert refused.status_code == 403
    db.session.expire_all()
    assert db.session.get(Organization, tree["b"]).name == "Office BUR-B"
    assert client.get("/admin/organizations/999999/edit").status_code == 404


@pytest.mark.parametrize(
    ("moved", "under", "words"),
    [
        ("a", "a1", "would make a loop"),
        ("a", "a", "cannot sit under itself"),
        ("root", "a", "stays at the top of the tree"),
        ("a", "", "Choose the organisation it sits under."),
        ("a", "not-a-number", "Choose the organisation it sits under."),
    ],
)
def test_a_move_that_breaks_the_tree_is_422_naming_the_field(
    client, login, tree, moved, under, words
):
    login(user=tree["users"]["root_admin"])
    parent = str(tree[under]) if under in tree else under
    before = _parent(tree[moved])
    response = client.post(
        f"/admin/organizations/{tree[moved]}/edit", data={"name": "Moved", "parent_id": parent}
    )
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert "Sits under: " in html and words in html
    assert _parent(tree[moved]) == before
    db.session.expire_all()
    assert db.session.get(Organization, tree[moved]).name != "Moved"
    assert _events("organization", "update") == []


def test_the_root_can_be_renamed(client, login, tree):
    login(user=tree["users"]["root_admin"])
    form = client.get(f"/admin/organizations/{tree['root']}/edit").get_data(as_text=True)
    assert "stays at the top of the tree" in form and 'name="parent_id"' not in form
    response = client.post(
        f"/admin/organizations/{tree['root']}/edit", data={"name": "Department of Examples"}
    )
    assert response.status_code == 302
    assert organizations.root().name == "Department of Examples"
    assert organizations.root().parent_id is None


# ---- role assignments -------------------------------------------------------------------------


def _assignments(user_id: int) -> list[tuple[str, int]]:
    db.session.expire_all()
    return sorted(
        (a.role, a.organization_id)
        for a in db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user_id))
    )


def test_an_administrator_sees_and_gives_roles_scoped_to_organisations(client, login, tree):
    caio = tree["users"]["a_caio"]
    login(user=tree["users"]["root_admin"])
    page = client.get(f"/users/{caio.id}/roles")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Chief AI Officer" in html and "Office BUR-A" in html and "main role" in html
    given = client.post(
        f"/users/{caio.id}/roles", data={"role": "board", "organization_id": str(tree["b"])}
    )
    assert given.status_code == 302
    assert _assignments(caio.id) == sorted([("caio", tree["a"]), ("board", tree["b"])])
    event = _events("user", "update")[-1]
    assert event.entity_id == str(caio.id)
    assert event.changes["assignments"]["after"] == sorted(
        [["caio", tree["a"]], ["board", tree["b"]]]
    )
    # The new role reaches B and what is under it.
    db.session.expire_all()
    caio = db.session.get(type(caio), caio.id)
    assert organizations.in_scope(caio, {"board"}, tree["b"])
    listed = client.get("/users").get_data(as_text=True)
    assert f"/users/{caio.id}/roles" in listed and "and 1 more" in listed


@pytest.mark.parametrize(
    ("data", "label", "words"),
    [
        ({"role": "caio", "organization_id": "a"}, "Role", "is already chief ai officer in"),
        ({"role": "overlord", "organization_id": "b"}, "Role", "Choose one of: Administrator"),
        ({"role": "board", "organization_id": ""}, "Organisation",
         "Choose the organisation the role reaches."),
        ({"role": "board", "organization_id": "999999"}, "Organisation",
         "There is no organization 999999."),
    ],
)
def test_a_bad_role_assignment_is_422_naming_the_field(client, login, tree, data, label, words):
    caio = tree["users"]["a_caio"]
    login(user=tree["users"]["root_admin"])
    data = {**data, "organization_id": str(tree.get(data["organization_id"], data["organization_id"]))}
    before = _assignments(caio.id)
    response = client.post(f"/users/{caio.id}/roles", data=data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert f"{label}: " in html and words.lower() in html.lower()
    assert "organization_id" not in html.split("<form", 1)[0]
    assert _assignments(caio.id) == before


def test_role_pages_are_scoped_to_the_administrators_subtree(client, login, tree):
    login(user=tree["users"]["a_admin"])
    b_caio, a1_team = tree["users"]["b_caio"], tree["users"]["a1_team"]
    # A user of another bureau: not shown, not changed, not removable.
    assert client.get(f"/users/{b_caio.id}/roles").status_code == 403
    assert client.post(
        f"/users/{b_caio.id}/roles", data={"role": "board", "organization_id": str(tree["a"])}
    ).status_code == 403
    (assignment,) = b_caio.assignments
    assert client.get(f"/users/{b_caio.id}/roles/{assignment.id}/remove").status_code == 403
    assert client.post(f"/users/{b_caio.id}/roles/{assignment.id}/remove").status_code == 403
    assert _assignments(b_caio.id) == [("caio", tree["b"])]
    # Their own user may not be given a role over another bureau.
    refused = client.post(
        f"/users/{a1_team.id}/roles", data={"role": "caio", "organization_id": str(tree["b"])}
    )
    assert refused.status_code == 403
    allowed = client.post(
        f"/users/{a1_team.id}/roles", data={"role": "caio", "organization_id": str(tree["a1"])}
    )
    assert allowed.status_code == 302
    assert _assignments(a1_team.id) == [("caio", tree["a1"]), ("team", tree["a1"])]
    # A user id that is not there, and an assignment that is not the user's.
    assert client.get("/users/999999/roles").status_code == 404
    assert client.get(f"/users/{a1_team.id}/roles/{assignment.id}/remove").status_code == 404
    # The user list offers the roles page only for users they administer.
    listed = client.get("/users").get_data(as_text=True)
    assert f"/users/{a1_team.id}/roles" in listed and f"/users/{b_caio.id}/roles" not in listed
    assert client.get(f"/users/{b_caio.id}/edit").status_code == 403


def test_removing_a_role_asks_first_then_removes_it(client, login, tree):
    caio = tree["users"]["a_caio"]
    login(user=tree["users"]["root_admin"])
    client.post(f"/users/{caio.id}/roles", data={"role": "board", "organization_id": str(tree["b"])})
    board = next(a for a in caio.assignments if a.role == "board")
    url = f"/users/{caio.id}/roles/{board.id}/remove"
    page = client.get(f"/users/{caio.id}/roles").get_data(as_text=True)
    assert f'href="{url}" data-confirm' in page
    confirm = client.get(url)
    assert confirm.status_code == 200
    html = unescape(confirm.get_data(as_text=True))
    assert "confirm-page" in html and "governance board in Office BUR-B" in html
    assert f'action="{url}"' in html and "Yes, remove this role" in html
    assert _assignments(caio.id) == sorted([("caio", tree["a"]), ("board", tree["b"])])
    done = client.post(url, data={"confirmed": "yes"})
    assert done.status_code == 302
    assert _assignments(caio.id) == [("caio", tree["a"])]


def test_removing_the_main_role_makes_the_strongest_remaining_one_main(client, login, tree):
    team = tree["users"]["a1_team"]
    login(user=tree["users"]["root_admin"])
    client.post(f"/users/{team.id}/roles", data={"role": "caio", "organization_id": str(tree["b"])})
    main = next(a for a in team.assignments if a.role == "team")
    assert client.post(f"/users/{team.id}/roles/{main.id}/remove").status_code == 302
    db.session.expire_all()
    team = db.session.get(type(team), team.id)
    assert (team.role, team.organization_id) == ("caio", tree["b"])
    assert team.roles == frozenset({"caio"})


def test_the_last_role_and_ones_own_administrator_role_are_not_removed(client, login, tree):
    admin, caio = tree["users"]["root_admin"], tree["users"]["b_caio"]
    login(user=admin)
    (only,) = caio.assignments
    page = client.get(f"/users/{caio.id}/roles").get_data(as_text=True)
    assert f"/roles/{only.id}/remove" not in page  # not offered
    last = client.post(f"/users/{caio.id}/roles/{only.id}/remove")
    assert last.status_code == 422 and "only role" in unescape(last.get_data(as_text=True))
    assert _assignments(caio.id) == [("caio", tree["b"])]
    client.post(f"/users/{admin.id}/roles", data={"role": "board", "organization_id": str(tree["a"])})
    own = next(a for a in admin.assignments if a.role == "admin")
    refused = client.post(f"/users/{admin.id}/roles/{own.id}/remove")
    assert refused.status_code == 422
    assert "your own administrator role" in unescape(refused.get_data(as_text=True))
    assert ("admin", tree["root"]) in _assignments(admin.id)


# ---- the public page of an agency, bureau or office ------------------------------------------


def _withhold(client, factory, pilot, owner, fields):
    headers = factory.headers(owner)
    etag = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).headers["ETag"]
    response = client.patch(
        f"/api/v1/pilots/{pilot.id}",
        json={"withheld_fields": fields},
        headers={**headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def public_tree(client, factory, tree):
    a1_team, b_team = tree["users"]["a1_team"], tree["users"]["b_team"]
    records = factory.public_pilot(
        a1_team, name="Records triage", agency_bureau="Office One",
        vendor_name="Hush Vendor Inc", purpose="Sorts incoming records requests.",
    )
    _withhold(client, factory, records, a1_team, ["vendor_name"])
    hidden_bureau = factory.public_pilot(
        a1_team, name="Quiet helper", agency_bureau="Secret Office Of Things",
        purpose="Answers questions from staff.",
    )
    _withhold(client, factory, hidden_bureau, a1_team, ["agency_bureau"])
    factory.public_pilot(b_team, name="Permit checker", agency_bureau="Bureau B")
    factory.pilot(a1_team, name="Unpublished draft")
    return tree


def test_the_agency_page_lists_the_subtrees_public_use_cases_and_nothing_withheld(
    client, public_tree
):
    response = client.get("/agencies/BUR-A")  # no sign-in
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Office BUR-A</h1>" in html
    assert "Records triage" in html
    assert "Permit checker" not in html  # another bureau
    assert "Unpublished draft" not in html  # not published
    assert "Hush Vendor Inc" not in html  # a withheld field
    # A use case whose bureau is withheld is not listed under its bureau (that would tell),
    # but the agency as a whole lists it, still without the bureau.
    assert "Quiet helper" not in html
    root = client.get(f"/agencies/{organizations.root().code}").get_data(as_text=True)
    assert "Quiet helper" in root and "Secret Office Of Things" not in root
    assert "Records triage" in root and "Permit checker" in root
    # Its offices with what they published, linked; the breadcrumb leads back up.
    assert 'href="/agencies/BUR-A-1"' in html and "(1 use case)" in html
    assert f'href="/agencies/{organizations.root().code}"' in html
    office = client.get("/agencies/BUR-A-1").get_data(as_text=True)
    assert "Records triage" in office and "Quiet helper" not in office


def test_the_inventory_filter_by_bureau_keeps_a_withheld_bureau_hidden_too(client, public_tree):
    csv_text = client.get("/api/v1/inventory.csv?agency=BUR-A").get_data(as_text=True)
    assert "Records triage" in csv_text and "Quiet helper" not in csv_text
    page = client.get("/inventory?agency=BUR-A").get_data(as_text=True)
    assert "Quiet helper" not in page
    assert 'href="/agencies/BUR-A"' in page  # the inventory links the agency's page


def test_an_unknown_agency_is_404_and_an_empty_one_says_so(client, tree):
    missing = client.get("/agencies/NOPE")
    assert missing.status_code == 404
    assert "There is no agency, bureau or office with the code NOPE" in unescape(
        missing.get_data(as_text=True)
    )
    empty = client.get("/agencies/BUR-B")
    assert empty.status_code == 200 and "No use cases published" in empty.get_data(as_text=True)
