"""What the browser tests share: test data on the live server, and a tab that checks pages.

`Tab` wraps a Playwright page. Every page it lands on must be checked with `tab.check()`
(axe-core plus the registry's own rules); at the end of a test, `problems()` lists pages that
were visited but never checked and any 5xx response the server gave.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

from tests.factories import Factory

AXE = Axe()

# How wide the page is against the window, and the element that reaches furthest right (to
# say what to fix when a page scrolls sideways).
SCROLL_WIDTH_JS = """
() => {
  let widest = null, right = 0;
  document.querySelectorAll('body *').forEach((el) => {
    const r = el.getBoundingClientRect().right;
    if (r > right + 0.5) { right = r; widest = el; }
  });
  const name = widest
    ? widest.tagName.toLowerCase() + (widest.id ? '#' + widest.id : '')
      + (widest.className && typeof widest.className === 'string'
         ? '.' + widest.className.trim().split(/\\s+/).join('.') : '')
    : null;
  return {
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth, widest: name,
  };
}
"""

# The registry's own rules, checked in the page: badges carry words, not only colour or a
# symbol; every field error is tied to its field; every invalid field says why.
PAGE_RULES_JS = """
() => {
  const problems = [];
  const text = (el) => {
    const clone = el.cloneNode(true);
    clone.querySelectorAll('[aria-hidden="true"]').forEach((n) => n.remove());
    return clone.textContent.replace(/\\s+/g, ' ').trim();
  };
  document.querySelectorAll('.badge').forEach((b) => {
    if (!/[A-Za-z]{2,}/.test(text(b))) problems.push(`badge without words: ${b.outerHTML}`);
  });
  const described = new Set();
  document.querySelectorAll('[aria-describedby]').forEach((el) => {
    el.getAttribute('aria-describedby').split(/\\s+/).forEach((id) => {
      if (!id) return;
      described.add(id);
      if (!document.getElementById(id)) {
        problems.push(`aria-describedby points at missing #${id}: ${el.outerHTML.slice(0, 200)}`);
      }
    });
  });
  document.querySelectorAll('.field-errors[id]').forEach((e) => {
    if (!described.has(e.id)) problems.push(`error #${e.id} is not tied to its field`);
  });
  document.querySelectorAll('[aria-invalid="true"]').forEach((el) => {
    const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
    if (!ids.some((id) => document.getElementById(id)?.closest('.field-errors, .error-summary'))) {
      problems.push(`invalid field without its error in aria-describedby: ${el.outerHTML.slice(0, 200)}`);
    }
  });
  return problems;
}
"""


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str
    role: str
    password: str = Factory.PASSWORD


@dataclass(frozen=True)
class Ref:
    id: int
    name: str


class Server:
    """The live server's URL, and test data made through the services (not the browser)."""

    def __init__(self, app, url: str):
        self.app = app
        self.url = url

    def call(self, work: Callable[[Factory], Any]) -> Any:
        """Run `work(factory)` in an app context; return plain values, not ORM objects."""
        from registry.extensions import db

        with self.app.app_context():
            try:
                return work(Factory(self.app))
            finally:
                db.session.remove()

    @staticmethod
    def orm_user(account: Account):
        from registry.auth.models import User
        from registry.extensions import db

        return db.session.get(User, account.id)

    def user(self, role: str = "team") -> Account:
        tag = uuid.uuid4().hex[:8]

        def make(factory: Factory) -> Account:
            user = factory.user(
                role, email=f"{role}-{tag}@agency.gov", name=f"{role.title()} Tester {tag}"
            )
            return Account(user.id, user.email, user.name, user.role)

        return self.call(make)

    def data_source(self, owner: Account, **fields) -> Ref:
        fields.setdefault("name", unique("Data source"))

        def make(factory: Factory) -> Ref:
            source = factory.data_source(self.orm_user(owner), **fields)
            return Ref(source.id, source.name)

        return self.call(make)

    def pilot(self, owner: Account, *, submit: bool = False, **fields) -> Ref:
        """A pilot owned by `owner`, with a small bias check; submitted for review if asked."""
        fields.setdefault("name", unique("Pilot"))

        def make(factory: Factory) -> Ref:
            from assessments import workflow

            user = self.orm_user(owner)
            pilot = factory.pilot(user, **fields)
            if submit:
                factory.bias_check(pilot, user)
                workflow.submit(pilot, user, note="Ready for review.")
            return Ref(pilot.id, pilot.name)

        return self.call(make)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Tab:
    """A browser tab that remembers which pages it saw and which of them were checked."""

    def __init__(self, page, server: Server):
        self.page = page
        self.server = server
        self.visited: list[str] = []
        self.checked: set[str] = set()
        self.server_errors: list[str] = []
        page.on("framenavigated", self._navigated)
        page.on("response", self._response)

    def _navigated(self, frame) -> None:
        if frame == self.page.main_frame and frame.url.startswith(self.server.url):
            path = _path(frame.url)
            if path not in self.visited:
                self.visited.append(path)

    def _response(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} from {response.url}")

    def goto(self, path: str, *, status: int = 200, check: bool = True):
        response = self.page.goto(path)
        assert response is not None and response.status == status, (
            f"GET {path}: expected {status}, got {response and response.status}"
        )
        if check:
            self.check()
        return response

    def follow(self, locator, *, check: bool = True) -> None:
        """Click something that loads a page, wait until the new page has loaded, check it."""
        with self.page.expect_navigation():
            locator.click()
        if check:
            self.check()

    def check(self, *, allow: frozenset[str] = frozenset()) -> None:
        """axe-core (no violation of any impact), the registry's own page rules, and no
        sideways scrolling at the tab's width.

        `allow` names axe rules a page may break for a stated reason, never in general.
        """
        page = self.page
        page.wait_for_load_state("load")
        results = AXE.run(page).response
        failures = [v for v in results["violations"] if v["id"] not in allow]
        lines = []
        for violation in failures:
            targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
            lines.append(
                f"  {violation['id']} ({violation.get('impact')}): {violation['help']}\n"
                + "".join(f"      at {target}\n" for target in targets[:8])
                + (f"      … and {len(targets) - 8} more\n" if len(targets) > 8 else "")
            )
        lines.extend(f"  registry rule: {problem}\n" for problem in page.evaluate(PAGE_RULES_JS))
        widths = page.evaluate(SCROLL_WIDTH_JS)
        if widths["scroll"] > widths["inner"]:
            lines.append(
                f"  scrolls sideways: the page is {widths['scroll']} px wide in a "
                f"{widths['inner']} px window (widest: {widths['widest']})\n"
            )
        assert not lines, f"accessibility problems on {_path(page.url)}:\n" + "".join(lines)
        self.checked.add(_path(page.url))

    def problems(self) -> list[str]:
        found = [f"server error: {error}" for error in self.server_errors]
        found += [
            f"page visited but never checked for accessibility: {path}"
            for path in self.visited
            if path not in self.checked
        ]
        return found

    # Common steps -----------------------------------------------------------------------

    def nav(self):
        """The main navigation, opened first where it collapses behind the menu button
        (narrow windows)."""
        page = self.page
        menu = page.locator(".usa-menu-btn")
        if menu.is_visible() and not page.locator(".usa-nav.is-visible").count():
            menu.click()
            page.locator(".usa-nav.is-visible").wait_for()
        return page.get_by_role("navigation", name="Main")

    def close_menu(self) -> None:
        """Close the main navigation if it is open over the page (narrow windows)."""
        if self.page.locator(".usa-nav.is-visible").count():
            self.page.get_by_role("button", name="Close").click()
            self.page.locator(".usa-nav.is-visible").wait_for(state="detached")

    def login(self, account: Account) -> None:
        self.goto("/login")
        self.page.get_by_label("Email address").fill(account.email)
        self.page.get_by_label("Password").fill(account.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.expect_flash(f"Signed in as {account.name}")

    def expect_flash(self, text: str, *, check: bool = True) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator(".flashes")).to_contain_text(text)
        if check:
            self.check()

    def heading(self) -> str:
        return self.page.locator("h1").inner_text()

    def pilot_id(self) -> int:
        match = re.search(r"/pilots/(\d+)", self.page.url)
        assert match, f"not on a pilot page: {self.page.url}"
        return int(match.group(1))
