"""Report rendering and inventory figures: prints them, asserts nothing.

    python benchmarks/reports.py [--quick]

Measures, on a scratch SQLite database:
- one pilot accountability report with 3 bias checks: warm, and in a fresh process;
- the board packet for 50, 200 and 500 pilots (time, pages, pages per second, peak memory);
- importing the 3,611-row OMB inventory file, and the public inventory CSV for all of it.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COMPAS = ROOT / "tests" / "data" / "compas_two_year.csv"
OMB = ROOT / "tests" / "data" / "omb_2025_ai_use_case_inventory.csv"


def make_app(workdir: Path):
    from flask_migrate import upgrade

    from registry import create_app

    app = create_app({
        "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "UPLOAD_FOLDER": str(workdir / "uploads"), "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "SERVER_NAME": "localhost",
        "AUDIT_SIGNING_KEY_FILE": str(workdir / "audit_signing_key.pem"),
    })
    with app.app_context():
        upgrade()
    return app


def seed(app, n_pilots: int):
    from werkzeug.datastructures import FileStorage

    from assessments import bias_checks
    from registry.auth import service as auth
    from registry.catalog import service as catalog

    with app.app_context():
        owner = auth.find_user("owner@bench.gov") or auth.create_user(
            {"email": "owner@bench.gov", "name": "Owner", "role": "team", "password": "bench-password-1"}, None)
        from sqlalchemy import func, select

        from registry.catalog.models import Pilot
        from registry.extensions import db

        existing = db.session.scalar(select(func.count()).select_from(Pilot))
        for n in range(existing, n_pilots):
            catalog.create_pilot({"name": f"Bench pilot {n}", "purpose": "Benchmark purpose text. " * 5,
                                  "agency": "BEN", "owner_email": owner.email, "stage": "pre_deployment",
                                  "is_high_impact": "High-impact" if n % 5 == 0 else "Not High-impact"}, owner)
        first = db.session.get(Pilot, 1)
        if not bias_checks.for_pilot(first):
            for features in (["race"], ["sex"], ["race", "sex"]):
                upload = FileStorage(stream=io.BytesIO(COMPAS.read_bytes()), filename="compas.csv")
                bias_checks.create(first, upload, {"y_true": "two_year_recid", "y_pred": "predicted_high_risk",
                                                   "sensitive_features": features}, owner)
        return first.id


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="50 and 200 pilots only, no fresh-process run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    app = make_app(workdir)
    pilot_id = seed(app, 1)
    from registry.catalog.models import Pilot
    from registry.extensions import db
    from reports import render

    print(f"load average {load()} on {os.cpu_count()} CPUs (timings are wall-clock; other work inflates them)")
    with app.app_context(), app.test_request_context():
        pilot = db.session.get(Pilot, pilot_id)
        render.pilot_report_pdf(pilot)
        times, cpu = [], []
        for _ in range(3):
            start, start_cpu = time.perf_counter(), time.process_time()
            pdf = render.pilot_report_pdf(pilot)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"pilot report, 3 bias checks: {pages(pdf)} pages, warm {min(times):.2f} s "
              f"(median {sorted(times)[1]:.2f} s, CPU {min(cpu):.2f} s; goal <= 1.5 s)")
    if not args.quick:
        code = (
            "import time; t=time.perf_counter();"
            "from registry import create_app; from reports import render;"
            "from registry.extensions import db; from registry.catalog.models import Pilot;"
            f"app=create_app({{'SECRET_KEY':'b','SQLALCHEMY_DATABASE_URI':'sqlite:///{workdir / 'bench.sqlite3'}',"
            f"'UPLOAD_FOLDER':'{workdir / 'uploads'}','SERVER_NAME':'localhost',"
            f"'AUDIT_SIGNING_KEY_FILE':'{workdir / 'audit_signing_key.pem'}'}});"
            "ctx=app.test_request_context(); ctx.push(); r=time.perf_counter();"
            f"render.pilot_report_pdf(db.session.get(Pilot, {pilot_id}));"
            "print(r-t, time.perf_counter()-t, flush=True)"
        )
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        ready, done = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
        print(f"pilot report in a fresh process: {wall:.2f} s wall (in-process {done:.2f} s: imports and app "
              f"{ready:.2f} s, first report {done - ready:.2f} s; the rest is interpreter start and exit; "
              "goal <= 4 s)")

    sizes = (50, 200) if args.quick else (50, 200, 500)
    previous = None
    for n in sizes:
        seed(app, n)
        with app.app_context(), app.test_request_context():
            start = time.perf_counter()
            pdf = render.board_packet_pdf(None)
            elapsed = time.perf_counter() - start
        n_pages = pages(pdf)
        growth = f", x{elapsed / previous[1]:.2f} time for x{n / previous[0]:.1f} pilots" if previous else ""
        print(f"board packet, {n} pilots: {elapsed:.2f} s, {n_pages} pages, {n_pages / elapsed:.1f} pages/s, "
              f"peak RSS {peak_mb():.0f} MiB{growth}{' (goal <= 30 s at 200)' if n == 200 else ''}")
        previous = (n, elapsed)

    inventory_dir = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    app2 = make_app(inventory_dir)
    runner = app2.test_cli_runner()
    with app2.app_context():
        from registry.auth import service as auth

        auth.create_user({"email": "admin@bench.gov", "name": "Admin", "role": "admin",
                          "password": "bench-password-1"}, None)
    start = time.perf_counter()
    result = runner.invoke(args=["inventory", "import", str(OMB), "--as", "admin@bench.gov"])
    print(f"OMB inventory import, 3,611 rows: {time.perf_counter() - start:.2f} s (goal <= 20 s); "
          f"{result.output.splitlines()[0] if result.output else result.exception}")
    client = app2.test_client()
    client.get("/api/v1/inventory.csv")
    start = time.perf_counter()
    body = client.get("/api/v1/inventory.csv").data
    lines = body.count(b"\n") - 1
    print(f"public inventory CSV: {time.perf_counter() - start:.2f} s for {lines} lines "
          "(goal <= 2 s)")
    print(f"load average {load()}")


if __name__ == "__main__":
    os.environ.setdefault("REGISTRY_ENV", "development")
    main()
