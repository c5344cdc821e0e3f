"""Web security: cookie flags, security headers, sign-in throttling, session renewal, passwords."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import BASE_CONFIG

# ---- cookies ---------------------------------------------------------------------------------


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def _sign_in(client, email, password, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_in_development(client, factory):
    user = factory.user("team")
    cookie = _session_cookie(_sign_in(client, user.email, factory.PASSWORD))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


@pytest.fixture
def production_app(database_uri, tmp_path):
    from registry import create_app

    made = []

    def make(**extra):
        app = create_app(
            {
                **BASE_CONFIG,
                "REGISTRY_ENV": "production",
                "SQLALCHEMY_DATABASE_URI": database_uri,
                "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                **extra,
            }
        )
        made.append(app)
        return app

    yield make
    from registry.extensions import db

    for app in made:
        with app.app_context():
            db.engine.dispose()


def test_production_makes_the_session_and_remember_cookies_secure(production_app, factory):
    app = production_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    user = factory.user("team")
    client = app.test_client()
    cookie = _session_cookie(
        _sign_in(client, user.email, factory.PASSWORD, base_url="https://localhost")
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_explicit_session_cookie_secure_setting_wins(production_app):
    assert production_app(SESSION_COOKIE_SECURE=False).config["SESSION_COOKIE_SECURE"] is False


def test_session_cookie_secure_from_the_environment(monkeypatch, tmp_path):
    from registry import config

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert config.from_environment()["SESSION_COOKIE_SECURE"] is True


# ---- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/inventory", "/api/v1/inventory.json", "/healthz"])
def test_security_headers_on_pages_and_api(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "script-src 'self'",
        "form-action 'self'",
        "base-uri 'self'",
    ):
        assert directive in csp, (path, csp)
    # Inline styles are allowed (matplotlib SVG charts carry them); inline scripts never are.
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_evidence_downloads_are_sandboxed_attachments(client, factory):
    team = factory.user("team")
    pilot = factory.pilot(team)
    evidence = factory.evidence(pilot, team)
    response = client.get(f"/api/v1/evidence/{evidence.id}/download", headers=factory.headers(team))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


# ---- throttling ------------------------------------------------------------------------------


def test_five_failures_lock_the_email_for_fifteen_minutes(client, factory):
    user = factory.user("team")
    for _ in range(4):
        response = _sign_in(client, user.email, "not-the-password-0")
        assert response.status_code == 422
    fifth = _sign_in(client, user.email, "not-the-password-0")
    assert fifth.status_code == 429
    assert 14 * 60 < int(fifth.headers["Retry-After"]) <= 15 * 60
    page = fifth.get_data(as_text=True)
    assert "Too many failed sign-in attempts" in page and "15 minutes" in page
    # Locked: even the right password is refused, without being checked.
    right = _sign_in(client, user.email, factory.PASSWORD)
    assert right.status_code == 429 and "Try again in" in right.get_data(as_text=True)
    # The email is normalised, so case and spaces do not get around the lock.
    assert _sign_in(client, f"  {user.email.upper()} ", factory.PASSWORD).status_code == 429
    # Someone else is not affected.
    other = factory.user("team")
    assert _sign_in(client, other.email, factory.PASSWORD).status_code == 302


def test_the_lock_ends_after_the_lockout_period(app, client, factory):
    app.config.update(LOGIN_LOCKOUT_SECONDS=1)
    user = factory.user("team")
    for _ in range(5):
        _sign_in(client, user.email, "not-the-password-0")
    assert _sign_in(client, user.email, factory.PASSWORD).status_code == 429
    time.sleep(1.2)
    assert _sign_in(client, user.email, factory.PASSWORD).status_code == 302


def test_unknown_emails_lock_the_same_way_so_the_lock_reveals_nothing(client):
    statuses = [
        _sign_in(client, "nobody@agency.gov", "not-the-password-0").status_code for _ in range(6)
    ]
    assert statuses == [422, 422, 422, 422, 429, 429]


def test_a_successful_sign_in_clears_the_failure_count(client, factory):
    user = factory.user("team")
    for _ in range(4):
        _sign_in(client, user.email, "not-the-password-0")
    assert _sign_in(client, user.email, factory.PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(4):
        assert _sign_in(client, user.email, "not-the-password-0").status_code == 422


def test_failures_from_one_address_are_limited_across_emails(app, client, factory):
    app.config.update(LOGIN_IP_MAX_FAILURES=6)
    user = factory.user("team")
    spray = {"REMOTE_ADDR": "203.0.113.7"}
    statuses = [
        _sign_in(client, f"victim{i}@agency.gov", "Winter2026!!", environ_base=spray).status_code
        for i in range(7)
    ]
    assert statuses == [422] * 5 + [429, 429]
    refused = _sign_in(client, user.email, factory.PASSWORD, environ_base=spray)
    assert refused.status_code == 429
    assert "from your network" in refused.get_data(as_text=True)
    # Another address is not affected, and neither is the account itself.
    assert (
        _sign_in(
            client, user.email, factory.PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.9"}
        ).status_code
        == 302
    )


def test_lockout_counters_are_shared_through_redis(app, factory, redis_url):
    """Two apps on one Redis (two gunicorn workers) see the same counters."""
    from redis import Redis

    from registry import create_app

    prefix = f"registry-test:{uuid.uuid4().hex[:8]}:"
    app.config.update(REDIS_URL=redis_url, LOGIN_THROTTLE_PREFIX=prefix)
    other_worker = create_app(
        {**BASE_CONFIG, **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "UPLOAD_FOLDER")}}
    )
    other_worker.config.update(REDIS_URL=redis_url, LOGIN_THROTTLE_PREFIX=prefix)
    redis = Redis.from_url(redis_url)
    try:
        user = factory.user("team")
        first, second = app.test_client(), other_worker.test_client()
        for i in range(4):
            client = first if i % 2 else second
            assert _sign_in(client, user.email, "not-the-password-0").status_code == 422
        assert _sign_in(first, user.email, "not-the-password-0").status_code == 429
        assert _sign_in(second, user.email, factory.PASSWORD).status_code == 429
        keys = [key.decode() for key in redis.scan_iter(prefix + "*")]
        assert any(":lock:" in key for key in keys), keys
        assert all(user.email not in key for key in keys)  # only a hash of the email
        lock = next(key for key in keys if ":lock:" in key)
        assert 14 * 60 < redis.ttl(lock) <= 15 * 60
    finally:
        for key in redis.scan_iter(prefix + "*"):
            redis.delete(key)
        with other_worker.app_context():
            from registry.extensions import db

            db.engine.dispose()


def test_lockout_falls_back_to_memory_when_redis_does_not_answer(app, client, factory):
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    user = factory.user("team")
    statuses = [_sign_in(client, user.email, "not-the-password-0").status_code for _ in range(5)]
    assert statuses == [422, 422, 422, 422, 429]


# ---- sessions --------------------------------------------------------------------------------


def test_signing_in_starts_a_fresh_session(client, factory):
    user = factory.user("team")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    before = client.get_cookie("session").value
    assert _sign_in(client, user.email, factory.PASSWORD).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{user.id}:")
    assert client.get_cookie("session").value != before


def test_a_session_cookie_replayed_after_logout_is_worthless(app, client, factory):
    user = factory.user("team")
    _sign_in(client, user.email, factory.PASSWORD)
    stolen = client.get_cookie("session").value
    assert client.get("/pilots").status_code == 200
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/pilots")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---- passwords -------------------------------------------------------------------------------


def test_the_common_password_list_has_hundreds_of_long_entries():
    from registry.auth import service

    passwords = service.common_passwords()
    assert len(passwords) >= 300
    assert all(len(p) >= service.MIN_PASSWORD_LENGTH for p in passwords)
    assert not any(p.startswith("#") for p in passwords)


@pytest.mark.parametrize(
    "password",
    [
        "Password1234",
        "P@ssw0rd1234",
        "1qaz2wsx3edc",
        "iloveyou2024",
        "Welcome@2025",
        "qwerty123456",
    ],
)
def test_common_passwords_are_refused(factory, password):
    from registry.auth import service
    from registry.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            {"email": "x@agency.gov", "name": "X", "role": "team", "password": password},
            actor=None,
        )
    assert "commonly used" in " ".join(refused.value.errors["password"])


def test_short_passwords_are_refused_and_good_ones_accepted(factory):
    from registry.auth import service

    assert service.password_problems("short-pass1") == ["Use at least 12 characters."]
    assert service.password_problems(factory.PASSWORD) == []
