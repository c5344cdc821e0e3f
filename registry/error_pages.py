"""The error page in the app's style, for every HTML error response."""

from __future__ import annotations

from http import HTTPStatus

from flask import render_template


def render_html_error(code: int, message: str | None = None):
    """Render an error page in the app's style."""
    status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else HTTPStatus(500)
    return (
        render_template(
            "errors/error.html", code=status.value, title=status.phrase, message=message
        ),
        status.value,
    )
