"""One regression test per bug the API fuzzing found (see test_fuzz.py)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest


@pytest.fixture
def headers(factory):
    return factory.headers(factory.user("admin"))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/pilots/2147483648",
        "/api/v1/pilots/99999999999999999999999999",
        "/api/v1/data-sources/9223372036854775808",
        "/api/v1/policies/2147483648/diff",
        "/api/v1/tokens/2147483648",
    ],
)
def test_ids_past_the_integer_column_range_are_404_not_500(client, headers, path):
    method = "DELETE" if path.startswith("/api/v1/tokens/") else "GET"
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 404 and response.is_json


def test_ids_are_documented_with_their_range(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    parameter = spec["paths"]["/api/v1/pilots/{pilot_id}"]["parameters"][0]
    assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


@pytest.mark.parametrize("path", ["/api/v1/pilots", "/api/v1/data-sources", "/api/v1/audit"])
def test_a_page_far_past_the_end_is_empty_not_500(client, factory, headers, path):
    team = factory.user("team")
    factory.pilot(team)
    factory.data_source(team)
    response = client.get(f"{path}?page=9999999999999999999", headers=headers)
    assert response.status_code == 200 and response.get_json() == []
    metadata = json.loads(response.headers["X-Pagination"])
    assert metadata["total"] >= 1 and "page" not in metadata


def test_the_pagination_header_is_documented_as_the_json_it_is(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    header = spec["components"]["headers"]["PAGINATION"]
    assert "schema" not in header
    assert header["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginationMetadata"
    }


def test_timestamps_carry_their_utc_offset_on_every_engine(client, factory, headers):
    pilot = factory.pilot(factory.user("team"))
    body = client.get(f"/api/v1/pilots/{pilot.id}", headers=headers).get_json()
    for field in ("created_at", "updated_at"):
        moment = datetime.fromisoformat(body[field])
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
    listed = client.get("/api/v1/pilots", headers=headers).get_json()
    assert datetime.fromisoformat(listed[0]["created_at"]).tzinfo is not None


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/api/v1/pilots", {"query_string": {"q": "a\x00b"}}, "q"),
        ("GET", "/api/v1/data-sources", {"query_string": {"q": "\x00"}}, "q"),
        ("POST", "/api/v1/tokens", {"json": {"name": "lap\x00top"}}, "name"),
        (
            "POST",
            "/api/v1/data-sources",
            {"json": {"name": "x", "description": "\x00"}},
            "description",
        ),
    ],
)
def test_nul_characters_are_refused_with_422(client, headers, method, path, kwargs, field):
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code == 422 and response.is_json
    assert field in response.get_json()["errors"]


def test_nul_characters_in_an_upload_form_are_refused(client, factory):
    import io

    team = factory.user("team")
    pilot = factory.pilot(team)
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/evidence",
        data={"kind": "pia", "title": "a\x00b", "file": (io.BytesIO(b"PIA\n"), "pia.txt")},
        headers=factory.headers(team),
    )
    assert response.status_code == 422 and "title" in response.get_json()["errors"]


def test_an_anonymous_upload_is_refused_before_its_body_is_read(client, factory):
    import io

    pilot = factory.pilot(factory.user("team"))
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/evidence",
        data={"kind": "pi\x00a", "file": (io.BytesIO(b"PIA\n"), "pia.txt")},
    )
    assert response.status_code == 401


def test_nul_characters_on_pages_are_a_400_page(client, login):
    login("team")
    response = client.get("/pilots?q=%00")
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    signin = client.post("/login", data={"email": "a\x00@agency.gov", "password": "x"})
    assert signin.status_code == 400
