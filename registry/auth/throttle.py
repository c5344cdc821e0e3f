"""Sign-in throttling: a temporary lockout per email and a failure limit per client address.

Two counters, each in a fixed window:

- failures per email: after ``LOGIN_MAX_FAILURES`` (5) failed sign-ins within
  ``LOGIN_FAILURE_WINDOW_SECONDS`` (15 minutes) the email is locked for ``LOGIN_LOCKOUT_SECONDS``
  (15 minutes). While it is locked no password is checked, not even the right one.
- failures per client address: after ``LOGIN_IP_MAX_FAILURES`` (30) within
  ``LOGIN_IP_WINDOW_SECONDS`` (15 minutes) the address may not try again until the window ends,
  whichever emails it tries (password spraying). Successful sign-ins never count, so an office
  behind one NAT address is not locked out by its own colleagues.

Each attempt is counted atomically *before* its password is checked (``begin``), so attempts
sent at once each get a distinct count and at most ``LOGIN_MAX_FAILURES`` passwords are checked
per email and window, however many arrive together; a successful sign-in then clears the email's
count and gives its slot back to the address. (Counting after the check let 22 of 27
simultaneous guesses through: each had passed the lock check before any failure was counted.)

The email is counted whether or not an account has it, so the lockout does not reveal which
emails exist; it is stored only as a sha256. Counters live in Redis when ``REDIS_URL`` is set
(``INCR`` with an expiry; shared by every gunicorn worker), and otherwise in the database's
``login_counters`` table (one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, on SQLite and
PostgreSQL alike; shared by every worker on the database). If Redis stops answering they fall
back to the database, and if that fails too, to this process's memory, rather than letting every
sign-in fail.
The client address is ``request.remote_addr``: behind a reverse proxy, set ``TRUSTED_PROXIES``
(werkzeug's ``ProxyFix``, applied in ``registry.create_app``) so that it is the real client's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from registry.auth.models import LoginCounter

log = logging.getLogger(__name__)

# Their defaults are in registry.config.defaults; the environment may override them.
SETTINGS = (
    "LOGIN_MAX_FAILURES",
    "LOGIN_FAILURE_WINDOW_SECONDS",
    "LOGIN_LOCKOUT_SECONDS",
    "LOGIN_IP_MAX_FAILURES",
    "LOGIN_IP_WINDOW_SECONDS",
    "LOGIN_THROTTLE_PREFIX",
)
_EXTENSION = "login_throttle"


class Store(Protocol):
    def incr(self, key: str, window: int) -> int:
        """Add one to a counter that expires `window` seconds after its first increment."""

    def get(self, key: str) -> int:
        """The counter's value; 0 if it does not exist (or expired)."""

    def ttl(self, key: str) -> int:
        """Seconds until the key expires; 0 if it does not exist."""

    def set(self, key: str, value: int, ttl: int) -> None: ...

    def delete(self, *keys: str) -> None: ...

    def decr(self, key: str) -> None:
        """Take one off a live counter (never below zero)."""


class MemoryStore:
    """Counters in this process, with expiry; bounded by purging expired keys as it grows."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    def _purge(self, now: float) -> None:
        if len(self._data) < self.MAX_KEYS:
            return
        for key in [k for k, (_, expires) in self._data.items() if expires <= now]:
            del self._data[key]
        if len(self._data) >= self.MAX_KEYS:  # an attack with many keys: forget the oldest
            for key in sorted(self._data, key=lambda k: self._data[k][1])[: self.MAX_KEYS // 10]:
                del self._data[key]

    def incr(self, key: str, window: int) -> int:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            if entry is None:
                self._purge(now)
                entry = (0, now + window)
            self._data[key] = (entry[0] + 1, entry[1])
            return entry[0] + 1

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._live(key, time.monotonic())
            return 0 if entry is None else entry[0]

    def ttl(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            return 0 if entry is None else max(1, int(entry[1] - now + 0.999))

    def set(self, key: str, value: int, ttl: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._purge(now)
            self._data[key] = (value, now + ttl)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def decr(self, key: str) -> None:
        with self._lock:
            entry = self._live(key, time.monotonic())
            if entry is not None:
                self._data[key] = (max(0, entry[0] - 1), entry[1])


class DatabaseStore:
    """Counters in the `login_counters` table, shared by every process on the database.

    `incr` is one statement that inserts the counter or adds one to it (restarting it when its
    window has ended) and returns the new count: the row lock (PostgreSQL) or the write lock
    (SQLite) makes concurrent increments queue, so no two attempts see the same count. Each
    call runs in its own short transaction, committed at once, apart from the request's session.
    """

    PURGE_EVERY = 200

    def __init__(self) -> None:
        self._calls = 0

    @staticmethod
    def _insert(dialect: str):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(LoginCounter)

    def _engine(self):
        from registry.extensions import db

        return db.engine

    def incr(self, key: str, window: int) -> int:
        engine = self._engine()
        now = time.time()
        stmt = self._insert(engine.dialect.name).values(key=key, count=1, expires=now + window)
        ended = LoginCounter.expires <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[LoginCounter.key],
            set_={
                "count": case((ended, 1), else_=LoginCounter.count + 1),
                "expires": case((ended, now + window), else_=LoginCounter.expires),
            },
        ).returning(LoginCounter.count)
        with engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            self._calls += 1
            if self._calls % self.PURGE_EVERY == 0:
                conn.execute(delete(LoginCounter).where(LoginCounter.expires <= now))
        return int(count)

    def get(self, key: str) -> int:
        with self._engine().connect() as conn:
            found = conn.execute(
                select(LoginCounter.count).where(
                    LoginCounter.key == key, LoginCounter.expires > time.time()
                )
            ).scalar()
        return int(found or 0)

    def ttl(self, key: str) -> int:
        now = time.time()
        with self._engine().connect() as conn:
            expires = conn.execute(
                select(LoginCounter.expires).where(
                    LoginCounter.key == key, LoginCounter.expires > now
                )
            ).scalar()
        return 0 if expires is None else max(1, int(expires - now + 0.999))

    def set(self, key: str, value: int, ttl: int) -> None:
        engine = self._engine()
        expires = time.time() + ttl
        stmt = self._insert(engine.dialect.name).values(key=key, count=value, expires=expires)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LoginCounter.key], set_={"count": value, "expires": expires}
        )
        with engine.begin() as conn:
            conn.execute(stmt)

    def delete(self, *keys: str) -> None:
        with self._engine().begin() as conn:
            conn.execute(delete(LoginCounter).where(LoginCounter.key.in_(keys)))

    def decr(self, key: str) -> None:
        with self._engine().begin() as conn:
            conn.execute(
                update(LoginCounter)
                .where(
                    LoginCounter.key == key,
                    LoginCounter.count > 0,
                    LoginCounter.expires > time.time(),
                )
                .values(count=LoginCounter.count - 1)
            )


class RedisStore:
    """Counters in Redis, shared by every worker process."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self.redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def incr(self, key: str, window: int) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def get(self, key: str) -> int:
        return int(self.redis.get(key) or 0)

    def ttl(self, key: str) -> int:
        return max(0, int(self.redis.ttl(key)))

    def set(self, key: str, value: int, ttl: int) -> None:
        self.redis.set(key, value, ex=ttl)

    def delete(self, *keys: str) -> None:
        self.redis.delete(*keys)

    def decr(self, key: str) -> None:
        # DECR on an expired key would create it at -1 without an expiry: remove that.
        if int(self.redis.decr(key)) <= 0:
            self.redis.delete(key)


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt already counted, whose password may now be checked."""

    email: str
    address: str | None
    count: int
    address_count: int


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in attempt is refused before its password is checked, and for how long."""

    message: str
    retry_after: int


class LoginThrottle:
    def __init__(self, app: Flask) -> None:
        self.config = {key: app.config[key] for key in SETTINGS}
        self.redis_url = app.config.get("REDIS_URL")
        self.memory = MemoryStore()
        self.database = DatabaseStore()
        self.redis = RedisStore(self.redis_url) if self.redis_url else None

    # -- keys ---------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self.config["LOGIN_THROTTLE_PREFIX"] + ":".join(parts)

    @staticmethod
    def _email_id(email: str) -> str:
        return hashlib.sha256((email or "").strip().lower().encode("utf-8")).hexdigest()[:32]

    def _keys(self, email: str, address: str | None) -> dict[str, str]:
        email_id = self._email_id(email)
        return {
            "failures": self._key("fail", email_id),
            "lock": self._key("lock", email_id),
            "address": self._key("ip", address or "unknown"),
        }

    # -- storage with a fallback ----------------------------------------------------------------

    def _run(self, operation: str, *args):
        if self.redis is not None:
            try:
                return getattr(self.redis, operation)(*args)
            except Exception as error:  # noqa: BLE001 - any Redis failure means the same here
                log.warning(
                    "login throttle: Redis unavailable (%s); counting in the database", error
                )
        try:
            return getattr(self.database, operation)(*args)
        except SQLAlchemyError as error:
            log.warning("login throttle: database unavailable (%s); counting in memory", error)
        return getattr(self.memory, operation)(*args)

    # -- the policy ---------------------------------------------------------------------------

    def refusal(self, email: str, address: str | None) -> Refusal | None:
        """A refusal if this email is locked or this address has failed too often."""
        keys = self._keys(email, address)
        locked_for = self._run("ttl", keys["lock"])
        if locked_for:
            return Refusal(_locked_message(locked_for), locked_for)
        if self._run("get", keys["address"]) >= int(self.config["LOGIN_IP_MAX_FAILURES"]):
            address_ttl = max(1, self._run("ttl", keys["address"]))
            return Refusal(
                "Too many failed sign-in attempts from your network. "
                f"Try again in {_minutes(address_ttl)}.",
                address_ttl,
            )
        return None

    def begin(self, email: str, address: str | None) -> Attempt | Refusal:
        """Count this attempt before its password is checked; a refusal if it is over a limit.

        The counts are taken atomically, so of any number of attempts sent at once at most
        LOGIN_MAX_FAILURES per email (and LOGIN_IP_MAX_FAILURES per address) go on to have
        their password checked. Pass the Attempt to `succeeded` or `failed` afterwards.
        """
        if refusal := self.refusal(email, address):
            return refusal
        keys = self._keys(email, address)
        ip_count = self._run("incr", keys["address"], int(self.config["LOGIN_IP_WINDOW_SECONDS"]))
        if ip_count > int(self.config["LOGIN_IP_MAX_FAILURES"]):
            return self.refusal(email, address) or Refusal(
                "Too many failed sign-in attempts from your network. Try again later.", 60
            )
        count = self._run(
            "incr", keys["failures"], int(self.config["LOGIN_FAILURE_WINDOW_SECONDS"])
        )
        if count > int(self.config["LOGIN_MAX_FAILURES"]):
            lockout = int(self.config["LOGIN_LOCKOUT_SECONDS"])
            if not self._run("ttl", keys["lock"]):
                self._run("set", keys["lock"], 1, lockout)
            return Refusal(_locked_message(self._run("ttl", keys["lock"]) or lockout), lockout)
        return Attempt(email, address, count, ip_count)

    def failed(self, attempt: Attempt) -> Refusal | None:
        """The attempt's password was wrong; a refusal if it locks the email or the address."""
        email, address = attempt.email, attempt.address
        keys = self._keys(email, address)
        ip_count, failures = attempt.address_count, attempt.count
        if failures >= int(self.config["LOGIN_MAX_FAILURES"]):
            lockout = int(self.config["LOGIN_LOCKOUT_SECONDS"])
            self._run("set", keys["lock"], 1, lockout)
            # The count stays full until the lock ends, so attempts already past the lock check
            # are still refused by their count; then both end together.
            self._run("set", keys["failures"], int(self.config["LOGIN_MAX_FAILURES"]), lockout)
            log.warning("sign-in locked for %s s after %s failures", lockout, failures)
            return Refusal(_locked_message(lockout), lockout)
        if ip_count >= int(self.config["LOGIN_IP_MAX_FAILURES"]):
            return self.refusal(email, address)
        return None

    def succeeded(self, attempt: Attempt) -> None:
        """A successful sign-in clears the email's count and does not count for the address."""
        keys = self._keys(attempt.email, attempt.address)
        self._run("delete", keys["failures"])
        self._run("decr", keys["address"])


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-int(seconds) // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _locked_message(seconds: int) -> str:
    return (
        "Too many failed sign-in attempts for this email address, so signing in is locked "
        f"for a while. Try again in {_minutes(seconds)}."
    )


def throttle() -> LoginThrottle:
    """The app's throttle, created on first use from the configuration at that time."""
    app = current_app._get_current_object()
    found = app.extensions.get(_EXTENSION)
    if found is None or found.redis_url != app.config.get("REDIS_URL"):
        found = app.extensions[_EXTENSION] = LoginThrottle(app)
    return found
