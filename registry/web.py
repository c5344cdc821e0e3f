"""Helpers shared by the HTML views: badges, labels, pagination links and form decoding."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil
from typing import Any

from flask import Flask, flash, render_template, request, url_for
from flask_login import current_user

from registry.auth.permissions import can
from registry.catalog import vocabulary


@dataclass(frozen=True)
class Badge:
    """A status shown as text and a shape, never by colour alone."""

    text: str
    css: str
    symbol: str


#: The shape beside a risk tier wherever it is shown (badges, charts): taller is higher impact.
TIER_SYMBOLS = {"I": "▁", "II": "▃", "III": "▅", "IV": "▇"}
NO_TIER_SYMBOL = "○"


def tier_badge(tier: str | None, source: str | None = None) -> Badge:
    if not tier:
        return Badge("Tier not assessed", "badge badge-none", NO_TIER_SYMBOL)
    suffix = " (CAIO override)" if source == "override" else ""
    return Badge(
        f"Tier {tier}{suffix}", f"badge badge-tier-{tier.lower()}", TIER_SYMBOLS.get(tier, "")
    )


def status_badge(status: str) -> Badge:
    try:
        symbol = vocabulary.ReviewStatus(status).symbol
    except ValueError:
        symbol = ""
    return Badge(
        vocabulary.ReviewStatus.label_of(status),
        f"badge badge-status-{status.replace('_', '-')}",
        symbol,
    )


def stage_badge(stage: str) -> Badge:
    return Badge(vocabulary.STAGE_LABELS.get(stage, stage), "badge badge-stage", "")


@dataclass(frozen=True)
class Pager:
    """Page links that keep the current filters."""

    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.page_size))

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_item(self) -> int:
        return min(self.total, self.page * self.page_size)

    def url(self, page: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page)
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @property
    def previous_url(self) -> str | None:
        return self.url(self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.page + 1) if self.page < self.pages else None


def page_args(default_size: int = 25) -> tuple[int, int]:
    """The page and page size from the query string, clamped to sane values.

    Pages past MAX_PAGE are read as MAX_PAGE (an empty page): a larger number would overflow
    the database's OFFSET (a 500 on PostgreSQL and SQLite alike).
    """
    from registry.api_base import MAX_PAGE

    try:
        page = min(MAX_PAGE, max(1, int(request.args.get("page", 1))))
    except ValueError:
        page = 1
    try:
        size = min(100, max(1, int(request.args.get("page_size", default_size))))
    except ValueError:
        size = default_size
    return page, size


def form_to_payload(
    form: Mapping[str, Any],
    *,
    text_fields: tuple[str, ...] = (),
    list_fields: tuple[str, ...] = (),
    int_list_fields: tuple[str, ...] = (),
    bool_fields: tuple[str, ...] = (),
    split_fields: tuple[str, ...] = (),
    blank_is_none: bool = False,
) -> dict[str, Any]:
    """Turn a posted form into the payload the API schemas take."""
    payload: dict[str, Any] = {}
    for field in text_fields:
        if field not in form:
            continue
        value = form.get(field, "").strip()
        if value:
            payload[field] = value
        elif blank_is_none:
            payload[field] = None
    for field in list_fields:
        payload[field] = [v for v in form.getlist(field) if v]
    for field in int_list_fields:
        values = []
        for raw in form.getlist(field):
            values.append(int(raw) if raw.isdigit() else raw)
        payload[field] = values
    for field in split_fields:
        raw = form.get(field, "")
        payload[field] = [
            part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()
        ]
    for field in bool_fields:
        payload[field] = form.get(field) in {"on", "true", "1", "yes"}
    return payload


def flatten_messages(errors: Mapping[str, Any]) -> dict[str, list[str]]:
    """Marshmallow's nested messages as one list of strings per top-level field."""
    flat: dict[str, list[str]] = {}
    for field, messages in errors.items():
        if isinstance(messages, Mapping):
            flat[field] = [
                f"item {index}: {message}"
                for index, inner in messages.items()
                for message in (inner if isinstance(inner, list) else [inner])
            ]
        elif isinstance(messages, list):
            flat[field] = [str(message) for message in messages]
        else:
            flat[field] = [str(messages)]
    return flat


@dataclass(frozen=True)
class Confirmation:
    """A "are you sure?" page for an action that destroys or cannot be undone.

    ``fields`` are posted with the confirming button (``confirmed=yes`` is added); with
    ``back_fields`` the way back is a button that posts them (so what was typed comes back),
    else a link to ``cancel``."""

    title: str
    lead: str
    action: str
    button: str
    cancel: str = ""
    cancel_text: str = "No, go back"
    details: tuple[str, ...] = ()
    irreversible: bool = True
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    back_fields: tuple[tuple[str, tuple[str, ...]], ...] | None = None


def posted_fields(skip: tuple[str, ...] = ("csrf_token", "confirmed")):
    """The posted form as (name, values) pairs, to carry through a confirmation page."""
    return tuple(
        (name, tuple(request.form.getlist(name))) for name in request.form if name not in skip
    )


def render_confirmation(confirm: Confirmation):
    """The confirmation page (the JavaScript dialog is built from the same markup)."""
    confirm = Confirmation(
        **{**confirm.__dict__, "fields": (*confirm.fields, ("confirmed", ("yes",)))}
    )
    return render_template("confirm.html", confirm=confirm)


_SVG_ID = re.compile(r'\bid="([^"]+)"')


def flash_errors(prefix: str, errors: Mapping[str, Any]) -> None:
    """Flash each refused field's messages as "<prefix> — <field>: <message>"."""
    for field, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            flash(f"{prefix} — {field.replace('_', ' ')}: {message}", "error")


def namespace_svg_ids(svg: str, prefix: str) -> str:
    """Prefix every id in an SVG (and the references to it) so several charts share a page."""
    ids = set(_SVG_ID.findall(svg))
    if not ids:
        return svg
    pattern = re.compile(
        r'(id="|url\(#|href="#)('
        + "|".join(map(re.escape, sorted(ids, key=len, reverse=True)))
        + r')(?=["\) ])'
    )
    return (
        pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
        .replace('aria-labelledby="', f'aria-labelledby="{prefix}-', 1)
        .replace(" chart-", f" {prefix}-chart-", 1)
    )


def init_app(app: Flask) -> None:
    app.jinja_env.filters["svg_ids"] = namespace_svg_ids
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    def nav_links() -> list[dict[str, Any]]:
        """The main navigation for this person: each link, whether it is the current page
        (the longest matching path wins), and the inbox's unread count."""
        from registry.notifications import service as notifications

        if not current_user.is_authenticated:
            return []
        items = [
            {"endpoint": "catalog.pilot_list", "label": "Pilots", "action": "pilot.read"},
            {"endpoint": "catalog.data_source_list", "label": "Data sources", "action": None},
            *app.extensions["registry"]["nav"],
            {"endpoint": "auth.users", "label": "Users", "action": "user.manage"},
            {
                "endpoint": "organizations.organization_tree",
                "label": "Organisations",
                "action": "organization.update",
            },
        ]
        links = [
            {"url": url_for(item["endpoint"]), "label": item["label"], "endpoint": item["endpoint"]}
            for item in items
            if item["action"] is None or can(current_user, item["action"])
        ]
        matches = [link for link in links if request.path.startswith(link["url"])]
        current = max(matches, key=lambda link: len(link["url"]), default=None)
        for link in links:
            link["current"] = link is current
            link["unread"] = (
                notifications.unread_count(current_user)
                if link["endpoint"] == "review.inbox"
                else 0
            )
        return links

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        def allowed(action: str, target: Any = None) -> bool:
            return can(current_user, action, target)

        return {
            "nav_links": nav_links,
            "can": allowed,
            "tier_badge": tier_badge,
            "status_badge": status_badge,
            "stage_badge": stage_badge,
            "vocabulary": vocabulary,
            "extra_nav_items": app.extensions["registry"]["nav"],
        }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Every page, the API documentation too (its Swagger UI is served by the app).
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        hsts_seconds = int(app.config.get("HSTS_SECONDS") or 0)
        if app.config.get("REGISTRY_ENV") == "production" and hsts_seconds > 0:
            # Browsers ignore it over plain HTTP, so it is safe to send on every response.
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={hsts_seconds}; includeSubDomains"
            )
        return response
