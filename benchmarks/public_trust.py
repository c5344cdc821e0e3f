"""Public trust: the public inventory from stored published versions, and the concern form
under load. Prints figures, asserts nothing.

    python benchmarks/public_trust.py [--repeat 30] [--seconds 10] [--rate 50]

1. On a scratch SQLite database holding the 3,611 use cases of the 2025 OMB inventory file
   (each imported with its first published version), the server time, through the Flask test
   client, of the public inventory page (first page, a search, a filter, a deep page), of
   permalinks of single use cases, of ``inventory.json``, ``inventory.csv`` and
   ``inventory/history.csv``. Goal: the page and permalinks in 100 ms or less.
2. The concern form over real HTTP: the app under gunicorn (2 workers, threads) on a
   loopback port, with the rate limit off (``CONCERN_RATE_LIMIT=0``). A threaded client
   first loads the form for each visitor and solves its proof of work (the visitor's browser's
   work, done before the timed run), then sends the reports at a target rate for a number of
   seconds. It prints both rates achieved, the latency of each submission (the POST and the
   status page it redirects to), any error, and how many reports the database holds after.
   Goal: 50 reports a second without errors.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OMB = ROOT / "tests" / "data" / "omb_2025_ai_use_case_inventory.csv"


def make_app(workdir: Path, **extra):
    from flask_migrate import upgrade

    from registry import create_app

    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "UPLOAD_FOLDER": str(workdir / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            **extra,
        }
    )
    with app.app_context():
        upgrade()
    return app


def seed(app) -> list[str]:
    """Import the OMB file; return a few published use-case ids for the permalinks."""
    from policies.store import install_library
    from registry.auth import service as auth
    from registry.catalog.models import PublishedVersion
    from registry.extensions import db
    from reports import inventory

    with app.app_context():
        install_library()
        admin = auth.create_user(
            {"email": "admin@bench.gov", "name": "Admin", "role": "admin", "password": "x" * 16},
            actor=None,
        )
        started = time.perf_counter()
        result = inventory.import_inventory(OMB.read_text(encoding="utf-8-sig"), admin)
        print(f"import: {result.summary()} in {time.perf_counter() - started:.1f} s")
        ids = list(
            db.session.scalars(
                db.select(PublishedVersion.use_case_id)
                .where(PublishedVersion.listed.is_(True))
                .order_by(PublishedVersion.id)
            )
        )
        db.session.remove()
    return [ids[0], ids[len(ids) // 2], ids[-1]]


def timed(app, path: str, repeat: int) -> tuple[float, float, int]:
    client = app.test_client()
    response = client.get(path)  # warm
    assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.9)] * 1000, len(response.data)


def inventory_figures(repeat: int) -> None:
    print("== the public inventory from stored published versions (3,611 imported use cases)")
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        ids = seed(app)
        paths = [
            "/inventory",
            "/inventory?q=benefits",
            "/inventory?agency=DOJ&development_stage=Deployed",
            "/inventory?page=120",
            *(f"/inventory/{urllib.parse.quote(i)}" for i in ids),
            "/api/v1/inventory.json",
            "/api/v1/inventory.csv",
            "/api/v1/inventory/history.csv",
        ]
        for path in paths:
            heavy = path.startswith("/api/")
            median, p90, size = timed(app, path, max(3, repeat // 6) if heavy else repeat)
            print(f"  {path:<55} median {median:7.1f} ms  p90 {p90:7.1f} ms  {size / 1e3:8.1f} kB")


# ---- the concern form over HTTP ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(workdir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SECRET_KEY": "bench-secret-key",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
        "CONCERN_RATE_LIMIT": "0",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )


class Prepared:
    """One visitor's filled-in form: its cookies (session, CSRF) and the solved proof of work."""

    def __init__(self, opener, url: str, form: dict[str, str]):
        self.opener, self.url, self.form = opener, url, form


def prepare_one(base: str, use_case_id: str, bits: int) -> Prepared:
    """What a visitor's browser does before sending: load the form and solve its proof."""
    from assessments.concern_guard import solve

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"{base}/inventory/{urllib.parse.quote(use_case_id)}/concern"
    page = opener.open(url, timeout=30).read().decode()
    challenge = re.search(r'name="challenge" value="([^"]+)"', page).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        "csrf_token": token,
        "challenge": challenge,
        "proof": solve(challenge, bits),
        "description": "The letter about my benefits has the wrong amount.",
        "contact_email": "",
    }
    return Prepared(opener, url, form)


def send_one(prepared: Prepared) -> None:
    """The submission itself: the server checks the proof, stores the report and redirects to
    the report's status page, which the client follows (two requests)."""
    request = urllib.request.Request(
        prepared.url, data=urllib.parse.urlencode(prepared.form).encode()
    )
    with prepared.opener.open(request, timeout=30) as response:
        if "/public/concerns/C-" not in response.url:
            raise RuntimeError(f"not accepted: landed on {response.url}")


def at_rate(rate: int, items: list, work) -> tuple[list[float], list[str], float]:
    """Start ``work(item)`` for each item at ``rate`` a second, each on its own thread; the
    latencies of those that succeeded, the errors, and the seconds from first start to last end."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(item) -> None:
        began = time.perf_counter()
        try:
            work(item)
            with lock:
                latencies.append(time.perf_counter() - began)
        except Exception as error:  # noqa: BLE001 - every failure is a figure
            with lock:
                errors.append(str(error)[:200])

    threads = []
    started = time.perf_counter()
    for n, item in enumerate(items):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one, args=(item,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    latencies.sort()
    return latencies, errors, time.perf_counter() - started


def report(what: str, latencies: list[float], errors: list[str], elapsed: float) -> None:
    print(
        f"  {what}: {len(latencies)} ok, {len(errors)} errors, in {elapsed:.1f} s = "
        f"{len(latencies) / elapsed:.1f}/s"
    )
    if latencies:
        print(
            f"    latency: median {statistics.median(latencies) * 1000:.0f} ms, p90 "
            f"{latencies[int(len(latencies) * 0.9)] * 1000:.0f} ms, max "
            f"{latencies[-1] * 1000:.0f} ms"
        )
    for error in sorted(set(errors))[:5]:
        print(f"    error: {error}")


def concern_figures(rate: int, seconds: int) -> None:
    print(f"== the concern form over HTTP (gunicorn, 2 workers x 8 threads), target {rate}/s")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app = make_app(workdir)
        use_case_id = seed(app)[0]
        bits = app.config["CONCERN_POW_BITS"]
        port = free_port()
        server = serve(workdir, port)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            total = rate * seconds
            # 1. Visitors open the form and their browsers solve the proof of work. The solving
            #    is the visitor's CPU, not the server's; it is done here, before the timed run,
            #    because this one client process would otherwise spend most of its time hashing
            #    (about 27 ms a proof in Python, one core) and measure itself, not the server.
            prepared: list[Prepared] = []
            started = time.perf_counter()
            forms, form_errors, _ = at_rate(
                rate, [None] * total, lambda _: prepared.append(prepare_one(base, use_case_id, bits))
            )
            report(
                f"form pages loaded and proofs solved (client-bound, {bits} bits)",
                forms,
                form_errors,
                time.perf_counter() - started,
            )
            # 2. The submissions, at the target rate: the server checks each proof once,
            #    stores the report with its audit event and answers with the status page.
            latencies, errors, elapsed = at_rate(rate, prepared, send_one)
            report("reports sent and accepted", latencies, errors, elapsed)
            with app.app_context():
                from assessments.trust_models import Concern
                from registry.extensions import db

                stored = db.session.scalar(db.select(db.func.count()).select_from(Concern))
            print(f"  reports stored in the database: {stored} (of {len(prepared)} sent)")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-inventory", action="store_true")
    parser.add_argument("--skip-concerns", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    if not args.skip_inventory:
        inventory_figures(args.repeat)
    if not args.skip_concerns:
        concern_figures(args.rate, args.seconds)


if __name__ == "__main__":
    main()
