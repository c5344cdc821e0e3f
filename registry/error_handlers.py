"""The single error model: services raise `registry.errors`, and these handlers answer JSON
under /api/ and an HTML page elsewhere, rolling the session back first."""

from __future__ import annotations

import logging

from flask import jsonify, redirect, request, url_for
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from registry.api_base import is_api_request
from registry.error_pages import render_html_error
from registry.errors import DomainError, InternalError, PreconditionFailed, ServiceUnavailable
from registry.extensions import db

log = logging.getLogger("registry.errors")


def register_error_handlers(app) -> None:
    """One error model, two renderings: JSON under /api/, HTML pages elsewhere."""

    def respond(error: DomainError):
        db.session.rollback()
        if is_api_request():
            response = jsonify(error.to_dict())
            response.status_code = error.code
            if error.code == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
            return response
        if error.code == 401:
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
        return respond(InternalError())


def request_path() -> str:
    return request.full_path.rstrip("?")
