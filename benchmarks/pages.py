"""Server time of the review pages on the demo data, and the CSS and JS each page loads.
Prints figures, asserts nothing.

    python benchmarks/pages.py [--repeat 30]

On a scratch SQLite database loaded by ``seed-demo``, through the Flask test client (server
time only, no network): the pilot page (as the CAIO and as its owner), the decide page, the
review queue and the CAIO's home, each fetched ``--repeat`` times after one warm-up; median and
p95 in milliseconds. Then, for each page, the stylesheets and scripts it links, gzip-compressed
(level 6, as a web server would send them), in KB. Goals: pilot page and queue <= 150 ms;
CSS + JS each <= 250 KB compressed.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from registry import create_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    app = create_app(
        {
            "SECRET_KEY": "bench",
            # Signed in with a password alone, as in the demo (`make run`): the second step
            # is not what is measured.
            "MFA_REQUIRED_ROLES": (),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "UPLOAD_FOLDER": str(workdir / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    output = app.test_cli_runner().invoke(args=["seed-demo"]).output
    logins = {
        line.split()[1]: line.split()[2:4]
        for line in output.splitlines()
        if line.startswith("login: ")
    }
    with app.app_context():
        from registry.catalog.models import Pilot
        from registry.extensions import db

        pretrial = db.session.query(Pilot).filter_by(use_case_id="MCG-004").one().id
        submitted = (
            db.session.query(Pilot)
            .filter_by(review_status="submitted")
            .order_by(Pilot.id)
            .first()
            .id
        )
    pages = [
        ("caio", f"/pilots/{pretrial}", "pilot page (CAIO)"),
        ("team", f"/pilots/{pretrial}", "pilot page (owner's team)"),
        ("caio", f"/pilots/{submitted}/decide", "decide page"),
        ("caio", "/review-queue", "review queue"),
        ("caio", "/", "CAIO home"),
        ("team", f"/pilots/{pretrial}/questionnaire", "questionnaire step 1"),
        (None, "/", "public front door"),
    ]
    clients = {}
    print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'CSS KB gz':>10} {'JS KB gz':>9}")
    for role, path, label in pages:
        if role not in clients:
            client = app.test_client()
            if role:
                email, password = logins[role]
                client.post("/login", data={"email": email, "password": password})
            clients[role] = client
        client = clients[role]
        html = client.get(path).get_data(as_text=True)  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        sizes = {}
        for kind, pattern in (
            ("css", r'<link rel="stylesheet" href="([^"]+)"'),
            ("js", r'<script src="([^"]+)"'),
        ):
            total = 0
            for url in re.findall(pattern, html):
                body = client.get(url).get_data()
                total += len(gzip.compress(body, compresslevel=6))
            sizes[kind] = total / 1024
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(
            f"{label:32} {statistics.median(times):10.1f} {p95:8.1f} "
            f"{sizes['css']:10.1f} {sizes['js']:9.1f}"
        )


if __name__ == "__main__":
    main()
