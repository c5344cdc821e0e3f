"""Benchmark the sign-in lockout under concurrency: how many passwords get checked.

Usage::

    python benchmarks/login_race.py                                   # SQLite in a temp folder
    python benchmarks/login_race.py --database postgresql://postgres@127.0.0.1:5432/bench
    python benchmarks/login_race.py --redis redis://127.0.0.1:6379/12
    python benchmarks/login_race.py --attempts 30 --limit 5

Migrates a fresh database (the PostgreSQL one is emptied first), creates one account, serves
the app with werkzeug's threaded server in a thread, and sends ``--attempts`` wrong passwords
to ``/login`` at once (released together by a barrier). It counts the passwords the server
really compared against the stored hash (werkzeug's ``check_password_hash``, with the
production scrypt cost), then sends the right password and prints its answer (429 while the
email is locked). Issue #13: 27 wrong passwords at once had 22 checked, and the right one then
signed in. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PASSWORD = "correct-horse-battery-2026"
ROOT = Path(__file__).resolve().parents[1]
# Before this folder on the path: benchmarks/reports.py would hide the reports package.
sys.path.insert(0, str(ROOT))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str, email: str, password: str) -> int:
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    request = urllib.request.Request(f"{base}/login", data=body, method="POST")
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp folder)")
    parser.add_argument("--redis", help="a Redis URL: count sign-ins there")
    parser.add_argument("--attempts", type=int, default=30)
    parser.add_argument("--limit", type=int, default=5, help="LOGIN_MAX_FAILURES")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from registry import create_app
    from registry.auth import service
    from registry.config import normalise_database_url
    from registry.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="login-race-"))
    if args.database:
        uri = normalise_database_url(args.database)
        engine = sa.create_engine(uri, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        uri = f"sqlite:///{folder / 'registry.sqlite3'}"
    config = {
        "SECRET_KEY": "benchmark-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "AUDIT_SIGNING_KEY_FILE": str(folder / "audit_signing_key.pem"),
        "WTF_CSRF_ENABLED": False,
        "LOGIN_MAX_FAILURES": args.limit,
        "LOGIN_IP_MAX_FAILURES": 10 * args.attempts,
        "REDIS_URL": args.redis,
        "LOGIN_THROTTLE_PREFIX": f"registry-bench:{time.time_ns()}:",
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": 0,
    }
    app = create_app(config)
    with app.app_context():
        upgrade()
        service.create_user(
            {"email": "target@agency.gov", "name": "Target", "role": "team", "password": PASSWORD},
            actor=None,
        )

    checked = {"n": 0}
    lock = threading.Lock()
    original = service.check_password_hash

    def counting(stored: str, password: str) -> bool:
        with lock:
            checked["n"] += 1
        return original(stored, password)

    service.check_password_hash = counting  # counts the real comparisons; they still run

    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_port}"
    barrier = threading.Barrier(args.attempts)

    def one(i: int) -> int:
        barrier.wait(timeout=60)
        return sign_in(base, "target@agency.gov", f"wrong-password-{i:04d}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.attempts) as pool:
        statuses = list(pool.map(one, range(args.attempts)))
    seconds = time.perf_counter() - started
    wrong_checked = checked["n"]
    right = sign_in(base, "target@agency.gov", PASSWORD)
    http.shutdown()
    with app.app_context():
        db.engine.dispose()

    store = "Redis" if args.redis else ("PostgreSQL" if args.database else "SQLite")
    print(f"counter store: {store}")
    print(
        f"{args.attempts} concurrent wrong-password attempts: {wrong_checked} passwords checked "
        f"(limit {args.limit})"
    )
    answers = ", ".join(f"{code}: {n}" for code, n in sorted(collections.Counter(statuses).items()))
    print(f"answers: {answers}; all answered in {seconds:.2f} s")
    print(f"the right password afterwards: {right} ({'refused' if right == 429 else 'ACCEPTED'})")


if __name__ == "__main__":
    main()
