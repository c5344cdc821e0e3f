"""Browser tests: Playwright (sync API) driving Debian's Chromium against a real server.

Each pytest process (each xdist worker) serves the app once, with werkzeug in a thread on a
free loopback port, against its own copy of the migrated SQLite template and with CSRF on.
Tests create their own users and pilots (unique names), so they never depend on each other.
Each test gets fresh browser contexts; on failure the screenshot and HTML of every open page
are kept under test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.browser.support import Server, Tab
from tests.conftest import BASE_CONFIG, IN_CI, upgrade

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TABS_KEY = pytest.StashKey[list]()


def browser_unavailable(reason: str):
    """Fail in CI (browser tests must run there), skip elsewhere; say why either way."""
    message = f"Chromium is not usable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: browser tests must run)")
    pytest.skip(message)


class QuietHandler(WSGIRequestHandler):
    """No access log line per request; errors are still logged."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="session")
def live_server(database_template, tmp_path_factory):
    """The app on a real HTTP server, once per pytest process, always on SQLite."""
    from registry import create_app
    from registry.extensions import db

    root = tmp_path_factory.mktemp("browser")
    path = root / "registry.sqlite3"
    if database_template["engine"] == "sqlite":
        shutil.copy(database_template["path"], path)
    else:  # REGISTRY_TEST_ENGINE=postgresql: browser tests still run on SQLite.
        upgrade(f"sqlite:///{path}", root)
    app = create_app(
        {
            **BASE_CONFIG,
            "WTF_CSRF_ENABLED": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "UPLOAD_FOLDER": str(root / "uploads"),
        }
    )
    with app.app_context():
        from policies.store import install_library

        install_library()  # the shipped policy, as `seed-demo` would
        db.session.remove()
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield Server(app, f"http://127.0.0.1:{httpd.server_port}")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class Chromium:
    """One Chromium per pytest process, started on demand and stopped after a run of browser
    tests: Playwright's sync API holds an asyncio loop open in this thread while it runs,
    which would break any later, non-browser test that uses asyncio."""

    def __init__(self):
        self.manager = None
        self.browser = None

    def get(self):
        if self.browser is None:
            if not os.path.exists(CHROMIUM):
                browser_unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
            from playwright.sync_api import Error, sync_playwright

            self.manager = sync_playwright().start()
            try:
                self.browser = self.manager.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
            except Error as error:
                self.stop()
                browser_unavailable(str(error).splitlines()[0])
        return self.browser

    def stop(self):
        if self.browser is not None:
            self.browser.close()
        if self.manager is not None:
            self.manager.stop()
        self.manager = self.browser = None


CHROMIUM_PROCESS = Chromium()


@pytest.fixture
def chromium():
    return CHROMIUM_PROCESS.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        if nextitem is None or not nextitem.get_closest_marker("browser"):
            CHROMIUM_PROCESS.stop()


@pytest.fixture
def width() -> int:
    """The viewport width of the tabs a test opens; a journey parametrises it with 375 (a
    phone) as well as 1280."""
    return 1280


@pytest.fixture
def open_tab(request, chromium, live_server, width):
    """Open a tab in a fresh browser context (its own cookies: one signed-in person each)."""
    tabs: list[Tab] = []
    request.node.stash[TABS_KEY] = tabs

    def open_() -> Tab:
        context = chromium.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": 900 if width >= 1024 else 800},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        tab = Tab(context.new_page(), live_server)
        tabs.append(tab)
        return tab

    yield open_
    problems = [problem for tab in tabs for problem in tab.problems()]
    if problems:
        _save_artifacts(request.node)
    for tab in tabs:
        tab.page.context.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def tab(open_tab) -> Tab:
    return open_tab()


def _save_artifacts(item) -> None:
    tabs = item.stash.get(TABS_KEY, [])
    if not tabs:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    for index, tab in enumerate(tabs):
        name = f"{stem}-{index}"
        try:
            tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(
                f"<!-- {tab.page.url} -->\n" + tab.page.content(), encoding="utf-8"
            )
        except Exception as error:  # a crashed or closed page must not hide the real failure
            (ARTIFACTS / f"{name}.txt").write_text(f"could not save the page: {error}\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Pages are still open here; problems found at teardown (server errors, pages that axe
    # did not check) are saved by `open_tab` itself before it closes the contexts.
    if report.failed and report.when in ("call", "setup"):
        _save_artifacts(item)
    return report
