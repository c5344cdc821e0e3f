"""The flask-smorest Api, taught to leave HTML pages alone and to flatten validation errors."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Api, Blueprint
from flask_smorest.exceptions import PreconditionFailed, PreconditionRequired

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


class RegistryApi(Api):
    """flask-smorest's Api whose HTTP error handler answers JSON only for the API."""

    def handle_http_exception(self, error):
        if not is_api_request():
            from registry.errors import render_html_error

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
