"""Limits before work: small bodies everywhere but the upload routes, and authorization (and
the CSRF check's limit) before any body is read. Each refusal here is proved to read no body:
in-process with an input stream that fails when read, and over a real socket with a request
that claims 1 GiB but sends a few KiB."""

from __future__ import annotations

import io
import socket
import threading

import pytest
from werkzeug.serving import make_server

KIB, MIB, GIB = 1024, 1024**2, 1024**3


class UnreadableBody(io.RawIOBase):
    """A request body of `length` bytes that fails the test if the application reads any."""

    def __init__(self, length: int) -> None:
        self.length, self.position = length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # werkzeug's test client measures the stream; it never reads it

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.length if whence == 2 else offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        raise AssertionError("the request body was read")


def _post_unread(client, path, *, length, content_type, headers=None):
    return client.post(
        path,
        input_stream=UnreadableBody(length),
        content_type=content_type,
        headers=headers or {},
    )


MULTIPART = "multipart/form-data; boundary=x"


@pytest.fixture
def pilot_and_users(factory):
    team = factory.user("team")
    return {
        "team": team,
        "board": factory.user("board"),
        "outsider": factory.user("team"),
        "pilot": factory.pilot(team),
    }


# ---- limits ----------------------------------------------------------------------------------


def test_the_global_limit_is_1_mib_and_configurable(app):
    from registry import create_app

    assert app.config["MAX_CONTENT_LENGTH"] == MIB
    other = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 4096})
    assert other.config["MAX_CONTENT_LENGTH"] == 4096


def test_a_json_body_over_the_global_limit_is_413_unread(client, factory, pilot_and_users):
    headers = factory.headers(pilot_and_users["team"])
    response = _post_unread(
        client, "/api/v1/pilots", length=MIB + 1, content_type="application/json", headers=headers
    )
    assert response.status_code == 413 and response.is_json
    body = response.get_json()
    assert body["code"] == 413 and "1 MiB" in body["message"] and body["errors"]["body"]


def test_upload_routes_take_their_own_limit(app, client, factory, pilot_and_users):
    """The evidence route takes MAX_EVIDENCE_BYTES: 2 MiB passes the body check (the team
    member is authorised and the file is then read), 1 MiB more than its limit is refused."""
    from tests.hardening.conftest import multipart

    pilot, headers = pilot_and_users["pilot"], factory.headers(pilot_and_users["team"])
    body, content_type = multipart({"kind": "pia"}, "notes.txt", b"a" * (2 * MIB))
    response = client.post(
        f"/api/v1/pilots/{pilot.id}/evidence", data=body, content_type=content_type, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    over = app.config["MAX_EVIDENCE_BYTES"] + MIB
    response = _post_unread(
        client, f"/api/v1/pilots/{pilot.id}/evidence", length=over, content_type=MULTIPART,
        headers=headers,
    )
    assert response.status_code == 413 and "errors" in response.get_json()
    assert response.get_json()["errors"]["file"]


# ---- authorization before the body -----------------------------------------------------------


@pytest.mark.parametrize(("route", "length"), [("evidence", 20 * MIB), ("bias-checks", GIB)])
@pytest.mark.parametrize(("who", "status"), [(None, 401), ("board", 403), ("outsider", 403)])
def test_upload_api_refuses_before_reading_the_body(
    client, factory, pilot_and_users, route, length, who, status
):
    """Within the route's limit, but refused all the same before the body is read."""
    headers = factory.headers(pilot_and_users[who]) if who else {}
    response = _post_unread(
        client,
        f"/api/v1/pilots/{pilot_and_users['pilot'].id}/{route}",
        length=length,
        content_type=MULTIPART,
        headers=headers,
    )
    assert response.status_code == status and response.is_json
    assert response.get_json()["code"] == status


def test_a_board_token_creating_a_pilot_is_403_before_the_body(client, factory, pilot_and_users):
    response = _post_unread(
        client,
        "/api/v1/pilots",
        length=512 * KIB,
        content_type="application/json",
        headers=factory.headers(pilot_and_users["board"]),
    )
    assert response.status_code == 403 and response.get_json()["code"] == 403


def test_an_upload_to_a_missing_pilot_is_404_before_the_body(client, factory, pilot_and_users):
    response = _post_unread(
        client,
        "/api/v1/pilots/999999/bias-checks",
        length=GIB,
        content_type=MULTIPART,
        headers=factory.headers(pilot_and_users["team"]),
    )
    assert response.status_code == 404


def test_page_uploads_refuse_anonymous_and_unauthorised_before_the_body(
    app, client, login, pilot_and_users
):
    app.config["WTF_CSRF_ENABLED"] = True  # the CSRF check would read the form first
    pilot = pilot_and_users["pilot"]
    for path in (f"/pilots/{pilot.id}/evidence", f"/pilots/{pilot.id}/bias-checks/new"):
        response = _post_unread(client, path, length=20 * MIB, content_type=MULTIPART)
        assert response.status_code == 413  # nobody signed in: ANONYMOUS_MAX_CONTENT_LENGTH
        response = _post_unread(client, path, length=32 * KIB, content_type=MULTIPART)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    app.config["WTF_CSRF_ENABLED"] = False
    login(user=pilot_and_users["board"])
    app.config["WTF_CSRF_ENABLED"] = True
    for path in (f"/pilots/{pilot.id}/evidence", f"/pilots/{pilot.id}/bias-checks/new"):
        response = _post_unread(client, path, length=20 * MIB, content_type=MULTIPART)
        assert response.status_code == 403


def test_anonymous_bodies_are_capped_small_before_the_csrf_check(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    assert app.config["ANONYMOUS_MAX_CONTENT_LENGTH"] == 64 * KIB
    for path in ("/login", "/pilots/new"):
        response = _post_unread(
            client, path, length=64 * KIB + 1, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 413, path
    response = _post_unread(
        client, "/api/v1/public/concerns", length=64 * KIB + 1, content_type="application/json"
    )
    assert response.status_code == 413 and response.get_json()["code"] == 413


def test_a_signed_in_form_takes_the_global_limit(app, client, login):
    login("team")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/pilots/new", data={"name": "x" * (100 * KIB)})
    assert response.status_code == 400  # past the size check, refused for its CSRF token
    response = _post_unread(
        client, "/pilots/new", length=MIB + 1, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


def test_a_page_form_over_the_limit_is_413_before_the_csrf_check(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = _post_unread(
        client, "/login", length=GIB, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


def test_a_page_form_from_another_site_is_refused_before_the_body(app, client, login):
    login("team")
    app.config["WTF_CSRF_ENABLED"] = True
    response = _post_unread(
        client,
        "/pilots/new",
        length=100,
        content_type="application/x-www-form-urlencoded",
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_a_page_form_from_this_site_still_needs_its_csrf_token(app, client, login):
    login("team")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/pilots/new", data={"name": "x"}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 400  # the CSRF token is missing


def test_the_team_can_still_upload_on_the_page(client, login, pilot_and_users):
    login(user=pilot_and_users["team"])
    pilot = pilot_and_users["pilot"]
    response = client.post(
        f"/pilots/{pilot.id}/evidence",
        data={"kind": "pia", "file": (io.BytesIO(b"A privacy impact assessment.\n"), "pia.txt")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


# ---- every list has a maximum length ---------------------------------------------------------


def _unbounded_arrays(schema, where, components, seen=frozenset()):
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _unbounded_arrays(components[name], where, components, seen | {name})
        return
    if schema.get("type") == "array" and "maxItems" not in schema:
        yield where
    for key, sub in (schema.get("properties") or {}).items():
        yield from _unbounded_arrays(sub, f"{where}.{key}", components, seen)
    if "items" in schema:
        yield from _unbounded_arrays(schema["items"], f"{where}[]", components, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from _unbounded_arrays(sub, where, components, seen)


def test_every_list_the_api_takes_has_a_maximum_length(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    components = spec["components"]["schemas"]
    unbounded, walked = [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            schemas = [
                (p["name"], p["schema"]) for p in operation.get("parameters", []) if "schema" in p
            ]
            content = (operation.get("requestBody") or {}).get("content", {})
            schemas += [(media_type, media["schema"]) for media_type, media in content.items()]
            for name, schema in schemas:
                walked += 1
                unbounded += _unbounded_arrays(schema, f"{method} {path} {name}", components)
    assert walked > 50  # the walk saw the request schemas
    assert unbounded == []


def test_too_many_sensitive_features_is_a_422_naming_the_field(client, factory, pilot_and_users):
    response = client.post(
        f"/api/v1/pilots/{pilot_and_users['pilot'].id}/bias-checks",
        data={
            "y_true": "y",
            "y_pred": "p",
            "sensitive_features": ["a", "b", "c", "d"],
            "file": (io.BytesIO(b"y,p,a\n1,1,x\n"), "x.csv"),
        },
        headers=factory.headers(pilot_and_users["team"]),
    )
    assert response.status_code == 422
    assert "sensitive_features" in response.get_json()["errors"]


# ---- over a real socket ----------------------------------------------------------------------


class CountingInput:
    """Wraps wsgi.input and adds every byte the application reads to a shared counter."""

    def __init__(self, app):
        self.app = app
        self.read_bytes = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        stream = environ["wsgi.input"]
        counter = self

        class Counted:
            def read(self, *args):
                data = stream.read(*args)
                with counter.lock:
                    counter.read_bytes += len(data)
                return data

            def readline(self, *args):
                data = stream.readline(*args)
                with counter.lock:
                    counter.read_bytes += len(data)
                return data

            def __iter__(self):
                return iter(self.readline, b"")

        environ["wsgi.input"] = Counted()
        return self.app(environ, start_response)


@pytest.fixture
def live_server(app):
    app.config["WTF_CSRF_ENABLED"] = True
    counting = CountingInput(app.wsgi_app)
    app.wsgi_app = counting
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, counting
    server.shutdown()
    thread.join(5)
    server.server_close()


def send_claiming(port: int, path: str, *, claimed: int, sent: int, headers: dict) -> tuple[int, int]:
    """POST with a Content-Length of `claimed` but only `sent` bytes of body; (status, sent)."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {claimed}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"a" * sent)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]), sent


def test_over_a_socket_refusals_come_before_the_body(live_server, factory, pilot_and_users):
    port, counting = live_server
    pilot = pilot_and_users["pilot"]
    board = factory.headers(pilot_and_users["board"])
    form, multi, json = (
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": MULTIPART},
        {"Content-Type": "application/json"},
    )
    cases = [
        ("/login", form, GIB, 413),
        (f"/pilots/{pilot.id}/evidence", multi, GIB, 413),
        (f"/pilots/{pilot.id}/evidence", multi, 20 * MIB, 413),  # nobody signed in: 64 KiB
        (f"/pilots/{pilot.id}/evidence", multi, 32 * KIB, 302),  # to the sign-in page
        (f"/pilots/{pilot.id}/bias-checks/new", multi, GIB, 413),
        (f"/api/v1/pilots/{pilot.id}/bias-checks", multi, GIB, 401),
        (f"/api/v1/pilots/{pilot.id}/bias-checks", {**multi, **board}, GIB, 403),
        (f"/api/v1/pilots/{pilot.id}/evidence", {**multi, **board}, 20 * MIB, 403),
        ("/api/v1/pilots", {**json, **board}, GIB, 413),
        ("/api/v1/pilots", {**json, **board}, 512 * KIB, 403),
        ("/api/v1/public/concerns", json, GIB, 413),
    ]
    for path, headers, claimed, status in cases:
        answer = send_claiming(port, path, claimed=claimed, sent=4 * KIB, headers=headers)
        assert answer == (status, 4 * KIB), path
    assert counting.read_bytes < MIB
    assert counting.read_bytes == 0


def test_over_a_socket_a_chunked_body_is_cut_off_at_the_limit(live_server, factory):
    """Without a Content-Length the body is read only up to the limit, then refused."""
    port, counting = live_server
    token = factory.headers(factory.user("team"))["Authorization"]
    head = (
        "POST /api/v1/pilots HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (64 * KIB, b"a" * 64 * KIB)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + b"1\r\n[\r\n" + chunk * 32)  # 2 MiB, and no last chunk
        sock.settimeout(3)
        answer = b""
        try:
            while chunk_in := sock.recv(65536):
                answer += chunk_in
        except TimeoutError:
            pass
    assert answer.split(b" ", 2)[1] == b"413", answer
    assert counting.read_bytes <= MIB + 64 * KIB


# ---- page numbers past any page ---------------------------------------------------------------

HUGE_PAGE = "99999999999999999999"


def test_a_huge_page_number_on_the_pages_is_an_empty_page(client, login, factory):
    factory.public_pilot(factory.user("team"))
    assert client.get(f"/inventory?page={HUGE_PAGE}").status_code == 200
    login("caio")
    for path in ("/pilots", "/data-sources", "/concerns", "/incidents"):
        response = client.get(f"{path}?page={HUGE_PAGE}&page_size=100")
        assert response.status_code == 200, path


def test_a_huge_page_number_on_the_api_lists_is_handled(client, factory):
    headers = factory.headers(factory.user("admin"))
    factory.pilot(factory.user("team"))
    for path in ("/api/v1/pilots", "/api/v1/data-sources", "/api/v1/audit", "/api/v1/incidents"):
        response = client.get(f"{path}?page={HUGE_PAGE}", headers=headers)
        assert response.status_code < 500, path
        assert response.status_code in (200, 422), (path, response.status_code)
