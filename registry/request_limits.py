"""Limits before work: every request body is bounded, and refused before it is read.

- A small global limit (``MAX_CONTENT_LENGTH``, 1 MiB by default) holds for every route; a
  view marked with :func:`upload_route` raises it for its own requests only (Flask >= 3.1 sets
  ``request.max_content_length`` per request) to its file limit plus ``FORM_OVERHEAD_BYTES``.
  Nobody signed in (a page without a session, the public API) may send more than
  ``ANONYMOUS_MAX_CONTENT_LENGTH`` (64 KiB): enough for the sign-in and concern forms.
- A declared ``Content-Length`` over the route's limit is answered 413 at once, without
  reading the body; a chunked body is cut off by the same limit while it is read.
- Views marked with :func:`upload_route` or :func:`authorize_before_body` are authorised
  before their body is read: the API after its bearer token is resolved, the pages before
  Flask-WTF's CSRF check (which reads ``request.form`` and so would spool the whole body).
  Anonymous and unauthorised callers are refused after reading only the request's headers.
- A page form posted from another site (the browser's ``Sec-Fetch-Site: cross-site``) is
  refused before its body is read; the CSRF token is then checked within the route's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request

from registry.errors import Forbidden, PayloadTooLarge

__all__ = [
    "FORM_OVERHEAD_BYTES",
    "authorize_before_body",
    "body_limit",
    "init_app",
    "upload_route",
]

# Room for the multipart framing and the small fields that travel with an uploaded file.
FORM_OVERHEAD_BYTES = 64 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class BodyRule:
    """What a view declares about its body: its limit and who may send one."""

    limit_key: str | None = None  # the config key of the file limit; None: the global limit
    action: str | None = None  # the permission checked before the body is read
    pilot_arg: str | None = None  # the URL argument naming the pilot the action is on


def upload_route(
    limit_key: str, *, action: str | None = None, pilot_arg: str | None = None
) -> Callable[[Any], Any]:
    """Mark a view that takes a file of up to ``app.config[limit_key]`` bytes.

    The request may then be that large (plus FORM_OVERHEAD_BYTES); ``action`` (on the pilot
    named by the URL argument ``pilot_arg``) is authorised before the body is read.
    """
    return _mark(BodyRule(limit_key, action, pilot_arg))


def authorize_before_body(action: str, *, pilot_arg: str | None = None) -> Callable[[Any], Any]:
    """Mark a write view whose permission is checked before its (small) body is read."""
    return _mark(BodyRule(None, action, pilot_arg))


def _mark(rule: BodyRule) -> Callable[[Any], Any]:
    def mark(func: Any) -> Any:
        func._body_rule = rule
        return func

    return mark


def _rule() -> BodyRule | None:
    """The rule of the view this request is routed to (a MethodView's method, or a function)."""
    if request.url_rule is None or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, request.method.lower(), None)
    return getattr(view, "_body_rule", None)


def body_limit(rule: BodyRule | None = None) -> int:
    """The most bytes this request's body may have."""
    config = current_app.config
    if rule is None or rule.limit_key is None:
        return int(config["MAX_CONTENT_LENGTH"])
    return max(int(config[rule.limit_key]) + FORM_OVERHEAD_BYTES, int(config["MAX_CONTENT_LENGTH"]))


def _human(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} bytes"


def limit_body() -> None:
    """Before everything else: set this route's limit, refuse what declares more."""
    rule = _rule()
    g.body_rule = rule
    limit = body_limit(rule)
    if request.method in WRITE_METHODS and _anonymous():
        limit = min(limit, int(current_app.config["ANONYMOUS_MAX_CONTENT_LENGTH"]))
    message = f"The request body is larger than the limit of {_human(limit)} for this address."
    errors = {"file" if rule and rule.limit_key else "body": [message]}
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(message, errors)
    request.max_content_length = limit
    if declared is None and request.environ.get("wsgi.input_terminated"):
        # A chunked body: werkzeug stops reading at the limit but hands back what it read as
        # if it were all, so the server's stream is capped here, refusing the byte past it.
        request.max_content_length = limit + 1
        request.environ["wsgi.input"] = _CappedInput(
            request.environ["wsgi.input"], limit, PayloadTooLarge(message, errors)
        )
    if request.path.startswith("/api/") or request.method not in WRITE_METHODS:
        return
    _check_origin()
    if rule is not None and rule.action is not None:
        from flask_login import current_user

        _authorize(current_user, rule)


class _CappedInput:
    """A server's input stream that raises `error` once more than `limit` bytes are read."""

    def __init__(self, stream: Any, limit: int, error: Exception) -> None:
        self.stream, self.remaining, self.error = stream, limit, error

    def _count(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise self.error

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self._count(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self._count(len(data))
        return data


def _anonymous() -> bool:
    """Nobody is signed in: a page without a session user, or a public API path (the rest of
    the API answers 401 before its body whatever its size)."""
    if request.path.startswith("/api/"):
        from registry.auth.api_auth import is_public_api_path

        return is_public_api_path(request.path)
    from flask_login import current_user

    return not current_user.is_authenticated


def authorize_api_body() -> None:
    """For the API, after the bearer token is resolved and before the body is read."""
    rule = g.get("body_rule")
    if not request.path.startswith("/api/") or rule is None or rule.action is None:
        return
    from registry.auth.api_auth import api_user

    _authorize(api_user(), rule)


def _authorize(user: Any, rule: BodyRule) -> None:
    from registry.auth.permissions import authorize

    target = None
    if rule.pilot_arg is not None:
        from registry.catalog.service import get_pilot

        target = get_pilot((request.view_args or {})[rule.pilot_arg])
    assert rule.action is not None
    authorize(user, rule.action, target)


def _check_origin() -> None:
    """A page form posted from another site is refused before its body is read.

    Browsers say so in ``Sec-Fetch-Site`` (Fetch Metadata); unlike ``Origin`` it needs no
    knowledge of the host name the app is reached by behind a proxy. A request without it
    (an older browser, a script) is left to the CSRF token.
    """
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("The form was sent from another site; it was refused.")


def init_app(app: Flask) -> None:
    """Install the body check; call before CSRFProtect.init_app, so that it runs first."""
    app.before_request(limit_body)
