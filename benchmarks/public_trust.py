"""Public trust: the public inventory from stored published versions, and the concern form
under load. Prints figures, asserts nothing.

    python benchmarks/public_trust.py [--repeat 30] [--seconds 10] [--rate 50]

1. On a scratch SQLite database holding the 3,611 use cases of the 2025 OMB inventory file
   (each imported with its first published version), the server time, through the Flask test
   client, of the public inventory page (first page, a search, a filter, a deep page), of
   permalinks of single use cases, of ``inventory.json``, ``inventory.csv`` and
   ``inventory/history.csv``. Goal: the page and permalinks in 100 ms or less.
2. The concern form over real HTTP: the app under gunicorn (2 workers, threads) on a
   loopback port, with the rate limit off (``CONCERN_RATE_LIMIT=0``), and a threaded client
   that fetches the form and sends it with its proof of work solved, at a target rate for a
   number of seconds. It prints the reports per second achieved, the latency of each report
   (both requests) and any error. Goal: 50 reports a second without errors.
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


def send_one(base: str, use_case_id: str, bits: int) -> None:
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
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
    with opener.open(request, timeout=30) as response:
        if "/public/concerns/C-" not in response.url:
            raise RuntimeError(f"not accepted: landed on {response.url}")


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
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()

            def one() -> None:
                started = time.perf_counter()
                try:
                    send_one(base, use_case_id, bits)
                    with lock:
                        latencies.append(time.perf_counter() - started)
                except Exception as error:  # noqa: BLE001 - every failure is a figure
                    with lock:
                        errors.append(str(error)[:200])

            threads = []
            started = time.perf_counter()
            total = rate * seconds
            for n in range(total):
                due = started + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                thread = threading.Thread(target=one)
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            latencies.sort()
            print(
                f"  {len(latencies)} reports accepted, {len(errors)} errors, in {elapsed:.1f} s: "
                f"{len(latencies) / elapsed:.1f} reports/s"
            )
            if latencies:
                print(
                    f"  latency per report (form + send): median "
                    f"{statistics.median(latencies) * 1000:.0f} ms, p90 "
                    f"{latencies[int(len(latencies) * 0.9)] * 1000:.0f} ms, max "
                    f"{latencies[-1] * 1000:.0f} ms"
                )
            for error in sorted(set(errors))[:5]:
                print(f"  error: {error}")
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
