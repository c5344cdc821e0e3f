"""The permission matrix: every route, HTML and API, for every role and for anonymous."""

import io
import re

import pytest

from registry.extensions import db

SMALL_CSV = b"g,y,p\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 % 2},{i % 5 % 2}\n".encode() for i in range(60)
)
ROLES = ("admin", "caio", "board", "member", "other_team", "anonymous")

# (method, path, body, {role: expected status}); {pilot} and {source} belong to `member`.
MATRIX = [
    ("GET", "/api/v1/pilots/{pilot}/report.pdf", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/record.json", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/model-card.json", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("GET", "/api/v1/reports/board-packet.pdf", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/reports/board-packet.csv", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/submission", {},
     dict(admin=201, caio=403, board=403, member=201, other_team=403, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/decisions", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/decisions",
     {"decision": "reject", "rationale": "The model is not ready for this population."},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/resubmission-request",
     {"reason": "The annual review date has passed."},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/review-queue", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/conditions", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/conditions/{condition}/met", {"note": "Notice published."},
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=401)),
    # The condition is open (not reported), so the one who may verify gets 409.
    ("POST", "/api/v1/conditions/{condition}/verification", {"accepted": True},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/revisions", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    # The pilot is a draft: it has no revision 1 yet.
    ("GET", "/api/v1/pilots/{pilot}/revisions/{revision}", None,
     dict(admin=404, caio=404, board=404, member=404, other_team=404, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/comments", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/comments", {"body": "Looks reasonable."},
     dict(admin=201, caio=201, board=201, member=201, other_team=403, anonymous=401)),
    ("GET", "/api/v1/inbox", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/inbox/read", None,
     dict(admin=204, caio=204, board=204, member=204, other_team=204, anonymous=401)),
    ("GET", "/api/v1/inventory.csv", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/api/v1/inventory.json", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    (
        "GET",
        "/api/v1/pilots/{pilot}/bias-checks",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/pilots/{pilot}/bias-checks",
        "bias_check",
        dict(admin=201, caio=403, board=403, member=201, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/bias-checks/{bias_check}",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/bias-checks/{bias_check}/rerun",
        None,
        # The check has succeeded: a re-run is a new check of the same upload.
        dict(admin=202, caio=403, board=403, member=202, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/bias-checks/limits",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/questionnaire",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/pilots/{pilot}/impact-assessments",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/pilots/{pilot}/impact-assessments",
        "answers",
        dict(admin=201, caio=403, board=403, member=201, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/impact-assessments/{assessment}",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/pilots/{pilot}/risk-tier-override",
        {"risk_tier": "III", "justification": "Affects access to housing benefits."},
        dict(admin=403, caio=200, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/pilots/{pilot}/compliance",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/pilots/{pilot}/evidence",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/pilots/{pilot}/evidence",
        "evidence",
        dict(admin=201, caio=403, board=403, member=201, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/evidence/{evidence}/download",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/policies",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/policies",
        "policy",
        dict(admin=201, caio=403, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/audit/checkpoints",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200),
    ),
    (
        "GET",
        "/api/v1/policies/active",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/policies/{policy}",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "PUT",
        "/api/v1/policies/{policy}",
        "policy",
        dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "DELETE",
        "/api/v1/policies/{policy}",
        None,
        dict(admin=204, caio=403, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/policies/{policy}/diff",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/policies/{policy}/publish",
        None,
        dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/pilots",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/pilots",
        "new_pilot",
        dict(admin=201, caio=201, board=403, member=201, other_team=201, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/pilots/{pilot}",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "PATCH",
        "/api/v1/pilots/{pilot}",
        {"name": "Renamed"},
        dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=401),
    ),
    (
        "DELETE",
        "/api/v1/pilots/{pilot}",
        None,
        dict(admin=204, caio=403, board=403, member=204, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/data-sources",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/data-sources",
        {"name": "New source"},
        dict(admin=201, caio=201, board=403, member=201, other_team=201, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/data-sources/{source}",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "PATCH",
        "/api/v1/data-sources/{source}",
        {"description": "Updated"},
        dict(admin=200, caio=200, board=403, member=200, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/audit",
        None,
        dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/tokens",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/tokens",
        {"name": "laptop", "expires_in_days": 30},
        dict(admin=201, caio=201, board=201, member=201, other_team=201, anonymous=401),
    ),
    (
        "DELETE",
        "/api/v1/tokens/{token}",
        None,
        dict(admin=204, caio=403, board=403, member=204, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/organizations",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401),
    ),
    (
        "POST",
        "/api/v1/organizations",
        "organization",
        dict(admin=201, caio=403, board=403, member=403, other_team=403, anonymous=401),
    ),
    (
        "GET",
        "/api/v1/openapi.json",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200),
    ),
    (
        "GET",
        "/api/v1/docs",
        None,
        dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200),
    ),
    # --- HTML pages (session login; anonymous is sent to /login with a 302) ---
    ("GET", "/", None,  # a visitor gets the public inventory
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/healthz", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/static/{static_file}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/static/reports/{report_static_file}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    # Swagger UI's files for /api/v1/docs, from the swagger-ui-bundle package: public.
    ("GET", "/api/v1/docs/assets/{docs_asset}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/login", None,
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=200)),
    ("POST", "/login", {"email": "nobody@agency.gov", "password": "wrong-password"},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=422)),
    # The second sign-in step: only for someone half-way through a password sign-in; anyone
    # else (signed in or not) is sent back to /login.
    ("GET", "/login/code", None,
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("POST", "/login/code", {"code": "123456"},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("GET", "/login/set-up-app", None,
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("POST", "/login/set-up-app", {"code": "123456"},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("POST", "/login/cancel", {},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    # Each signed-in person's own account security (the matrix's app requires no second
    # factor, and its users have just typed their password, so no re-entry is asked).
    ("GET", "/account/security", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/account/security/app", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/account/security/app", {"code": ""},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=302)),
    # Not set up: nothing to confirm, so back to the account's security page.
    ("GET", "/account/security/recovery-codes", None,
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("GET", "/account/security/turn-off", None,
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("POST", "/account/security/recovery-codes", {},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("POST", "/account/security/turn-off", {},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("GET", "/account/confirm-password", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/account/confirm-password", {"password": "wrong-password"},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=302)),
    # API tokens from the account pages: everyone signed in manages their own; an empty form
    # is refused naming its fields (the matrix's users signed in just now, so no re-entry);
    # the spare token is the member's, and anyone else's revoke is as if it did not exist.
    ("GET", "/account/tokens", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/account/tokens", {},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=302)),
    ("GET", "/account/tokens/{token}/revoke", None,
     dict(admin=404, caio=404, board=404, member=200, other_team=404, anonymous=302)),
    ("POST", "/account/tokens/{token}/revoke", {},
     dict(admin=404, caio=404, board=404, member=303, other_team=404, anonymous=302)),
    # SCIM takes only its own bearer token: API tokens and sessions get 401.
    ("GET", "/scim/v2/Users", None,
     dict(admin=401, caio=401, board=401, member=401, other_team=401, anonymous=401)),
    ("POST", "/scim/v2/Users", {},
     dict(admin=401, caio=401, board=401, member=401, other_team=401, anonymous=401)),
    ("GET", "/scim/v2/Users/{user}", None,
     dict(admin=401, caio=401, board=401, member=401, other_team=401, anonymous=401)),
    ("PATCH", "/scim/v2/Users/{user}", {},
     dict(admin=401, caio=401, board=401, member=401, other_team=401, anonymous=401)),
    ("DELETE", "/scim/v2/Users/{user}", None,
     dict(admin=401, caio=401, board=401, member=401, other_team=401, anonymous=401)),
    # Single sign-on is not configured in the matrix's app: both answer 404.
    ("GET", "/login/oidc", None,
     dict(admin=404, caio=404, board=404, member=404, other_team=404, anonymous=404)),
    ("GET", "/login/oidc/callback", None,
     dict(admin=404, caio=404, board=404, member=404, other_team=404, anonymous=404)),
    ("POST", "/logout", {},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("GET", "/inventory", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/dashboard", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/pilots", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/pilots/new", None,
     dict(admin=200, caio=200, board=403, member=200, other_team=200, anonymous=302)),
    ("POST", "/pilots/new", {},
     dict(admin=422, caio=422, board=403, member=422, other_team=422, anonymous=302)),
    ("GET", "/pilots/{pilot}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/pilots/{pilot}/edit", None,
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/edit", {},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/delete", None,
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/delete", {},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/questionnaire", None,
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/questionnaire", {},  # nothing answered on step 1: 422
     dict(admin=422, caio=403, board=403, member=422, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/risk-tier-override", {},
     dict(admin=403, caio=422, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/assessments/{assessment}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/bias-checks/new", None,
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/bias-checks/new", {},
     dict(admin=422, caio=403, board=403, member=422, other_team=403, anonymous=302)),
    ("POST", "/bias-checks/columns", {},
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/bias-checks/{bias_check}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=302)),
    ("POST", "/bias-checks/{bias_check}/rerun", {},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/evidence", {},
     dict(admin=422, caio=403, board=403, member=422, other_team=403, anonymous=302)),
    ("GET", "/evidence/{evidence}/download", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/submit", {},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/decide", None,
     dict(admin=403, caio=302, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/decide",
     {"decision": "reject", "rationale": "The model is not ready for this population."},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/require-resubmission",
     {"reason": "The annual review date has passed."},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/comments", {"body": "Looks reasonable."},
     dict(admin=302, caio=302, board=302, member=302, other_team=403, anonymous=302)),
    ("POST", "/conditions/{condition}/met", {"note": "Notice published."},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("POST", "/conditions/{condition}/verification", {"accepted": "yes"},
     dict(admin=403, caio=409, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/report", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/pilots/{pilot}/report.pdf", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/review-queue", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/inbox", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/inbox/read", {},
     dict(admin=302, caio=302, board=302, member=302, other_team=302, anonymous=302)),
    ("GET", "/reports/board-packet", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/reports/board-packet.pdf", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/reports/board-packet.csv", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/data-sources", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/data-sources/new", None,
     dict(admin=200, caio=200, board=403, member=200, other_team=200, anonymous=302)),
    ("POST", "/data-sources/new", {},
     dict(admin=422, caio=422, board=403, member=422, other_team=422, anonymous=302)),
    ("GET", "/data-sources/{source}/edit", None,
     dict(admin=200, caio=200, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/data-sources/{source}/edit", {},
     dict(admin=302, caio=302, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/admin/policies", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/admin/policies/new", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/admin/policies/new", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/admin/policies/{policy}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/admin/policies/{policy}/publish", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/admin/policies/{policy}/publish", {},
     dict(admin=302, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/admin/inventory/import", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/admin/inventory/import", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users/new", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/users/new", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users/{user}/edit", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/users/{user}/edit", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users/invite", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/users/invite", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    # `member` has a password already: there is nothing to invite them to.
    ("POST", "/users/{user}/invite", {},
     dict(admin=409, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    # The invitation link is the credential: anyone holding it may open it; an empty form is
    # refused naming the password, and the link stays unspent.
    ("GET", "/invitations/{invitation}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("POST", "/invitations/{invitation}", {},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=422)),
    ("GET", "/account/password", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/account/password", {},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=302)),
    # --- organisations and role assignments (#15) ---
    ("GET", "/admin/organizations", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/admin/organizations/new", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/admin/organizations/new", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/admin/organizations/{organization}/edit", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/admin/organizations/{organization}/edit", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users/{user}/roles", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("POST", "/users/{user}/roles", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/users/{user}/roles/{assignment}/remove", None,
     dict(admin=200, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    # The member's only role: an administrator is told it stays (422), others may not ask.
    ("POST", "/users/{user}/roles/{assignment}/remove", {},
     dict(admin=422, caio=403, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/agencies/{organization_code}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    # --- public trust (#18) ---
    ("POST", "/api/v1/public/concerns", "concern",
     dict(admin=201, caio=201, board=201, member=201, other_team=201, anonymous=201)),
    ("GET", "/api/v1/public/concerns/{reference}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/api/v1/concerns", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/concerns/{concern}", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=401)),
    ("POST", "/api/v1/concerns/{concern}/triage", {"action": "respond", "response": "We are looking into it."},
     dict(admin=200, caio=200, board=403, member=403, other_team=403, anonymous=401)),
    ("GET", "/api/v1/incidents", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/incidents", "incident",
     dict(admin=201, caio=201, board=403, member=201, other_team=403, anonymous=401)),
    ("GET", "/api/v1/incidents/{incident}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("PATCH", "/api/v1/incidents/{incident}", {"status": "mitigating"},
     dict(admin=200, caio=200, board=403, member=200, other_team=403, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/risks", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/risks", {"likelihood": 2, "severity": 3},
     dict(admin=201, caio=201, board=403, member=201, other_team=403, anonymous=401)),
    ("GET", "/api/v1/risks/{risk}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("PATCH", "/api/v1/risks/{risk}", {"likelihood": 3},
     dict(admin=200, caio=200, board=403, member=200, other_team=403, anonymous=401)),
    ("GET", "/api/v1/pilots/{pilot}/publication", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=401)),
    ("POST", "/api/v1/pilots/{pilot}/publication", {"action": "ready"},
     dict(admin=200, caio=403, board=403, member=200, other_team=403, anonymous=401)),
    ("GET", "/api/v1/inventory/history.csv", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/api/v1/inventory/diff.csv", None,
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=422)),
    ("GET", "/api/v1/inventory/diff.json", None,
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=422)),
    ("GET", "/api/v1/inventory/waivers.json", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/inventory/{use_case}/concern", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("POST", "/inventory/{use_case}/concern", {},
     dict(admin=422, caio=422, board=422, member=422, other_team=422, anonymous=422)),
    ("GET", "/public/concerns/{reference}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/concerns", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("GET", "/concerns/{concern}", None,
     dict(admin=200, caio=200, board=200, member=403, other_team=403, anonymous=302)),
    ("POST", "/concerns/{concern}/triage", {"action": "respond", "response": "We are looking into it."},
     dict(admin=302, caio=302, board=403, member=403, other_team=403, anonymous=302)),
    ("GET", "/incidents", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("GET", "/pilots/{pilot}/incidents/new", None,
     dict(admin=200, caio=200, board=403, member=200, other_team=403, anonymous=302)),
    ("POST", "/pilots/{pilot}/incidents/new", {},
     dict(admin=422, caio=422, board=403, member=422, other_team=403, anonymous=302)),
    ("GET", "/incidents/{incident}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/incidents/{incident}", {},
     dict(admin=302, caio=302, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/risks", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/pilots/{pilot}/risks", {},
     dict(admin=422, caio=422, board=403, member=422, other_team=403, anonymous=302)),
    ("GET", "/pilots/{pilot}/publication", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=302)),
    ("POST", "/pilots/{pilot}/publication", {"action": "ready"},
     dict(admin=302, caio=403, board=403, member=302, other_team=403, anonymous=302)),
    ("GET", "/inventory/history", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
    ("GET", "/inventory/{use_case}", None,
     dict(admin=200, caio=200, board=200, member=200, other_team=200, anonymous=200)),
]

CASES = [
    pytest.param(method, path, body, role, expected[role], id=f"{method} {path} as {role}")
    for method, path, body, expected in MATRIX
    for role in ROLES
]


def policy_body(version: str) -> str:
    from policies import library_yaml

    return library_yaml().replace("version: 1.0.0", f"version: {version}", 1)


# The cases share one app, and the records each starts from are built once and put back
# before every case (tests/saved_states.py): building them for each of the 1,400 cases was most
# of the suite's time, on PostgreSQL above all.
STATE_FIXTURES = {"world", "withheld_world", "org_world"}


@pytest.fixture
def app(saved_states, request):
    if not STATE_FIXTURES & set(request.fixturenames):
        saved_states.reset()
    return saved_states.app


def person(user):
    """What the cases need of a user once the session that made it is gone."""
    from types import SimpleNamespace

    return SimpleNamespace(id=user.id, email=user.email)


@pytest.fixture
def world(factory, saved_states):
    return saved_states.state("world", lambda: _build_world(factory))


def _build_world(factory):
    from assessments import service as assessments
    from policies import store
    from registry.auth import service as auth_service
    from tests.factories import complete_answers

    users = {role: factory.user(role) for role in ("admin", "caio", "board")}
    users["member"] = factory.user("team")
    users["other_team"] = factory.user("team")
    pilot = factory.pilot(users["member"])
    source = factory.data_source(users["member"])
    _, questionnaire = assessments.questionnaire()
    answers = complete_answers(questionnaire)
    assessment = assessments.assess(pilot, answers, users["member"])
    draft = store.create_draft(policy_body("9.0.0"), users["admin"])
    evidence = factory.evidence(pilot, users["member"])
    bias_check = factory.bias_check(pilot, users["member"])
    condition = factory.condition(pilot)
    from assessments import concerns, incidents, risks

    published = factory.public_pilot(users["member"], name="Published for the matrix")
    concern = concerns.submit({"use_case_id": published.use_case_id, "description": "Wrong."})
    incident = incidents.open_incident({"pilot_id": pilot.id, "severity": "low"}, users["member"])
    risk = risks.add_risk(pilot, {"likelihood": 2, "severity": 2}, users["member"])
    from registry.auth import organizations

    bureau = organizations.create_organization(
        {"name": "Bureau of the Matrix", "code": "MATRIX", "parent_id": organizations.root().id},
        actor=None,
    )
    tokens = {role: factory.token(user) for role, user in users.items()}
    spare_token, _ = auth_service.create_token(users["member"], "spare", actor=None)
    from registry.auth import invitations

    invitation = invitations.invite(
        {"email": "invited@agency.gov", "name": "Invited Person", "role": "team"},
        users["admin"],
        link_for=str,
    ).link
    return {
        "users": {role: person(user) for role, user in users.items()},
        "pilot": pilot.id,
        "source": source.id,
        "tokens": tokens,
        "assessment": assessment.id,
        "policy": draft.id,
        "evidence": evidence.id,
        "answers": answers,
        "bias_check": bias_check.id,
        "condition": condition.id,
        "token": spare_token.id,
        "user": users["member"].id,
        "assignment": users["member"].assignments[0].id,
        "organization": bureau.id,
        "organization_code": bureau.code,
        "revision": 1,
        "use_case": published.use_case_id,
        "reference": concern.reference,
        "concern": concern.id,
        "incident": incident.id,
        "risk": risk.id,
        "invitation": invitation,
    }


PLACEHOLDERS = (
    "pilot", "source", "assessment", "policy", "evidence", "bias_check", "condition", "token",
    "user", "revision", "use_case", "reference", "concern", "incident", "risk", "invitation",
    "assignment", "organization", "organization_code",
)
STATIC = {
    "static_file": "css/app.css",
    "report_static_file": "print.css",
    "docs_asset": "swagger-ui.css",
}


def _api_request(client, world, method, url, body, role):
    data = None
    headers = {}
    if role != "anonymous":
        headers["Authorization"] = f"Bearer {world['tokens'][role]}"
        if method == "PATCH":
            etag = client.get(url, headers=headers).headers.get("ETag")
            headers["If-Match"] = etag
    if body == "new_pilot":
        body = {
            "name": "Another pilot",
            "purpose": "Testing permissions.",
            "agency": "MCG",
            "owner_email": world["users"]["member"].email,
            "stage": "pre_deployment",
        }
    if body == "organization":
        from registry.auth import organizations

        body = {"name": "Bureau of Tests", "code": "BOT", "parent_id": organizations.root().id}
    if body == "concern":
        body = {"use_case_id": world["use_case"], "description": "The entry is wrong."}
    elif body == "incident":
        body = {"pilot_id": world["pilot"], "severity": "low"}
    if body == "answers":
        body = {"answers": world["answers"]}
    elif body == "policy":
        body = {"body": policy_body("9.1.0")}
    elif body == "bias_check":
        body, data = (
            None,
            {
                "y_true": "y",
                "y_pred": "p",
                "sensitive_features": "g",
                "file": (io.BytesIO(SMALL_CSV), "o.csv"),
            },
        )
    elif body == "evidence":
        body, data = (
            None,
            {"kind": "pia", "file": (io.BytesIO(b"Privacy impact assessment\n"), "pia.txt")},
        )
    if data is not None:
        return client.open(url, method=method, data=data, headers=headers)
    return client.open(url, method=method, json=body, headers=headers)


def _html_request(client, world, login, method, url, body, role):
    if role != "anonymous":
        login(user=world["users"][role])
    return client.open(url, method=method, data=body if method != "GET" else None)


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_permission_matrix(client, world, login, method, path, body, role, expected):
    url = path.format(**{k: world[k] for k in PLACEHOLDERS}, **STATIC)
    api = path.startswith("/api/")
    if api:
        response = _api_request(client, world, method, url, body, role)
    else:
        response = _html_request(client, world, login, method, url, body, role)
    response.close()
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if api and not path.endswith(("/docs", "/download", ".csv", ".pdf", "{docs_asset}")):
        assert response.status_code == 204 or response.is_json
    if not api and role == "anonymous" and expected == 302 and path != "/logout":
        # Anonymous visitors are sent to the login page, which brings them back afterwards.
        assert response.headers["Location"].startswith("/login")


def test_matrix_covers_every_route(app):
    """Every route and method the app serves is in MATRIX: a new route fails this test until
    someone decides, role by role, what it should answer."""

    def shape(path):
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    covered = {(method, shape(path)) for method, path, _, _ in MATRIX}
    missing = []
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, shape(rule.rule)) not in covered:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes missing from the permission matrix: {missing}"
    assert {role for *_, expected in MATRIX for role in expected} == set(ROLES)
    assert all(set(expected) == set(ROLES) for *_, expected in MATRIX)


def test_bad_expired_and_revoked_tokens_get_401(client, factory):
    from datetime import UTC, datetime, timedelta

    from registry.auth.models import ApiToken

    user = factory.user("team")
    assert client.get("/api/v1/pilots", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/pilots", headers={"Authorization": "Basic abc"}).status_code == 401
    token = factory.token(user)
    row = db.session.query(ApiToken).one()
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    assert (
        client.get("/api/v1/pilots", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    row.expires_at = None
    row.revoked_at = datetime.now(UTC)
    db.session.commit()
    response = client.get("/api/v1/pilots", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]


def test_session_cookie_does_not_authenticate_the_api(client, login):
    login("admin")
    assert client.get("/api/v1/pilots").status_code == 401


def test_tokens_are_stored_only_as_hashes(factory):
    from registry.auth.models import ApiToken

    user = factory.user("team")
    clear = factory.token(user)
    stored = db.session.query(ApiToken).one()
    assert clear not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64

# ---- need-to-know: a withheld pilot ----------------------------------------------------------
# Its team (owner and members), CAIOs, the board and administrators read it and everything of
# it; any other team user gets 404, as if it did not exist (and 403 for restricted records of
# pilots that are not withheld, above). {w_*} belong to a pilot of `member` withheld as a whole.
READ_WITHHELD = dict(admin=200, caio=200, board=200, member=200, other_team=404)
WITHHELD_MATRIX = [
    ("GET", "/api/v1/pilots/{w_pilot}"),
    ("GET", "/api/v1/pilots/{w_pilot}/report.pdf"),
    ("GET", "/api/v1/pilots/{w_pilot}/record.json"),
    ("GET", "/api/v1/pilots/{w_pilot}/model-card.json"),
    ("GET", "/api/v1/pilots/{w_pilot}/decisions"),
    ("GET", "/api/v1/pilots/{w_pilot}/conditions"),
    ("GET", "/api/v1/pilots/{w_pilot}/revisions"),
    ("GET", "/api/v1/pilots/{w_pilot}/compliance"),
    ("GET", "/api/v1/pilots/{w_pilot}/evidence"),
    ("GET", "/api/v1/pilots/{w_pilot}/bias-checks"),
    ("GET", "/api/v1/pilots/{w_pilot}/impact-assessments"),
    ("GET", "/api/v1/pilots/{w_pilot}/risks"),
    ("GET", "/api/v1/pilots/{w_pilot}/publication"),
    ("GET", "/api/v1/bias-checks/{w_bias_check}"),
    ("GET", "/api/v1/evidence/{w_evidence}/download"),
    ("GET", "/api/v1/impact-assessments/{w_assessment}"),
    ("GET", "/api/v1/incidents/{w_incident}"),
    ("GET", "/api/v1/risks/{w_risk}"),
    ("GET", "/pilots/{w_pilot}"),
    ("GET", "/pilots/{w_pilot}/report"),
    ("GET", "/pilots/{w_pilot}/report.pdf"),
    ("GET", "/pilots/{w_pilot}/risks"),
    ("GET", "/pilots/{w_pilot}/publication"),
    ("GET", "/bias-checks/{w_bias_check}"),
    ("GET", "/evidence/{w_evidence}/download"),
    ("GET", "/assessments/{w_assessment}"),
    ("GET", "/incidents/{w_incident}"),
]
WITHHELD_CASES = [
    pytest.param(method, path, role, expected, id=f"{method} {path} as {role}")
    for method, path in WITHHELD_MATRIX
    for role, expected in READ_WITHHELD.items()
]


@pytest.fixture
def withheld_world(world, factory, saved_states):
    return saved_states.state(
        "withheld_world", lambda: _build_withheld_world(world, factory), on="world"
    )


def _build_withheld_world(world, factory):
    from assessments import incidents, risks
    from assessments import service as assessments
    from registry.auth.models import User

    member = db.session.get(User, world["users"]["member"].id)
    pilot = factory.pilot(member, is_withheld="Yes - Disclosure Risk")
    return {
        **world,
        "w_pilot": pilot.id,
        "w_bias_check": factory.bias_check(pilot, member).id,
        "w_evidence": factory.evidence(pilot, member).id,
        "w_assessment": assessments.assess(pilot, world["answers"], member).id,
        "w_incident": incidents.open_incident({"pilot_id": pilot.id, "severity": "low"}, member).id,
        "w_risk": risks.add_risk(pilot, {"likelihood": 2, "severity": 2}, member).id,
    }


@pytest.mark.parametrize(("method", "path", "role", "expected"), WITHHELD_CASES)
def test_withheld_pilots_are_need_to_know(
    client, withheld_world, login, method, path, role, expected
):
    world = withheld_world
    url = path.format(**{k: v for k, v in world.items() if k.startswith("w_")})
    if path.startswith("/api/"):
        response = _api_request(client, world, method, url, None, role)
    else:
        response = _html_request(client, world, login, method, url, None, role)
    response.close()
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected == 404 and path.startswith("/api/"):
        assert set(response.get_json()) >= {"code", "status", "message"}


@pytest.mark.parametrize("role", ["admin", "caio", "board", "member", "other_team"])
def test_pilot_lists_show_withheld_pilots_only_to_who_needs_to_know(
    client, withheld_world, login, role
):
    world = withheld_world
    headers = {"Authorization": f"Bearer {world['tokens'][role]}"}
    listed = {p["id"] for p in client.get("/api/v1/pilots", headers=headers).get_json()}
    assert world["pilot"] in listed
    assert (world["w_pilot"] in listed) is (role != "other_team")
    incidents = {i["id"] for i in client.get("/api/v1/incidents", headers=headers).get_json()}
    assert world["incident"] in incidents
    assert (world["w_incident"] in incidents) is (role != "other_team")
    login(user=world["users"][role])
    page = client.get("/pilots").get_data(as_text=True)
    assert (f'/pilots/{world["w_pilot"]}"' in page) is (role != "other_team")
    page = client.get("/incidents").get_data(as_text=True)
    assert (f'/incidents/{world["w_incident"]}"' in page) is (role != "other_team")


@pytest.mark.parametrize("role", ["member", "other_team"])
def test_the_pilot_page_links_restricted_records_only_for_who_needs_to_know(
    client, world, login, role
):
    login(user=world["users"][role])
    page = client.get(f"/pilots/{world['pilot']}").get_data(as_text=True)
    links = (
        f"/evidence/{world['evidence']}/download",
        f"/bias-checks/{world['bias_check']}\"",
        f"/assessments/{world['assessment']}\"",
    )
    for link in links:
        assert (link in page) is (role == "member"), link


# ---- across organisations: an administrator acts only within their subtree (#15) ------------
# Root R; bureaus A and B; office A1 under A, with a project-team member. Who acts: the root's
# administrator, A's and B's administrators, and A's CAIO (no administrator at all).
ORG_ACTORS = ("root_admin", "a_admin", "b_admin", "a_caio")
ORG_MATRIX = [
    ("GET", "/admin/organizations", None,
     dict(root_admin=200, a_admin=200, b_admin=200, a_caio=403)),
    ("GET", "/admin/organizations/{a1}/edit", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
    ("POST", "/admin/organizations/{a1}/edit", {"name": "Renamed office", "parent_id": "{a}"},
     dict(root_admin=302, a_admin=302, b_admin=403, a_caio=403)),
    # Moving A1 into B needs B too: A's administrator may not.
    ("POST", "/admin/organizations/{a1}/edit", {"name": "Office", "parent_id": "{b}"},
     dict(root_admin=302, a_admin=403, b_admin=403, a_caio=403)),
    ("GET", "/admin/organizations/{a}/edit", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
    ("GET", "/admin/organizations/{root}/edit", None,
     dict(root_admin=200, a_admin=403, b_admin=403, a_caio=403)),
    ("GET", "/admin/organizations/new?parent={a}", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
    ("POST", "/admin/organizations/new", {"name": "New office", "code": "NEW", "parent_id": "{a}"},
     dict(root_admin=302, a_admin=302, b_admin=403, a_caio=403)),
    ("POST", "/admin/organizations/new", {"name": "New office", "code": "NEW", "parent_id": "{b}"},
     dict(root_admin=302, a_admin=403, b_admin=302, a_caio=403)),
    ("GET", "/users/{member}/roles", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
    ("POST", "/users/{member}/roles", {"role": "board", "organization_id": "{a1}"},
     dict(root_admin=302, a_admin=302, b_admin=403, a_caio=403)),
    # A role over B for A's member: only who administers both.
    ("POST", "/users/{member}/roles", {"role": "board", "organization_id": "{b}"},
     dict(root_admin=302, a_admin=403, b_admin=403, a_caio=403)),
    ("GET", "/users/{member}/roles/{member_role}/remove", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
    ("POST", "/users/{member}/roles/{second_role}/remove", {},
     dict(root_admin=302, a_admin=302, b_admin=403, a_caio=403)),
    ("GET", "/users/{member}/edit", None,
     dict(root_admin=200, a_admin=200, b_admin=403, a_caio=403)),
]
ORG_CASES = [
    pytest.param(method, path, body, actor, expected[actor], id=f"{method} {path} {body} as {actor}")
    for method, path, body, expected in ORG_MATRIX
    for actor in ORG_ACTORS
]


@pytest.fixture
def org_world(factory, saved_states):
    return saved_states.state("org_world", lambda: _build_org_world(factory))


def _build_org_world(factory):
    from registry.auth import organizations
    from registry.auth import service as auth_service
    from registry.auth.models import RoleAssignment

    root = organizations.root()

    def org(code, parent):
        return organizations.create_organization(
            {"name": f"Office {code}", "code": code, "parent_id": parent}, actor=None
        ).id

    a = org("BUR-A", root.id)
    b = org("BUR-B", root.id)
    a1 = org("BUR-A-1", a)

    def someone(role, code, n):
        return auth_service.create_user(
            {"email": f"{role}.{n}@agency.gov", "name": f"{role} {n}", "role": role,
             "password": factory.PASSWORD, "organization": code},
            actor=None,
        )

    member = someone("team", "BUR-A-1", "member")
    # A second role of the member, in A1, that an administrator of A may remove.
    second = RoleAssignment(role="caio", organization_id=a1)
    member.assignments.append(second)
    db.session.commit()
    return {
        "root": root.id, "a": a, "b": b, "a1": a1,
        "member": member.id, "member_role": member.assignments[0].id, "second_role": second.id,
        "actors": {
            "root_admin": person(someone("admin", root.code, "root")),
            "a_admin": person(someone("admin", "BUR-A", "a")),
            "b_admin": person(someone("admin", "BUR-B", "b")),
            "a_caio": person(someone("caio", "BUR-A", "a")),
        },
    }


@pytest.mark.parametrize(("method", "path", "body", "actor", "expected"), ORG_CASES)
def test_organisation_administration_stays_within_the_subtree(
    client, org_world, login, method, path, body, actor, expected
):
    ids = {k: v for k, v in org_world.items() if k != "actors"}
    url = path.format(**ids)
    data = {k: v.format(**ids) for k, v in (body or {}).items()}
    login(user=org_world["actors"][actor])
    response = client.open(url, method=method, data=data if method == "POST" else None)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]


def test_each_case_starts_from_the_saved_records_whatever_the_last_one_did(
    saved_states, world, factory
):
    """What the sharing above rests on: putting a state back undoes rows, ids and files."""
    from registry.auth.models import User

    uploads = saved_states.uploads
    files = sorted(p.relative_to(uploads) for p in uploads.rglob("*"))
    users = db.session.query(User).count()
    assert files and users >= len(world["users"])
    extra = factory.user("team")
    (uploads / "stray.txt").write_text("left behind")
    db.session.commit()
    assert extra.id > max(u.id for u in world["users"].values())
    db.session.remove()

    saved_states.restore("world")
    assert db.session.query(User).count() == users
    assert sorted(p.relative_to(uploads) for p in uploads.rglob("*")) == files
    # The next user takes the id the discarded one had: sequences went back too.
    assert factory.user("team").id == extra.id
