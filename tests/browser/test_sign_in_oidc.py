"""Single sign-on in Chromium, through the real oidc-provider's login page."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import QuietHandler
from tests.conftest import upgrade
from tests.oidc.conftest import free_port, oidc_config, start_provider, stop

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_server(database_template, tmp_path):
    """The app with OIDC on a real HTTP server, and a provider that knows its callback."""
    from registry import create_app
    from registry.extensions import db

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = start_provider(tmp_path, "real", [f"{base}/login/oidc/callback"])
    path = tmp_path / "registry.sqlite3"
    if database_template["engine"] == "sqlite":
        shutil.copy(database_template["path"], path)
    else:
        upgrade(f"sqlite:///{path}", tmp_path)
    app = create_app(
        {
            **oidc_config(provider.issuer, OIDC_PROVIDER_NAME="the test provider"),
            "WTF_CSRF_ENABLED": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    httpd = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield base, provider, app
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        stop(provider)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_sign_in_with_the_provider_in_chromium_then_a_role_change_applies_next_time(
    chromium, sso_server
):
    base, provider, app = sso_server
    provider.set_accounts(
        {"grace": {"email": "grace@agency.gov", "name": "Grace Hopper",
                   "groups": ["registry-teams"]}}
    )
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.click("#sign-in-oidc")
        page.wait_for_url(f"{provider.issuer}/interaction/**")
        page.fill("#login", "grace")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert "Grace Hopper" in page.content()
        assert page.goto(f"{base}/dashboard").status == 403

        provider.set_accounts(
            {"grace": {"email": "grace@agency.gov", "name": "Grace Hopper",
                       "groups": ["registry-board"]}}
        )
        # The next sign-in, from a fresh browser: the new group gives the board's dashboard.
        page = chromium.new_context().new_page()
        page.goto(f"{base}/login")
        page.click("#sign-in-oidc")
        page.fill("#login", "grace")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.goto(f"{base}/dashboard").status == 200
        page.context.close()
    finally:
        context.close()


def test_a_user_in_no_mapped_group_sees_a_clear_refusal_in_chromium(chromium, sso_server):
    base, provider, app = sso_server
    provider.set_accounts(
        {"ivan": {"email": "ivan@agency.gov", "name": "Ivan", "groups": ["somebody-else"]}}
    )
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.click("#sign-in-oidc")
        page.fill("#login", "ivan")
        response_holder = {}
        page.on("response", lambda r: response_holder.setdefault(r.url.split("?")[0], r.status))
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/login/oidc/callback**")
        assert response_holder[f"{base}/login/oidc/callback"] == 403
        assert page.locator("h1").inner_text() == "You were not signed in"
        assert "not in any group that has a role here" in page.content()
    finally:
        context.close()
