"""The sign-in lockout holds under concurrency (issue #13 item 4).

27 wrong passwords sent at once had 22 of them checked, and the right one signed in: every
request passed the lock check before any failure was counted. Now each attempt is counted
atomically before its password is checked. These tests send 30 wrong passwords at once to a
real server (werkzeug, threaded, in a thread) on the database under test, and through Redis.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from registry.auth.models import LoginCounter
from registry.auth.throttle import LoginThrottle
from registry.extensions import db

ATTEMPTS = 30


@pytest.fixture
def checked(monkeypatch):
    """How many passwords the server compares against a stored hash (the real comparison)."""
    from registry.auth import service

    count = {"n": 0}
    lock = threading.Lock()
    original = service.check_password_hash

    def counting(stored, password):
        with lock:
            count["n"] += 1
        return original(stored, password)

    monkeypatch.setattr(service, "check_password_hash", counting)
    return count


@pytest.fixture
def server(app):
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


def sign_in(base: str, email: str, password: str) -> int:
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    request = urllib.request.Request(f"{base}/login", data=body, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def storm(base: str, email: str, attempts: int = ATTEMPTS) -> list[int]:
    """`attempts` wrong passwords released together by a barrier."""
    barrier = threading.Barrier(attempts)

    def one(i: int) -> int:
        barrier.wait(timeout=30)
        return sign_in(base, email, f"wrong-password-{i:04d}")

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        return list(pool.map(one, range(attempts)))


def assert_lock_held(app, base, factory, checked, statuses, user):
    limit = app.config["LOGIN_MAX_FAILURES"]
    assert checked["n"] <= limit, statuses
    # Each answer is "wrong password" (422) or "locked" (429; the failure that locks says so).
    assert set(statuses) <= {422, 429}, statuses
    assert statuses.count(422) <= checked["n"]
    # Locked: the right password afterwards is refused, and not checked.
    before = checked["n"]
    assert sign_in(base, user.email, factory.PASSWORD) == 429
    assert checked["n"] == before


def test_concurrent_wrong_passwords_check_at_most_the_limit_in_the_database(
    app, server, factory, checked, caplog
):
    user = factory.user("team")
    with caplog.at_level(logging.WARNING, logger="registry.auth.throttle"):
        statuses = storm(server, user.email)
    assert_lock_held(app, server, factory, checked, statuses, user)
    assert not [r for r in caplog.records if "counting in memory" in r.getMessage()]
    # The counts were kept in the database, shared by every worker process.
    db.session.remove()
    email_key = LoginThrottle(app)._keys(user.email, None)["failures"]
    count = db.session.scalar(select(LoginCounter.count).where(LoginCounter.key == email_key))
    assert count >= app.config["LOGIN_MAX_FAILURES"]
    # Another account is not affected.
    other = factory.user("team")
    assert sign_in(server, other.email, factory.PASSWORD) == 302


def test_concurrent_wrong_passwords_check_at_most_the_limit_through_redis(
    app, server, factory, checked, redis_url, caplog
):
    from redis import Redis

    prefix = f"registry-test:{uuid.uuid4().hex[:8]}:"
    app.config.update(REDIS_URL=redis_url, LOGIN_THROTTLE_PREFIX=prefix)
    redis = Redis.from_url(redis_url)
    try:
        user = factory.user("team")
        with caplog.at_level(logging.WARNING, logger="registry.auth.throttle"):
            statuses = storm(server, user.email)
        assert_lock_held(app, server, factory, checked, statuses, user)
        assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
        keys = [key.decode() for key in redis.scan_iter(prefix + "*")]
        assert any(":lock:" in key for key in keys), keys
        # Nothing was counted in the database: Redis held the counts.
        db.session.remove()
        assert db.session.scalars(select(LoginCounter)).all() == []
    finally:
        for key in redis.scan_iter(prefix + "*"):
            redis.delete(key)


def test_a_successful_sign_in_gives_its_slot_back_to_the_address(app, server, factory):
    app.config.update(LOGIN_IP_MAX_FAILURES=3)
    users = [factory.user("team") for _ in range(6)]
    # Six colleagues behind one address sign in: successes never use up the address's limit.
    assert [sign_in(server, u.email, factory.PASSWORD) for u in users] == [302] * 6
