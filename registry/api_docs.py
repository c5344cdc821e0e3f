"""The API documentation page's Swagger UI, served from the swagger-ui-bundle package.

flask-smorest renders /api/v1/docs from `swagger_ui.html`, which this app overrides
(registry/templates/swagger_ui.html): the page loads Swagger UI's files from
/api/v1/docs/assets/ and starts it from the app's own script, so it needs no network and no
inline script, and it gets the same Content-Security-Policy as every other page.
"""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint(
    "api_docs_assets",
    __name__,
    static_folder=swagger_ui_path,
    static_url_path="/api/v1/docs/assets",
)
