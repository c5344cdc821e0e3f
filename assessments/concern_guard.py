"""Abuse protection for concerns from the public, with nothing third-party.

Three layers, each documented for the people who run the registry:

- **A limit per client address**: at most ``CONCERN_RATE_LIMIT`` reports per
  ``CONCERN_RATE_WINDOW_SECONDS`` from one address (form and API alike); more get 429 with
  ``Retry-After``. Counters live in Redis when ``REDIS_URL`` is set (shared by every worker),
  in this process otherwise, with the sign-in throttle's stores (`registry.auth.throttle`).
  ``CONCERN_RATE_LIMIT=0`` turns the limit off.
- **A honeypot**: the form has a field that people do not see (``website``); a report that
  fills it is refused (422).
- **A proof of work, or time, on the form**: the page carries a signed, single-use
  challenge. Its script finds a number whose SHA-256 with the challenge starts with
  ``CONCERN_POW_BITS`` zero bits (well under a second in a browser) and sends it. Without
  JavaScript the report is accepted instead when the form was served at least
  ``CONCERN_NOJS_MIN_SECONDS`` earlier: a person takes longer than that to write, a script
  that posts at once has to wait. Either way a challenge is used once.

The JSON API (for programs) is protected by the limit alone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from flask import current_app

from registry.auth.throttle import MemoryStore, RedisStore
from registry.errors import TooManyRequests, ValidationFailed

log = logging.getLogger(__name__)
HONEYPOT_FIELD = "website"
_EXTENSION = "concern_guard"


class ConcernGuard:
    def __init__(self, config: Any) -> None:
        self.redis_url = config.get("REDIS_URL")
        self.memory = MemoryStore()
        self.redis = RedisStore(self.redis_url) if self.redis_url else None
        self.prefix = config.get("CONCERN_GUARD_PREFIX", "registry:concerns:")

    def _run(self, operation: str, *args):
        if self.redis is not None:
            try:
                return getattr(self.redis, operation)(*args)
            except Exception as error:  # noqa: BLE001 - any Redis failure means the same here
                log.warning("concern guard: Redis unavailable (%s); counting in memory", error)
        return getattr(self.memory, operation)(*args)

    # -- the limit per address ---------------------------------------------------------------

    def count(self, address: str | None) -> None:
        """Count one report from this address; 429 once it is over the limit."""
        config = current_app.config
        limit = int(config.get("CONCERN_RATE_LIMIT") or 0)
        if limit <= 0:
            return
        window = int(config.get("CONCERN_RATE_WINDOW_SECONDS") or 3600)
        key = self.prefix + "ip:" + (address or "unknown")
        if self._run("incr", key, window) > limit:
            retry = max(1, self._run("ttl", key))
            raise TooManyRequests(
                f"Too many reports from your network. Try again in {_minutes(retry)}.",
                {"_schema": ["Too many reports from your network; try again later."]},
                retry_after=retry,
            )

    # -- challenges ------------------------------------------------------------------------------

    @staticmethod
    def _sign(payload: str) -> str:
        key = current_app.config["SECRET_KEY"].encode()
        return hmac.new(key, b"concern:" + payload.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self) -> str:
        """A fresh signed challenge: issued-at seconds, a nonce and a signature."""
        payload = f"{int(time.time())}.{secrets.token_hex(8)}"
        return f"{payload}.{self._sign(payload)}"

    def check(self, challenge: str | None, proof: str | None) -> None:
        """Accept a form's challenge and proof (or its age, without JavaScript), once."""
        config = current_app.config
        issued, nonce, ok = _parse(challenge or "")
        if not ok or not hmac.compare_digest(
            self._sign(f"{issued}.{nonce}"), (challenge or "").rsplit(".", 1)[-1]
        ):
            raise ValidationFailed(
                "The form has expired. Send your report again.",
                {"challenge": ["The form has expired; send your report again."]},
            )
        age = time.time() - issued
        if age > int(config.get("CONCERN_CHALLENGE_TTL_SECONDS") or 7200):
            raise ValidationFailed(
                "The form has expired. Send your report again.",
                {"challenge": ["The form was open too long; send your report again."]},
            )
        if proof:
            if not solves(challenge or "", proof, int(config.get("CONCERN_POW_BITS") or 0)):
                raise ValidationFailed(
                    "The form could not be checked. Send your report again.",
                    {"challenge": ["The form's check did not match; send your report again."]},
                )
        else:
            wait = int(config.get("CONCERN_NOJS_MIN_SECONDS") or 0) - age
            if wait > 0:
                raise NotYet(int(wait) + 1)
        key = self.prefix + "used:" + nonce
        if self._run("incr", key, int(config.get("CONCERN_CHALLENGE_TTL_SECONDS") or 7200)) > 1:
            raise ValidationFailed(
                "This form was sent already. Open the form again to send another report.",
                {"challenge": ["This form was sent already."]},
            )


class NotYet(ValidationFailed):
    """A report sent without JavaScript sooner than the form allows; the page asks to wait."""

    def __init__(self, seconds: int):
        message = (
            f"Check your report and send it again in {seconds} seconds. Without JavaScript the "
            "form waits a few seconds, to keep automated reports out."
        )
        super().__init__(message, {"challenge": [message]})
        self.seconds = seconds


def _parse(challenge: str) -> tuple[int, str, bool]:
    parts = challenge.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return 0, "", False
    return int(parts[0]), parts[1], True


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solves(challenge: str, proof: str, bits: int) -> bool:
    """Whether SHA-256("challenge:proof") starts with ``bits`` zero bits."""
    if len(proof) > 20 or not proof.isdigit():
        return False
    digest = hashlib.sha256(f"{challenge}:{proof}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def solve(challenge: str, bits: int) -> str:
    """The smallest proof for a challenge (what the page's script computes; for tests and
    benchmarks)."""
    counter = 0
    while not solves(challenge, str(counter), bits):
        counter += 1
    return str(counter)


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-int(seconds) // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def guard() -> ConcernGuard:
    """The app's guard, created on first use."""
    app = current_app._get_current_object()
    found = app.extensions.get(_EXTENSION)
    if found is None or found.redis_url != app.config.get("REDIS_URL"):
        found = app.extensions[_EXTENSION] = ConcernGuard(app.config)
    return found
