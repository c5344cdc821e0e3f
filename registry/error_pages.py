"""The error page in the app's style, for every HTML error response."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

from flask import current_app, render_template, request
from sqlalchemy.exc import DBAPIError

# Titles in plain words; the status code stays in small print for whoever reports it.
TITLES = {
    400: "The request could not be read",
    403: "You do not have permission",
    404: "Page not found",
    405: "That address does not take this request",
    409: "This cannot be done now",
    412: "Someone else changed this record",
    413: "The file is too large",
    422: "Some of what you sent was not valid",
    428: "The request needs the record's version",
    429: "Too many requests",
    500: "Sorry, something went wrong",
    503: "The service is unavailable",
}


def _back_url() -> str | None:
    """The page the person came from, if it was on this site (never a dead end)."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.path == request.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def render_html_error(code: int, message: str | None = None):
    """Render an error page in the app's style, with a way back to where the person was."""
    status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else HTTPStatus(500)
    title = TITLES.get(status.value, status.phrase)
    if status.value != 503:
        try:
            return render_template(
                "errors/error.html",
                code=status.value,
                title=title,
                message=message,
                back_url=_back_url(),
            ), status.value
        except DBAPIError:  # looking up the signed-in user failed: the database is down
            status, message = HTTPStatus(503), "The database is unavailable; try again shortly."
            title = TITLES[503]
    # The database is down. Context processors (Flask-Login's among them) would look the
    # signed-in user up in it and fail again, so the page is rendered without them, as a page
    # for nobody in particular (database_down hides the account links).
    template = current_app.jinja_env.get_template("errors/error.html")
    page = template.render(
        code=status.value,
        title=title,
        message=message,
        back_url=_back_url(),
        database_down=True
    )
    return page, status.value
