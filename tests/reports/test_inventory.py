"""The public AI use-case inventory: CSV/JSON export, the public page, and the importer."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.catalog import service as catalog_service
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import INVENTORY_COLUMNS
from registry.extensions import db
from reports import inventory
from reports.csv_safety import neutralise, safe_row

# ---- helpers -------------------------------------------------------------------------------

DEFAULT_ROW = {
    "agency": "MCG",
    "agency_name": "Metro County Government",
    "use_case_name": "Permit triage",
    "agency_bureau": "Planning",
    "contact_email": "",
    "is_withheld": "No",
    "development_stage": "Pilot",
    "is_high_impact": "Not High-impact",
    "topic_area": "Service Delivery",
    "classification": "NLP",
    "problem_solved": "Sorts permit requests.",
    "demographic_features": "[]",
    "hi_public_consultation": "[]",
}


def inventory_csv(*rows: dict[str, str], bom: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(INVENTORY_COLUMNS)
    for row in rows:
        cells = {**DEFAULT_ROW, **row}
        writer.writerow([cells.get(column, "") for column in INVENTORY_COLUMNS])
    return ("\ufeff" if bom else "") + buffer.getvalue()


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def csv_rows(client) -> list[dict[str, str]]:
    response = client.get("/api/v1/inventory.csv")
    assert response.status_code == 200
    header, *rows = parse_csv(response.get_data(as_text=True))
    assert tuple(header) == INVENTORY_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in rows]


def json_rows(client) -> list[dict[str, str]]:
    response = client.get("/api/v1/inventory.json")
    assert response.status_code == 200
    return response.get_json()


# ---- csv_safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_safe_row_neutralises_every_cell():
    assert safe_row(["=x", "ok", None, "@y"]) == ["'=x", "ok", "", "'@y"]


# ---- export --------------------------------------------------------------------------------


def test_csv_header_is_exactly_the_omb_columns_and_needs_no_auth(client, factory):
    response = client.get("/api/v1/inventory.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    header, *rows = parse_csv(response.get_data(as_text=True))
    assert tuple(header) == INVENTORY_COLUMNS
    assert len(header) == 36
    assert rows == []


def test_json_is_a_list_of_objects_with_exactly_the_36_keys(client, factory):
    owner = factory.user("team")
    factory.public_pilot(owner, name="Chat helper", is_withheld="No")
    factory.public_pilot(owner, name="Eligibility screen")
    response = client.get("/api/v1/inventory.json")  # no Authorization header
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    rows = response.get_json()
    assert isinstance(rows, list) and len(rows) == 2
    for row in rows:
        assert list(row) == list(INVENTORY_COLUMNS)
        assert all(isinstance(value, str) for value in row.values())


def test_withheld_use_cases_are_not_published(client, factory):
    owner = factory.user("team")
    for name, withheld in [
        ("Published no", "No"),
        ("Published empty", None),
        ("Hidden disclosure", "Yes - Disclosure Risk"),
        ("Hidden law", "Yes - Prohibited by Law"),
        ("Hidden other", "Other"),
    ]:
        factory.public_pilot(owner, name=name, is_withheld=withheld)
    names = {row["use_case_name"] for row in csv_rows(client)}
    assert names == {"Published no", "Published empty"}
    assert {row["use_case_name"] for row in json_rows(client)} == names
    page = client.get("/inventory").get_data(as_text=True)
    assert "Published no" in page and "Hidden" not in page


def test_a_registry_pilot_maps_to_the_omb_columns(client, factory):
    owner = factory.user("team", email="owner@agency.gov")
    pilot = factory.public_pilot(
        owner,
        name="Benefits chatbot",
        purpose="Answers benefits questions.",
        agency="MCG",
        agency_name="Metro County Government",
        agency_bureau="Social services",
        use_case_id="MCG-0007",
        is_high_impact="Not High-impact",
        hi_justification="Gives information only.",
        topic_area="Benefits Processing",
        classification="Generative AI",
        benefits="Shorter queues.",
        contracting_usage="Vendor Purchased",
        vendor_name="Acme",
        have_ato="Yes",
        has_pii="No",
        demographic_features=["b) Sex", "c) Age"],
        has_custom_code="No",
    )
    other = factory.public_pilot(owner, name="No id yet", agency="MCG")
    rows = {row["use_case_name"]: row for row in csv_rows(client)}
    row = rows["Benefits chatbot"]
    assert row["agency"] == "MCG"
    assert row["agency_name"] == "Metro County Government"
    assert row["id"] == "MCG-0007"
    assert row["agency_bureau"] == "Social services"
    assert row["contact_email"] == "owner@agency.gov"
    assert row["development_stage"] == "Pre-deployment"
    assert row["is_high_impact"] == "Not High-impact"
    assert row["HI_justification"] == "Gives information only."
    assert row["problem_solved"] == "Answers benefits questions."
    assert row["demographic_features"] == "['b) Sex', 'c) Age']"
    assert row["hi_testing_conducted"] == ""
    assert row["hi_public_consultation"] == ""  # an empty list is an empty cell, not "[]"
    assert rows["No id yet"]["id"] == other.use_case_id
    assert re.fullmatch(r"MCG-[0-9A-Z]{6}", other.use_case_id)  # random, not from the row id
    assert rows["No id yet"]["demographic_features"] == ""
    assert pilot.review_status not in row.values()  # no internal field is exported
    assert "submitted" not in row.values()


def test_csv_cells_are_neutralised_against_formulas(client, factory):
    owner = factory.user("team")
    factory.public_pilot(
        owner,
        name='=HYPERLINK("http://evil.example","click")',
        purpose="+cmd|' /C calc'!A0",
        benefits="-2+3",
        vendor_name="@SUM(1+1)",
        agency_bureau="Fine = fine",
    )
    (row,) = csv_rows(client)
    assert row["use_case_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["problem_solved"] == "'+cmd|' /C calc'!A0"
    assert row["benefits"] == "'-2+3"
    assert row["vendor_name"] == "'@SUM(1+1)"
    assert row["agency_bureau"] == "Fine = fine"
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@"))
    # JSON is not a spreadsheet format: its values are the stored text.
    (item,) = json_rows(client)
    assert item["use_case_name"] == '=HYPERLINK("http://evil.example","click")'


def test_hi_practices_come_from_the_checklist_for_high_impact_pilots(client, factory):
    owner = factory.user("team")
    pilot = factory.public_pilot(
        owner, name="Risk score", is_high_impact="High-impact", hi_potential_impacts="Denials."
    )
    (row,) = csv_rows(client)
    for column in inventory.PRACTICE_COLUMNS:
        if column == "hi_public_consultation":
            assert row[column] == "['In-progress']"
        else:
            assert row[column] == "In-progress", column
    assert row["hi_potential_impacts"] == "Denials."
    factory.evidence(pilot, owner, kind="test_report", content=b"Test report\n", name="t.txt")
    # The public record is a published version: new evidence shows once it is published again.
    (row,) = csv_rows(client)
    assert row["hi_testing_conducted"] == "In-progress"
    factory.republish(pilot, owner)
    (row,) = csv_rows(client)
    assert row["hi_testing_conducted"] == "Yes"
    assert row["hi_appeal_process"] == "In-progress"


def test_checklist_waivers_show_as_caio_waived():
    checklist = {
        "items": [
            {"id": "hi_testing_conducted", "status": "met"},
            {"id": "hi_appeal_process", "status": "waived"},
            {"id": "hi_public_consultation", "status": "waived"},
            {"id": "hi_training_established", "status": "not_applicable"},
        ]
    }
    answers = inventory.checklist_answers(checklist)
    assert answers["hi_testing_conducted"] == "Yes"
    assert answers["hi_appeal_process"] == "CAIO Waived"
    assert answers["hi_public_consultation"] == "['CAIO Waived']"
    assert answers["hi_training_established"] == ""
    assert answers["hi_ongoing_monitoring"] == ""


# ---- import --------------------------------------------------------------------------------


def test_import_counts_idempotency_and_rejection_lines(app, factory):
    admin = factory.user("admin")
    text = inventory_csv(
        {"id": "MCG-0001", "use_case_name": "First"},
        {"id": "MCG-0002", "use_case_name": ""},  # line 3
        {"id": "MCG-0003", "use_case_name": "Bad stage", "development_stage": "Someday"},
        {"id": "MCG-0001", "use_case_name": "First, again but different"},  # line 5
        {"id": "MCG-0001", "use_case_name": "First"},  # line 6: identical to line 2
        {"id": "MCG-0004", "use_case_name": "Odd impact", "is_high_impact": "Maybe"},
        {"id": "", "use_case_name": "No id"},
        {"id": "MCG-0005", "use_case_name": "Secret", "is_withheld": "Yes - Disclosure Risk"},
    )
    result = inventory.import_inventory(text, admin)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert result.rejection_lines() == [
        "line 3: use_case_name is empty",
        "line 4: unknown development_stage 'Someday'",
        "line 5: duplicate id 'MCG-0001' for agency MCG: line 2 has the same id with "
        "different content",
        "line 6: duplicate row: identical to line 2",
        "line 7: unknown is_high_impact 'Maybe'",
    ]
    assert result.summary() == "created 3, updated 0, unchanged 0, rejected 5"
    assert db.session.scalar(select(func.count()).select_from(Pilot)) == 3
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert len(events) == 3 and {e.entity_type for e in events} == {"pilot"}
    assert events[0].changes["line"] == 2 and events[0].changes["result"] == "created"

    again = inventory.import_inventory(text, admin)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert len(again.rejected) == 5
    imports = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import")
    assert db.session.scalar(imports) == 3


def test_import_updates_a_changed_row_and_keeps_the_audit_chain(app, factory, runner):
    admin = factory.user("admin")
    inventory.import_inventory(inventory_csv({"id": "MCG-0001", "benefits": "Faster."}), admin)
    result = inventory.import_inventory(
        inventory_csv({"id": "MCG-0001", "benefits": "Much faster."}), admin
    )
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    pilot = db.session.scalar(select(Pilot).where(Pilot.use_case_id == "MCG-0001"))
    db.session.refresh(pilot)
    assert pilot.benefits == "Much faster."
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "import" and event.changes["result"] == "updated"
    assert event.changes["changes"]["benefits"] == {"before": "Faster.", "after": "Much faster."}
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_import_owner_contact_and_stored_values(app, factory):
    admin = factory.user("admin")
    known = factory.user("team", email="known@agency.gov")
    text = inventory_csv(
        {"id": "MCG-1", "contact_email": ""},
        {"id": "MCG-2", "contact_email": "https://agency.gov/contact"},
        {"id": "MCG-3", "contact_email": "caio@agency.gov"},
        {"id": "MCG-4", "contact_email": "Known@Agency.gov; other@agency.gov"},
        {"id": "MCG-5", "development_stage": "", "problem_solved": ""},
        {"id": "MCG-6", "development_stage": "Retired"},
    )
    result = inventory.import_inventory(text, admin)
    assert result.created == 6 and not result.rejected
    pilots = {p.use_case_id: p for p in db.session.scalars(select(Pilot))}
    assert pilots["MCG-1"].owner_id == admin.id and pilots["MCG-1"].owner_to_confirm
    assert pilots["MCG-2"].owner_id == admin.id and pilots["MCG-2"].owner_to_confirm
    assert pilots["MCG-3"].owner_id == admin.id and not pilots["MCG-3"].owner_to_confirm
    assert pilots["MCG-4"].owner_id == known.id and not pilots["MCG-4"].owner_to_confirm
    assert all(p.review_status == "draft" and p.created_by_id == admin.id for p in pilots.values())
    assert pilots["MCG-5"].stage == "pre_deployment"
    assert pilots["MCG-5"].purpose == inventory.NO_PURPOSE
    assert pilots["MCG-6"].stage == "retired" and pilots["MCG-6"].retired_reason
    exported = {row["id"]: row for row in inventory.export_rows()}
    assert exported["MCG-1"]["contact_email"] == ""
    assert exported["MCG-2"]["contact_email"] == "https://agency.gov/contact"
    assert exported["MCG-3"]["contact_email"] == "caio@agency.gov"
    assert exported["MCG-5"]["development_stage"] == ""
    assert exported["MCG-5"]["problem_solved"] == ""


def test_import_accepts_long_forms_and_exports_them_back(app, factory, client):
    admin = factory.user("admin")
    row = {
        "id": "MCG-LF",
        "development_stage": "a) Pre-deployment – The use case is in a development or "
        "acquisition status.",
        "is_high_impact": "c) Not high-impact",
        "contracting_usage": "b) Developed in-house",
        "demographic_features": "['Sex', 'Age']",
        "is_withheld": "",
        "have_ato": "Yes",
    }
    text = inventory_csv(
        row,
        {"id": "MCG-P", "development_stage": "b) Pilot – deployed in a limited test."},
        {"id": "MCG-H", "is_high_impact": "a) High-impact"},
        {"id": "MCG-PR", "is_high_impact": "b) Presumed high-impact, but determined not"},
    )
    result = inventory.import_inventory(text, admin)
    assert result.created == 4 and not result.rejected
    pilots = {p.use_case_id: p for p in db.session.scalars(select(Pilot))}
    pilot = pilots["MCG-LF"]
    assert pilot.stage == "pre_deployment"
    assert pilot.is_high_impact == "Not High-impact"
    assert pilot.contracting_usage == "In-house Development"
    assert pilot.demographic_features == ["b) Sex", "c) Age"]
    assert pilot.is_withheld is None
    assert pilots["MCG-P"].stage == "pilot"
    assert pilots["MCG-H"].is_high_impact == "High-impact"
    assert pilots["MCG-PR"].is_high_impact == "Presumed High-Impact, but Not High-impact"
    exported = {r["id"]: r for r in csv_rows(client)}["MCG-LF"]
    for column, value in row.items():
        assert exported[column] == value, column

    # An edit made in the registry replaces the imported text once the record is published.
    catalog_service.update_pilot(pilot, {"contracting_usage": "Vendor Purchased"}, admin)
    app.config["PUBLIC_INQUIRY_EMAIL"] = "ai-inventory@agency.gov"  # the file left it empty
    factory.republish(pilot, admin, admin)
    exported = {r["id"]: r for r in csv_rows(client)}["MCG-LF"]
    assert exported["contracting_usage"] == "Vendor Purchased"
    assert exported["development_stage"] == row["development_stage"]


def test_ids_are_qualified_by_agency_and_missing_ids_get_stable_keys(app, factory, client):
    admin = factory.user("admin")
    text = inventory_csv(
        {"agency": "EPA", "id": "35", "use_case_name": "Streamflow"},
        {"agency": "NSF", "id": "35", "use_case_name": "Topics"},
        {"agency": "STB", "id": "TBD", "use_case_name": "Copilot"},
        {"agency": "STB", "id": "TBD", "use_case_name": "Relativity"},
        {"agency": "ED", "id": "", "use_case_name": "Text Generation", "benefits": "A"},
        {"agency": "ED", "id": "", "use_case_name": "Text Generation", "benefits": "B"},
    )
    first = inventory.import_inventory(text, admin)
    assert first.created == 6 and not first.rejected
    keys = sorted(db.session.scalars(select(Pilot.use_case_id)))
    assert "EPA-35" in keys and "NSF-35" in keys
    assert sum(k.startswith("ED-NOID-") for k in keys) == 2
    assert sum(k.startswith("STB-NOID-") for k in keys) == 2
    second = inventory.import_inventory(text, admin)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 6)
    # The export gives back the file's own ids, empty or not.
    assert [row["id"] for row in csv_rows(client)] == ["35", "35", "TBD", "TBD", "", ""]


def test_imported_hi_answers_are_kept_until_the_pilot_is_assessed(app, factory, client):
    admin = factory.user("admin")
    answers = {
        "hi_testing_conducted": "Yes",
        "hi_assessment_completed": "In-progress",
        "hi_potential_impacts": "Wrong denials.",
        "hi_independent_review": "CAIO Review",
        "hi_ongoing_monitoring": "Yes - Monitoring Established",
        "hi_training_established": "Training Established",
        "hi_failsafe_presence": "Not Applicable",
        "hi_appeal_process": "Appeal Process Established",
        "hi_public_consultation": "['Usability Testing']",
    }
    text = inventory_csv(
        {"id": "MCG-HI", "is_high_impact": "High-impact", **answers},
        {"id": "MCG-HI2", "is_high_impact": "High-impact"},
    )
    inventory.import_inventory(text, admin)
    rows = {row["id"]: row for row in csv_rows(client)}
    for column, value in answers.items():
        assert rows["MCG-HI"][column] == value
    assert rows["MCG-HI2"]["hi_testing_conducted"] == ""  # imported empty stays empty
    pilot = db.session.scalar(select(Pilot).where(Pilot.use_case_id == "MCG-HI"))
    factory.evidence(pilot, admin, kind="test_report", content=b"Report\n", name="r.txt")
    app.config["PUBLIC_INQUIRY_EMAIL"] = "ai-inventory@agency.gov"  # the file left it empty
    factory.republish(pilot, admin, admin)
    row = {row["id"]: row for row in csv_rows(client)}["MCG-HI"]
    assert row["hi_testing_conducted"] == "Yes"
    assert row["hi_independent_review"] == "In-progress"
    assert row["hi_public_consultation"] == "['In-progress']"
    assert row["hi_potential_impacts"] == "Wrong denials."


def test_import_rejects_a_file_without_the_inventory_columns(app, factory):
    admin = factory.user("admin")
    with pytest.raises(inventory.InventoryFileError):
        inventory.import_inventory("name,purpose\nA,B\n", admin)
    with pytest.raises(inventory.InventoryFileError):
        inventory.decode(b"\xff\xfe\x00bad")


def test_cli_import_prints_counts_then_rejections(app, factory, runner, tmp_path):
    admin = factory.user("admin")
    path = tmp_path / "inventory.csv"
    path.write_text(inventory_csv({"id": "MCG-1"}, {"id": "MCG-2", "agency": ""}), encoding="utf-8")
    result = runner.invoke(args=["inventory", "import", str(path), "--as", admin.email])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "created 1, updated 0, unchanged 0, rejected 1",
        "line 3: agency is empty",
    ]
    again = runner.invoke(args=["inventory", "import", str(path)])  # the first admin
    assert again.output.splitlines()[0] == "created 0, updated 0, unchanged 1, rejected 1"
    team = factory.user("team")
    refused = runner.invoke(args=["inventory", "import", str(path), "--as", team.email])
    assert refused.exit_code != 0 and "not an active administrator" in refused.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    failed = runner.invoke(args=["inventory", "import", str(bad)])
    assert failed.exit_code != 0 and "use_case_name" in failed.output


# ---- pages ---------------------------------------------------------------------------------


def _seed_page_data(factory):
    admin = factory.user("admin")
    rows = [
        {"agency": "VA", "id": "VA-1", "use_case_name": "Claims chatbot", "topic_area": "Benefits Processing", "development_stage": "Deployed", "is_high_impact": "High-impact"},
        {"agency": "VA", "id": "VA-2", "use_case_name": "Scan reader", "topic_area": "Health and Medical", "development_stage": "Pilot"},
        {"agency": "DOE", "id": "DOE-1", "use_case_name": "Grid forecaster", "topic_area": "Energy and Environment", "problem_solved": "Predicts chatbot-free load.", "development_stage": "Pre-deployment"},
        {"agency": "DOE", "id": "DOE-2", "use_case_name": "Hidden thing", "is_withheld": "Yes - Disclosure Risk"},
    ]  # fmt: skip
    result = inventory.import_inventory(inventory_csv(*rows), admin)
    assert result.created == 4
    return admin


def _names(html: str) -> set[str]:
    candidates = {"Claims chatbot", "Scan reader", "Grid forecaster", "Hidden thing"}
    return {name for name in candidates if f'">{name}</a>' in html}


def test_public_page_needs_no_login_and_filters(client, factory):
    _seed_page_data(factory)
    response = client.get("/inventory")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _names(html) == {"Claims chatbot", "Scan reader", "Grid forecaster"}
    assert "/api/v1/inventory.csv" in html

    def names(query: str) -> set[str]:
        return _names(client.get("/inventory?" + query).get_data(as_text=True))

    assert names("agency=VA") == {"Claims chatbot", "Scan reader"}
    assert names("agency=va") == {"Claims chatbot", "Scan reader"}
    assert names("topic_area=Energy+and+Environment") == {"Grid forecaster"}
    assert names("development_stage=Pilot") == {"Scan reader"}
    assert names("is_high_impact=High-impact") == {"Claims chatbot"}
    assert names("q=chatbot") == {"Claims chatbot", "Grid forecaster"}  # name or purpose
    assert names("q=doe") == {"Grid forecaster"}  # agency
    assert names("q=chatbot&agency=VA") == {"Claims chatbot"}
    assert names("q=hidden") == set()
    bad = client.get("/inventory?development_stage=Someday")
    assert bad.status_code == 200 and "Some filters were ignored" in bad.get_data(as_text=True)


def test_public_page_pagination_keeps_filters(client, factory):
    admin = factory.user("admin")
    rows = [{"agency": "VA", "id": f"VA-{n}", "use_case_name": f"VA case {n}"} for n in range(30)]
    rows += [
        {"agency": "DOE", "id": f"DOE-{n}", "use_case_name": f"DOE case {n}"} for n in range(5)
    ]
    inventory.import_inventory(inventory_csv(*rows), admin)
    html = client.get("/inventory?agency=VA&q=case").get_data(as_text=True)
    assert "Showing 1–25 of 30." in html
    assert "DOE case" not in html
    next_link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "agency=VA" in next_link and "q=case" in next_link and "page=2" in next_link
    page_two = client.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    assert "Showing 26–30 of 30." in page_two and "DOE case" not in page_two


def test_import_page_requires_the_import_permission(client, factory, login):
    assert client.get("/admin/inventory/import").status_code == 302  # to the sign-in page
    login("team")
    assert client.get("/admin/inventory/import").status_code == 403
    response = client.post(
        "/admin/inventory/import",
        data={"file": (io.BytesIO(inventory_csv({"id": "MCG-1"}).encode()), "inv.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Pilot)) == 0


def test_import_page_uploads_and_reports(client, factory, login):
    admin = login("admin")
    assert client.get("/admin/inventory/import").status_code == 200
    body = inventory_csv({"id": "MCG-1"}, {"id": "MCG-2", "use_case_name": ""}).encode()
    response = client.post(
        "/admin/inventory/import",
        data={"file": (io.BytesIO(body), "inv.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "created 1, updated 0, unchanged 0, rejected 1" in html
    assert "line 3: use_case_name is empty" in html
    pilot = db.session.scalar(select(Pilot))
    assert pilot.created_by_id == admin.id and pilot.owner_to_confirm
    missing = client.post("/admin/inventory/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    wrong = client.post(
        "/admin/inventory/import",
        data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422 and "lacks the columns" in wrong.get_data(as_text=True)


def test_json_export_matches_csv_export(client, factory):
    admin = factory.user("admin")
    inventory.import_inventory(
        inventory_csv({"id": "MCG-1", "benefits": "- faster"}, {"id": "MCG-2"}), admin
    )
    from_csv = csv_rows(client)
    from_json = json_rows(client)
    # The CSV writes an empty list as an empty cell; the JSON keeps the inventory's "[]".
    assert [
        {k: "" if v == "[]" else neutralise(v) for k, v in row.items()} for row in from_json
    ] == from_csv
    assert json.loads(json.dumps(from_json))[0]["benefits"] == "- faster"


def test_the_front_door_for_visitors_is_the_inventory_with_a_page_per_use_case(
    app, factory, client
):
    owner = factory.user("team")
    pilot = factory.public_pilot(owner, name="Benefits chatbot", purpose="Answers questions.")
    db.session.commit()
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "AI use-case inventory" in html and "Chief AI Officer" in html  # a plain explanation
    assert f'href="/inventory/{pilot.use_case_id}">Benefits chatbot</a>' in html  # permalink
    assert 'href="/api/v1/inventory.csv"' in html
    assert 'href="/login"' in html  # sign-in is offered, second
    assert html.index("plain-explanation") < html.index('href="/login">staff sign-in')
    assert client.get(f"/inventory/{pilot.use_case_id}").status_code == 200
    assert client.get("/?q=chatbot").status_code == 200
    login = client.get("/login").get_data(as_text=True)
    assert 'href="/inventory"' in login
