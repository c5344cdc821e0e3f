"""The error page in the app's style, for every HTML error response."""

from __future__ import annotations

from http import HTTPStatus

from flask import current_app, render_template
from sqlalchemy.exc import DBAPIError


def render_html_error(code: int, message: str | None = None):
    """Render an error page in the app's style."""
    status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else HTTPStatus(500)
    if status.value != 503:
        try:
            return render_template(
                "errors/error.html", code=status.value, title=status.phrase, message=message
            ), status.value
        except DBAPIError:  # looking up the signed-in user failed: the database is down
            status, message = HTTPStatus(503), "The database is unavailable; try again shortly."
    # The database is down. Context processors (Flask-Login's among them) would look the
    # signed-in user up in it and fail again, so the page is rendered without them, as a page
    # for nobody in particular (database_down hides the account links).
    template = current_app.jinja_env.get_template("errors/error.html")
    page = template.render(
        code=status.value, title=status.phrase, message=message, database_down=True
    )
    return page, status.value
