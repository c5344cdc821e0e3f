"""Write PNG screenshots of the main pages, from the demo data, to docs/screenshots/.

Run through `make screenshots`: it migrates a scratch database, loads the demo data, serves the
app on a free loopback port and drives Debian's Chromium at desktop and mobile widths. Name
pages to take only those: `make screenshots PAGES="bias-check-triage bias-check-chatbot"`.
"""

from __future__ import annotations

import re
import socket
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGES = [
    # (file stem, role or demo email, path)
    ("pilot-list", "team", "/pilots"),
    ("pilot-detail", "caio", "/pilots/{pretrial}"),
    ("bias-check", "team", "/bias-checks/{check}"),
    # The other kinds of check, on the demo's synthetic data: a triage model's routing
    # (multiclass) and a virtual assistant's evaluated conversations (outcome rates).
    ("bias-check-triage", "caio", "/bias-checks/{triage_check}"),
    ("bias-check-chatbot", "caio", "/bias-checks/{chatbot_check}"),
    ("review-queue", "caio", "/review-queue"),
    ("decide", "caio", "/pilots/{submitted}/decide"),
    ("decide-refused", "caio", "/pilots/{submitted}/decide"),
    ("dashboard", "board", "/dashboard"),
    ("questionnaire", "team", "/pilots/{pretrial}/questionnaire"),
    ("inventory", None, "/"),
    ("home-caio", "caio", "/"),
    ("home-board", "board", "/"),
    ("home-team", "team", "/"),
    ("confirm-delete", "team", "/pilots/{draft}/delete"),
    # Single sign-on is configured (below), so the sign-in page offers the agency account.
    ("sign-in", None, "/login"),
    # A department's own board member: the dashboard of that department and its offices.
    ("dashboard-organisation", "board.hsd@demo.gov", "/dashboard"),
    ("organisations", "admin", "/admin/organizations"),
    ("agency", None, "/agencies/HSD"),
    # Setting up an authenticator app (the QR code is drawn here), and the API token page.
    ("mfa-enrolment", "team", "/account/security/app"),
    ("api-tokens", "team", "/account/tokens"),
]


def refuse_a_decision(page) -> None:
    """Approve with an unmet item left as it is: the refused form, filled in, with its summary."""
    page.get_by_role("radio", name="Approve", exact=True).check()
    page.get_by_label("Rationale").fill("Low exposure while the pilot runs.")
    page.locator("input[name=waive]").first.check()
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state("load")


ACTIONS = {"decide-refused": refuse_a_decision}
WIDTHS = {"desktop": (1280, 900), "mobile": (375, 800)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(only: list[str]) -> None:
    unknown = set(only) - {stem for stem, _, _ in PAGES}
    if unknown:
        raise SystemExit(
            f"unknown page(s): {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(stem for stem, _, _ in PAGES)}"
        )
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from registry import create_app

    workdir = Path(tempfile.mkdtemp(prefix="screenshots-"))
    app = create_app(
        {
            "SECRET_KEY": "screenshots",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'db.sqlite3'}",
            "UPLOAD_FOLDER": str(workdir / "uploads"),
            # Its own signing key and last-checkpoint copy: the scratch database's chain is not
            # the one a key folder shared with instance/ has signed (README, "One key folder
            # per database").
            "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
            # The provider is never reached: the sign-in page only offers it (discovery is
            # read when someone chooses it).
            "OIDC_ISSUER": "http://127.0.0.1:9/never-contacted",
            "OIDC_CLIENT_ID": "registry",
            "OIDC_CLIENT_SECRET": "unused",
            "OIDC_PROVIDER_NAME": "your agency account",
            # As `make run`: the demo asks nobody for a second factor; the enrolment page is
            # shown as someone setting one up from their account would see it.
            "MFA_REQUIRED_ROLES": (),
        }
    )
    with app.app_context():
        upgrade()
    output = app.test_cli_runner().invoke(args=["seed-demo"]).output
    logins: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("login: "):
            role, email, password = line.split()[1:4]
            # A role names its first demo account (the agency-wide one); an email names itself.
            logins.setdefault(role, [email, password])
            logins[email] = [email, password]
    with app.app_context():
        from assessments.models import BiasCheck
        from registry.catalog.models import Pilot
        from registry.extensions import db

        def check_of(use_case_id: str) -> int:
            pilot = db.session.query(Pilot).filter_by(use_case_id=use_case_id).one()
            return db.session.query(BiasCheck).filter_by(pilot_id=pilot.id).one().id

        ids = {
            "pretrial": db.session.query(Pilot).filter_by(use_case_id="MCG-004").one().id,
            "check": check_of("MCG-004"),
            "triage_check": check_of("MCG-002"),
            "chatbot_check": check_of("MCG-006"),
            "submitted": db.session.query(Pilot)
            .filter_by(review_status="submitted")
            .order_by(Pilot.id)
            .first()
            .id,
            "draft": db.session.query(Pilot)
            .filter_by(review_status="draft")
            .order_by(Pilot.id)
            .first()
            .id,
        }
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for stem, role, path in [page for page in PAGES if not only or page[0] in only]:
                for label, (width, height) in WIDTHS.items():
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    if role:
                        email, password = logins[role]
                        page.goto(f"{base}/login")
                        page.fill("#email", email)
                        page.fill("#password", password)
                        page.click("button[type=submit]")
                    page.goto(base + path.format(**ids))
                    if stem in ACTIONS:
                        ACTIONS[stem](page)
                    target = OUT / f"{stem}-{label}.png"
                    page.screenshot(path=str(target), full_page=label == "desktop")
                    print(f"wrote {target.relative_to(ROOT)}")
                    context.close()
            browser.close()
    finally:
        server.shutdown()
    assert re.match(r"http://127\.0\.0\.1:\d+", base)


if __name__ == "__main__":
    main(sys.argv[1:])
