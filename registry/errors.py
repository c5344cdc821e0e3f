"""Domain errors and the single error model: JSON under /api/, an HTML page elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


class DomainError(Exception):
    """Base class for errors that services raise and one handler renders."""

    code: int = 400

    def __init__(self, message: str | None = None, errors: Mapping[str, Any] | None = None):
        self.message = message or HTTPStatus(self.code).phrase
        self.errors = dict(errors or {})
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The flask-smorest error shape."""
        body: dict[str, Any] = {
            "code": self.code,
            "status": HTTPStatus(self.code).phrase,
            "message": self.message,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(DomainError):
    code = 400


class Unauthorized(DomainError):
    code = 401


class Forbidden(DomainError):
    code = 403


class NotFound(DomainError):
    code = 404


class Conflict(DomainError):
    code = 409


class PreconditionFailed(DomainError):
    code = 412


class PayloadTooLarge(DomainError):
    code = 413


class ValidationFailed(DomainError):
    """Input that is well-formed but wrong: `errors` maps each field, column or row to why."""

    code = 422


class PreconditionRequired(DomainError):
    code = 428


class ServiceUnavailable(DomainError):
    code = 503


class InsufficientStorage(DomainError):
    code = 507


def render_html_error(code: int, message: str | None = None):
    """Render an error page in the app's style."""
    from flask import render_template

    status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else HTTPStatus(500)
    return (
        render_template(
            "errors/error.html", code=status.value, title=status.phrase, message=message
        ),
        status.value,
    )


def register_error_handlers(app) -> None:
    """One error model, two renderings: JSON under /api/, HTML pages elsewhere."""
    import logging

    from flask import jsonify
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.orm.exc import StaleDataError

    from registry.api_base import is_api_request
    from registry.extensions import db

    log = logging.getLogger("registry.errors")

    def respond(error: DomainError):
        db.session.rollback()
        if is_api_request():
            response = jsonify(error.to_dict())
            response.status_code = error.code
            if error.code == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
            return response
        if error.code == 401:
            from flask import redirect, url_for

            return redirect(url_for("auth.login", next=request_path()))
        return render_html_error(error.code, error.message)

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        return respond(error)

    @app.errorhandler(StaleDataError)
    def handle_stale(error):
        return respond(
            PreconditionFailed("The record was changed by someone else; reload and try again.")
        )

    @app.errorhandler(OperationalError)
    def handle_database_down(error):
        log.error("database unavailable: %s", error)
        return respond(ServiceUnavailable("The database is unavailable; try again shortly."))

    @app.errorhandler(DBAPIError)
    def handle_database_error(error):
        if getattr(error, "connection_invalidated", False):
            return handle_database_down(error)
        return handle_unexpected(error)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        log.exception("unexpected error")
        return respond(_Internal())


class _Internal(DomainError):
    code = 500

    def __init__(self):
        super().__init__("An unexpected error occurred; it has been logged.")


def request_path() -> str:
    from flask import request

    return request.full_path.rstrip("?")
