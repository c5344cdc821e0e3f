"""The flask-smorest Api, taught to leave HTML pages alone and to flatten validation errors."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import request
from flask_smorest import Api, Blueprint
from flask_smorest.exceptions import PreconditionFailed, PreconditionRequired
from flask_smorest.pagination import PaginationMetadataSchema
from werkzeug.routing import IntegerConverter

from registry.error_pages import render_html_error
from registry.errors import BadRequest, ValidationFailed

# The largest id a path may name: ids are `Integer` columns, 32-bit on PostgreSQL. A larger
# number cannot name a row, and the databases refuse to even compare with it (PostgreSQL:
# "integer out of range"; SQLite past 64 bits: OverflowError), which would be a 500.
MAX_ID = 2**31 - 1
# Pages past this one are empty anyway; clamping keeps OFFSET within a 64-bit integer.
MAX_PAGE = 10**9


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs: a non-negative integer up to MAX_ID (larger ones are a 404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


# webargs nests validation messages under the request location; the public contract maps
# fields straight to messages, so the location level is folded away.
_LOCATIONS = ("json", "form", "files", "query", "querystring", "headers", "view_args")


def flatten_errors(errors: Any) -> Any:
    """Fold webargs' location level ({"json": {"name": [...]}}) into {"name": [...]}."""
    if not isinstance(errors, dict) or not errors:
        return errors
    if all(key in _LOCATIONS for key in errors):
        flat: dict[str, Any] = {}
        for location_errors in errors.values():
            if isinstance(location_errors, dict):
                flat.update(location_errors)
            else:
                flat.setdefault("_schema", []).extend(location_errors)
        return flat
    return errors


def is_api_request() -> bool:
    """Requests under /api/ (and the health probe) are answered in JSON."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def _nul_fields(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [name] if "\x00" in value else []
    if isinstance(value, dict):
        return [f for key, item in value.items() for f in _nul_fields(item, str(key))]
    if isinstance(value, list):
        return [f for item in value for f in _nul_fields(item, name)]
    return []


def _signed_in() -> bool:
    from flask import g
    from flask_login import current_user

    if is_api_request():
        return g.get("api_user") is not None
    return bool(current_user.is_authenticated)


def reject_nul_characters():
    """Refuse text input holding NUL characters, on pages and the API alike.

    PostgreSQL text cannot hold U+0000, so such a value (in a search, a name, a form field)
    would fail deep inside a query as a 500; no legitimate input contains one. Runs after the
    API's token check, and reads a multipart body only for a signed-in caller, so that an
    anonymous upload is still refused before its body is read.
    """
    fields = [name for name, value in request.args.items(multi=True) if "\x00" in value]
    if request.mimetype == "application/x-www-form-urlencoded" or (
        request.mimetype == "multipart/form-data" and _signed_in()
    ):
        fields += [name for name, value in request.form.items(multi=True) if "\x00" in value]
    elif request.is_json:
        fields += _nul_fields(request.get_json(silent=True), "_schema")
    if not fields:
        return None
    message = "Text must not contain NUL (U+0000) characters."
    if is_api_request():
        raise ValidationFailed(message, {field: [message] for field in dict.fromkeys(fields)})
    raise BadRequest(message)


class RegistryApi(Api):
    """flask-smorest's Api whose HTTP error handler answers JSON only for the API."""

    def init_app(self, app, *args, **kwargs):
        # Before any blueprint adds its rules, so that every `<int:...>` is bounded.
        app.url_map.converters["int"] = IdConverter
        super().init_app(app, *args, **kwargs)

    def _register_pagination_header(self):
        # X-Pagination carries a JSON object; a header `schema` would describe it in the
        # "simple" style (total,4,page,1), which is not what is sent.
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, as a JSON object",
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )

    def handle_http_exception(self, error):
        if not is_api_request():
            return render_html_error(error.code or 500, error.description)
        payload, code, headers = super().handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = flatten_errors(payload["errors"])
        if "message" not in payload:
            payload["message"] = _describe(error)
        return payload, code, headers


def _describe(error) -> str:
    data = getattr(error, "data", None) or {}
    errors = flatten_errors(data.get("messages") or data.get("errors") or {})
    if error.code == 422 and isinstance(errors, dict) and errors:
        return "Invalid input: " + ", ".join(sorted(str(field) for field in errors)) + "."
    if error.code == 400 and "Invalid JSON body." in str(errors):
        return "The request body is not valid JSON."
    return str(error.description)


class RegistryBlueprint(Blueprint):
    """A smorest Blueprint that checks If-Match only after the caller has been authorised."""

    def paginate(self, *args, **kwargs):
        """smorest's paginate, with page numbers past MAX_PAGE read as MAX_PAGE (empty)."""
        decorate = super().paginate(*args, **kwargs)

        def decorator(func):
            @wraps(func)
            def clamped(*f_args, pagination_parameters, **f_kwargs):
                pagination_parameters.page = min(pagination_parameters.page, MAX_PAGE)
                return func(*f_args, pagination_parameters=pagination_parameters, **f_kwargs)

            return decorate(clamped)

        return decorator

    def _check_precondition(self):
        # smorest would answer 428 before the view runs, so an unauthorised caller would learn
        # about preconditions instead of getting 403; the view calls check_etag after authorize.
        return None

    def check_etag(self, etag_data, etag_schema=None):
        if request.method in self.METHODS_NEEDING_CHECK_ETAG and not request.if_match:
            raise PreconditionRequired(
                description="Send the ETag of your last GET in an If-Match header."
            )
        try:
            super().check_etag(etag_data, etag_schema)
        except PreconditionFailed as error:
            error.description = "The record changed since your last GET; fetch it again and retry."
            raise
