"""The API documentation page works offline: Swagger UI comes from the app, under its CSP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_api_docs_render_every_operation_with_no_network_and_the_apps_csp(tab, live_server):
    page = tab.page
    outside: list[str] = []
    refused: list[str] = []

    def only_the_app(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # an offline network: nothing beyond the app answers
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_the_app)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    response = tab.goto("/api/v1/docs", check=False)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("AI Oversight Registry")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/pilots/{pilot_id}").first)
    assert operations.count() >= 50
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/bias-checks/{check_id}").first
    ).to_be_visible()
    assert outside == [], outside
    assert refused == [], refused
    # Swagger UI's own palette (method badges, grey text) is below AA contrast; the rest holds.
    tab.check(allow=frozenset({"color-contrast"}))
