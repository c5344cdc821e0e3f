"""The SCIM 2.0 endpoints at /scim/v2 (JSON in the SCIM shapes, never the API's error shape)."""

from __future__ import annotations

from flask import Blueprint, Response, g, json, request, url_for
from werkzeug.exceptions import HTTPException

from registry.auth import scim

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
MEDIA_TYPE = "application/scim+json"
MAX_BODY_BYTES = 64 * 1024


def _answer(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE, headers=headers)


@bp.before_request
def _authenticate():
    # Refused before the body is read: no token, no reading; a body over the limit, no reading.
    g.scim_token = scim.authenticate(request.headers.get("Authorization"))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise scim.ScimError(413, f"The body is over {MAX_BODY_BYTES} bytes.", "tooMany")


@bp.errorhandler(scim.ScimError)
def _scim_error(error: scim.ScimError):
    return _answer(error.body(), error.status)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _answer(scim.ScimError(error.code or 400, error.description or error.name).body(),
                   error.code or 400)


def _body():
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise scim.ScimError(400, "The body is not valid JSON.", "invalidSyntax")
    return body


def _base() -> str:
    return url_for("scim.users", _external=True).rsplit("/Users", 1)[0]


@bp.route("/Users", methods=["GET", "POST"])
def users():
    """List users (filter userName eq "...") or provision one."""
    if request.method == "POST":
        user = scim.create_user(_body(), g.scim_token)
        resource = scim.to_resource(user, _base())
        return _answer(resource, 201, {"Location": resource["meta"]["location"]})
    found = scim.find_users(request.args.get("filter"))
    return _answer(
        {
            "schemas": [scim.LIST_SCHEMA],
            "totalResults": len(found),
            "startIndex": 1,
            "itemsPerPage": len(found),
            "Resources": [scim.to_resource(u, _base()) for u in found],
        }
    )


@bp.route("/Users/<user_id>", methods=["GET", "PATCH", "DELETE"])
def user(user_id: str):
    """Read a user, change `active`, or deprovision them (their history stays)."""
    if request.method == "DELETE":
        scim.delete_user(user_id, g.scim_token)
        return Response(status=204)
    if request.method == "PATCH":
        found = scim.patch_user(user_id, _body(), g.scim_token)
    else:
        found = scim.get_user(user_id)
    return _answer(scim.to_resource(found, _base()))
