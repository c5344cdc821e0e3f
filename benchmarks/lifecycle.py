"""Review queue and public inventory: server time and query counts. Prints, asserts nothing.

    python benchmarks/lifecycle.py [--queue 500] [--repeat 15] [--app-root PATH]

On a scratch SQLite database it measures, through the Flask test client (so the figures are
server time, without a network):
- the review queue (`GET /api/v1/review-queue` and the HTML page `/review-queue`) with 50 and
  with N submitted pilots, and how many SQL statements one request runs: a fixed number means
  the cost does not grow with a query or more per pilot;
- `GET /api/v1/inventory.json` over the 3,611 use cases of the 2025 OMB inventory file, with
  its statement count.

`--app-root` runs the same measurements against another checkout (for example the code
before a change, from `git worktree add /tmp/before <commit>`), for before/after figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OMB = ROOT / "tests" / "data" / "omb_2025_ai_use_case_inventory.csv"


def make_app(workdir: Path):
    from flask_migrate import upgrade

    from registry import create_app

    app = create_app(
        {
            "SECRET_KEY": "bench",
            # Signed in with a password alone, as in the demo (`make run`): the second step
            # is not what is measured.
            "MFA_REQUIRED_ROLES": (),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "UPLOAD_FOLDER": str(workdir / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    return app


def users(app):
    from registry.auth import service as auth

    with app.app_context():
        made = {}
        for role in ("team", "caio", "admin"):
            email = f"{role}@bench.gov"
            made[role] = auth.find_user(email) or auth.create_user(
                {
                    "email": email,
                    "name": role.title(),
                    "role": role,
                    "password": "bench-password-1",
                },
                None,
            )
        token = auth.issue_token(made["caio"], "bench", actor=None)
        return {role: user.id for role, user in made.items()}, token


def submit_pilots(app, count: int, owner_id: int) -> None:
    """Register and submit pilots through the services, as teams do."""
    from assessments import workflow
    from registry.auth.models import User
    from registry.catalog import service as catalog
    from registry.extensions import db

    with app.app_context():
        owner = db.session.get(User, owner_id)
        for n in range(count):
            pilot = catalog.create_pilot(
                {
                    "name": f"Queue pilot {n}",
                    "purpose": "Routes resident requests to the right team.",
                    "agency": "MCG",
                    "owner_email": owner.email,
                    "stage": "pre_deployment",
                    "is_high_impact": "High-impact" if n % 3 == 0 else "Not High-impact",
                },
                owner,
            )
            workflow.submit(pilot, owner, note="Ready for review.")
        db.session.remove()


class QueryCounter:
    """Counts the SQL statements the app's engine runs."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args):
        self.count += 1


def measure(app, path: str, headers: dict, repeat: int, counter: QueryCounter) -> dict:
    client = app.test_client()
    client.get(path, headers=headers)  # warm: imports, caches, first statements compiled
    times = []
    statements = []
    for _ in range(repeat):
        before = counter.count
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(time.perf_counter() - started)
        statements.append(counter.count - before)
        assert response.status_code == 200, (path, response.status_code)
    return {
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "statements": statements[-1],
        "bytes": len(response.get_data()),
    }


def login(app, client, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": "bench-password-1"})
    assert response.status_code == 302, response.status_code


def html_time(app, path: str, email: str, repeat: int, counter: QueryCounter) -> dict:
    client = app.test_client()
    login(app, client, email)
    client.get(path)
    times, statements = [], []
    for _ in range(repeat):
        before = counter.count
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        statements.append(counter.count - before)
        assert response.status_code == 200, (path, response.status_code)
    return {"median_ms": statistics.median(times) * 1000, "statements": statements[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--app-root", type=Path, default=ROOT)
    args = parser.parse_args()
    sys.path.insert(0, str(args.app_root))
    import os

    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    print(f"code: {args.app_root}")
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        ids, token = users(app)
        headers = {"Authorization": f"Bearer {token}"}
        from registry.extensions import db

        with app.app_context():
            counter = QueryCounter(db.engine)
        print(f"\nReview queue (server time, median of {args.repeat}):")
        done = 0
        for size in (50, args.queue):
            submit_pilots(app, size - done, ids["team"])
            done = size
            api = measure(app, "/api/v1/review-queue", headers, args.repeat, counter)
            page = html_time(app, "/review-queue", "caio@bench.gov", args.repeat, counter)
            print(
                f"  {size:>4} submitted: API {api['median_ms']:7.1f} ms ({api['statements']} SQL "
                f"statements), page {page['median_ms']:7.1f} ms ({page['statements']} statements)"
            )

        from registry.auth.models import User
        from reports import inventory

        with app.app_context():
            admin = db.session.get(User, ids["admin"])
            started = time.perf_counter()
            result = inventory.import_inventory(
                inventory.decode(OMB.read_bytes()), admin, source="benchmark"
            )
            print(f"\nOMB import: {result.summary()} in {time.perf_counter() - started:.2f} s")
        figures = measure(app, "/api/v1/inventory.json", {}, max(3, args.repeat // 3), counter)
        print(
            f"GET /api/v1/inventory.json: {figures['median_ms']:.0f} ms median, "
            f"{figures['statements']} SQL statements, {figures['bytes'] / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
