"""Need-to-know reads: a withheld pilot, and everything that belongs to it, is hidden (404)
from a signed-in user who may not read it, on every page, API route and download.

The rule is `pilot.read` in the permission table (registry.auth.permissions). This hook
applies it to every route that names a pilot, or a record of a pilot (a bias check, evidence,
an assessment, ...), in its URL, before the view runs, so that no route can forget it. The
domains that own those records say how to find their pilot (`register_owner`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from flask_login import current_user

from registry.auth.permissions import can
from registry.errors import NotFound
from registry.extensions import db

# URL variable -> a function from its value to the id of the pilot it belongs to (or None).
OwnerLookup = Callable[[int], int | None]


def register_owner(app: Flask, url_variable: str, pilot_of: OwnerLookup, label: str) -> None:
    """Say that `<int:url_variable>` names a record of a pilot, found by `pilot_of`."""
    app.extensions.setdefault("need_to_know", {})[url_variable] = (pilot_of, label)


def init_app(app: Flask) -> None:
    app.before_request(hide_withheld_pilots)


def _reader() -> Any:
    if request.path.startswith("/api/"):
        return g.get("api_user")
    return current_user if current_user.is_authenticated else None


def hide_withheld_pilots() -> None:
    """Before a view: 404 when the URL names a withheld pilot (or its record) the user may not read."""
    arguments = request.view_args or {}
    if not arguments:
        return
    owners: dict[str, tuple[OwnerLookup, str]] = current_app.extensions.get("need_to_know", {})
    named = [
        (name, value) for name, value in arguments.items() if name == "pilot_id" or name in owners
    ]
    if not named:
        return
    user = _reader()
    if user is None:  # anonymous: the view answers 401 (API) or sends to sign-in (pages)
        return
    from registry.catalog.models import Pilot

    for name, value in named:
        if name == "pilot_id":
            pilot_id, label = value, "pilot"
        else:
            lookup, label = owners[name]
            pilot_id = lookup(value)
        if pilot_id is None:
            continue
        pilot = db.session.get(Pilot, pilot_id)
        if pilot is not None and not can(user, "pilot.read", pilot):
            raise NotFound(f"There is no {label} {value}.")


def readable_pilot_ids_filter(user: Any) -> int | None:
    """The user id that the pilot lists must narrow withheld pilots to, or None for all."""
    return None if can(user, "pilot.read_withheld") else user.id
