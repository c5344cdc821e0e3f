"""Benchmark the JSON API under load: requests per second and p50/p99 latency.

Usage::

    python benchmarks/api_throughput.py                 # 10,000 pilots, 10 s per endpoint
    python benchmarks/api_throughput.py --duration 5    # quicker

A temporary SQLite database is migrated and seeded with 10,000 pilots (varied stage, agency,
risk tier and review status; 1-3 team members and 0-3 of 12 data sources each, so the list does
its real eager loading). An API token is issued through ``registry.auth.service.issue_token``.
The app is served by gunicorn (2 sync workers, REGISTRY_ENV=production) on a free 127.0.0.1
port, and ``wrk -t2 -c8 --latency`` loads, one after the other:

- the filtered list   ``GET /api/v1/pilots?stage=pilot&page_size=50`` (about 3,000 match)
- the unfiltered list ``GET /api/v1/pilots?page_size=50``
- a search            ``GET /api/v1/pilots?q=triage&page_size=50``
- the detail          ``GET /api/v1/pilots/<id>``, the id varied by a wrk Lua script

Then a bare Flask + Flask-SQLAlchemy app (written into the temp dir: a paginated list of plain
rows, 50 a page, from its own 10,000-row SQLite table) is served and loaded the same way, and
every figure is printed with its ratio to that bare baseline, measured in the same run.

Goal (8 connections, SQLite, a 2-core machine): the filtered list sustains >= 500 requests per
second with p99 < 20 ms. Without wrk a bounded Python load generator is used instead (its own
CPU use lowers every figure, the baseline's too). Everything binds 127.0.0.1 only, each load
is bounded in time, and the servers are stopped in a ``finally`` block. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
WRK = shutil.which("wrk")
CONNECTIONS = 8
THREADS = 2
WORKERS = 2
GOAL_RPS = 500
GOAL_P99_MS = 20.0
STAGE_WEIGHTS = {"pre_deployment": 35, "pilot": 30, "deployed": 25, "retired": 10}
AGENCIES = ["DOJ", "HHS", "VA", "DOT", "USDA", "DHS", "ED", "SSA", "MCG", "GSA"]
WORDS = [
    "triage",
    "routing",
    "eligibility",
    "screening",
    "chatbot",
    "translation",
    "fraud",
    "forecast",
    "summarisation",
    "search",
    "scheduling",
    "inspection",
]


# ---- seeding ---------------------------------------------------------------------------------


def seed(root: Path, database_url: str, n_pilots: int, instance: Path) -> tuple[str, int]:
    """Migrate and seed the database; return an API token and the highest pilot id."""
    sys.path.insert(0, str(root))
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from registry import create_app
    from registry.auth import service as auth_service
    from registry.auth.models import User
    from registry.catalog import vocabulary as v
    from registry.catalog.models import DataSource, Pilot, pilot_data_sources, pilot_team_members
    from registry.extensions import db

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "UPLOAD_FOLDER": str(instance / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(instance / "audit_signing_key.pem"),
        }
    )
    rng = random.Random(1)
    with app.app_context():
        upgrade()
        roles = ["admin", "caio", "board"] + ["team"] * 37
        db.session.execute(
            insert(User.__table__),
            [
                {
                    "email": f"{role}{i}@agency.gov",
                    "name": f"{role.title()} Person {i}",
                    "role": role,
                    "password_hash": None,
                    "active": True,
                    "session_nonce": secrets.token_hex(8),
                }
                for i, role in enumerate(roles, start=1)
            ],
        )
        flags = list(DataSource.SENSITIVITY_FLAGS)
        db.session.execute(
            insert(DataSource.__table__),
            [
                {
                    "name": f"Data source {i:02d}",
                    "description": f"Records kept by programme {i} for casework.",
                    "system_of_record": f"SOR-{i}",
                    "retention": "7 years",
                    **{flag: rng.random() < 0.3 for flag in flags},
                    "created_by_id": 1,
                    "version": 1,
                }
                for i in range(1, 13)
            ],
        )
        stages = rng.choices(list(STAGE_WEIGHTS), weights=list(STAGE_WEIGHTS.values()), k=n_pilots)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        pilots, members, sources = [], [], []
        for i in range(1, n_pilots + 1):
            words = rng.sample(WORDS, 2)
            stage = stages[i - 1]
            owner = rng.randint(4, len(roles))
            pilots.append(
                {
                    "id": i,
                    "use_case_id": f"BENCH-{i:05d}",
                    "name": f"{words[0].title()} assistant {i}",
                    "purpose": f"Helps caseworkers with {words[0]} and {words[1]} of requests.",
                    "agency": rng.choice(AGENCIES),
                    "agency_name": "Department of Examples",
                    "agency_bureau": "Office of Benchmarks",
                    "owner_id": owner,
                    "created_by_id": owner,
                    "owner_to_confirm": False,
                    "stage": stage,
                    "review_status": rng.choice(v.REVIEW_STATUSES),
                    "risk_tier": rng.choice([None, *v.RISK_TIERS]),
                    "risk_tier_source": "questionnaire",
                    "risk_tier_justification": "Answers to the impact questionnaire.",
                    "next_review_at": date(2026, 1, 1) + timedelta(days=i % 365),
                    "retired_reason": "Replaced by a newer system." if stage == "retired" else None,
                    "is_withheld": "No",
                    "is_high_impact": rng.choice(v.IS_HIGH_IMPACT),
                    "hi_justification": "Affects access to benefits.",
                    "topic_area": rng.choice(v.TOPIC_AREAS),
                    "classification": rng.choice(v.CLASSIFICATIONS),
                    "benefits": "Shorter waits for residents; fewer misrouted cases.",
                    "system_outputs": "A suggested queue and a confidence score.",
                    "operational_date": "2025-06",
                    "contracting_usage": None,
                    "vendor_name": "Example Vendor Inc.",
                    "have_ato": "Yes",
                    "system_name_ato": "Casework Platform",
                    "data_description": "Case notes and request metadata from the last 3 years.",
                    "link_to_data": None,
                    "has_pii": "Yes",
                    "pia_url": "https://agency.example/pia/casework",
                    "demographic_features": rng.sample(list(v.DEMOGRAPHIC_FEATURES), 2),
                    "has_custom_code": "No",
                    "code_url": None,
                    "hi_potential_impacts": "Wrong routing delays a benefit decision.",
                    "inventory_extra": {},
                    "created_at": start + timedelta(minutes=i),
                    "updated_at": start + timedelta(minutes=i),
                    "version": 1,
                }
            )
            team = {owner, *rng.sample(range(4, len(roles) + 1), rng.randint(0, 2))}
            members.extend({"pilot_id": i, "user_id": u} for u in team)
            sources.extend(
                {"pilot_id": i, "data_source_id": s}
                for s in rng.sample(range(1, 13), rng.randint(0, 3))
            )
        db.session.execute(insert(Pilot.__table__), pilots)
        db.session.execute(insert(pilot_team_members), members)
        db.session.execute(insert(pilot_data_sources), sources)
        db.session.commit()
        reader = db.session.get(User, 3)  # the board member: reads everything
        token = auth_service.issue_token(reader, "benchmark", actor=None)
        db.session.remove()
        db.engine.dispose()
    return token, n_pilots


BARE_APP = '''
"""A bare Flask + Flask-SQLAlchemy paginated list of plain rows: the baseline."""
import os
from datetime import datetime

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BARE_DATABASE_URL"]
db = SQLAlchemy(app)
COLUMNS = ("id", "name", "agency", "stage", "review_status", "risk_tier", "owner_email")


class Item(db.Model):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(20))
    review_status: Mapped[str] = mapped_column(String(30))
    risk_tier: Mapped[str | None] = mapped_column(String(3))
    owner_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime)


@app.get("/items")
def items():
    page = db.paginate(
        select(Item).order_by(Item.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=request.args.get("page_size", 50, type=int),
    )
    rows = [{c: getattr(item, c) for c in COLUMNS} for item in page.items]
    for row, item in zip(rows, page.items):
        row["created_at"] = item.created_at.isoformat()
    return jsonify(items=rows, total=page.total)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


if __name__ == "__main__":
    import random
    import sys

    n = int(sys.argv[1])
    rng = random.Random(2)
    with app.app_context():
        db.create_all()
        db.session.execute(
            Item.__table__.insert(),
            [
                {
                    "id": i,
                    "name": f"Item {i}",
                    "agency": rng.choice(["DOJ", "HHS", "VA", "DOT"]),
                    "stage": rng.choice(["pre_deployment", "pilot", "deployed", "retired"]),
                    "review_status": rng.choice(["draft", "submitted", "approved"]),
                    "risk_tier": rng.choice([None, "I", "II", "III", "IV"]),
                    "owner_email": f"team{i % 37}@agency.gov",
                    "created_at": datetime(2024, 1, 1),
                }
                for i in range(1, n + 1)
            ],
        )
        db.session.commit()
'''


# ---- serving ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn in its own process group, stopped (group and all) by stop()."""

    def __init__(self, app: str, env: dict[str, str], cwd: Path, log: Path):
        self.port = free_port()
        self.log = log
        self.base = f"http://127.0.0.1:{self.port}"
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(GUNICORN), "-w", str(WORKERS), "-b", f"127.0.0.1:{self.port}", app],
            cwd=cwd,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz; its log:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self._log_file.closed:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        self._log_file.close()


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ---- load ------------------------------------------------------------------------------------

DETAIL_LUA = """
math.randomseed(7)
request = function()
  return wrk.format("GET", "/api/v1/pilots/" .. math.random(1, {max_id}))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests per second, p50 and p99 (ms), request and error counts from `wrk --latency`."""
    result: dict[str, float] = {"errors": 0}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    result["requests"] = int(re.search(r"(\d+) requests in", output).group(1))
    for pct in ("50", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M).group(1))
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        result["errors"] += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        # gunicorn's sync workers close each connection, which wrk may count as a read error;
        # only failed connects, writes and timeouts are errors.
        result["errors"] += int(match.group(1)) + int(match.group(3)) + int(match.group(4))
    return result


def run_wrk(url: str, headers: dict[str, str], duration: int, script: Path | None) -> dict:
    command = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    command += ["--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    completed = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 30, check=True
    )
    return parse_wrk(completed.stdout)


def run_python_load(
    url: str, headers: dict[str, str], duration: int, max_id: int | None
) -> dict[str, float]:
    """A bounded fallback: CONNECTIONS threads, one request at a time each, for `duration`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    rng = random.Random(7)

    def worker() -> None:
        mine: list[float] = []
        while time.monotonic() < deadline and len(mine) < 200_000:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if max_id is not None:  # like DETAIL_LUA: the last path segment is a random id
                path = f"{parts.path.rsplit('/', 1)[0]}/{rng.randint(1, max_id)}"
            began = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                ok = 200 <= response.status < 400
            except OSError:
                ok = False
            mine.append((time.perf_counter() - began) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50": pct(0.50),
        "p99": pct(0.99),
        "errors": errors[0],
    }


def load(url, headers, duration, *, max_id=None, script=None) -> dict:
    if WRK:
        return run_wrk(url, headers, duration, script)
    return run_python_load(url, headers, duration, max_id)


# ---- main ------------------------------------------------------------------------------------


def busy_cpus(seconds: float = 1.0) -> float:
    """How many CPUs' worth of work the machine did over `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pilots", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=8, help="seconds per load run")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=ROOT,
        help="checkout to serve (default: this one), e.g. to compare before and after a change",
    )
    args = parser.parse_args()
    duration = max(1, min(args.duration, 30))
    root = args.app_root.resolve()

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    servers: list[Server] = []
    try:
        t0 = time.perf_counter()
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        token, max_id = seed(root, database_url, args.pilots, tmp)
        print(f"seeded {args.pilots:,} pilots in {time.perf_counter() - t0:.1f} s")

        bare_dir = tmp / "bare"
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(textwrap.dedent(BARE_APP))
        bare_env = {**os.environ, "BARE_DATABASE_URL": f"sqlite:///{bare_dir / 'bare.sqlite3'}"}
        subprocess.run(
            [sys.executable, "bare_app.py", str(args.pilots)],
            cwd=bare_dir,
            env=bare_env,
            check=True,
            timeout=120,
        )

        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "REGISTRY_ENV": "production",
            "UPLOAD_FOLDER": str(tmp / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(tmp / "audit_signing_key.pem"),
        }
        env.pop("REDIS_URL", None)
        # Both servers run side by side (an idle one costs nothing) so that the baseline can be
        # measured between our runs: a busy machine then skews both alike.
        registry = Server("wsgi:app", env, root, tmp / "gunicorn-registry.log")
        servers.append(registry)
        bare = Server("bare_app:app", bare_env, bare_dir, tmp / "gunicorn-bare.log")
        servers.append(bare)
        registry.wait_healthy()
        bare.wait_healthy()

        auth = {"Authorization": f"Bearer {token}"}
        script = tmp / "detail.lua"
        script.write_text(DETAIL_LUA.replace("{max_id}", str(max_id)))
        cases = [
            ("filtered list", "/api/v1/pilots?stage=pilot&page_size=50", None),
            ("unfiltered list", "/api/v1/pilots?page_size=50", None),
            ("search q=triage", "/api/v1/pilots?q=triage&page_size=50", None),
            ("detail (random id)", "/api/v1/pilots/1", script),
        ]
        for name, path, _ in cases:
            status, headers, body = fetch(registry.base + path, auth)
            if status != 200:
                raise RuntimeError(f"{name}: GET {path} answered {status}: {body[:300]!r}")
            if "X-Pagination" in headers:
                total = json.loads(headers["X-Pagination"])["total"]
                print(f"  {name}: {len(json.loads(body))} of {total:,} match, {len(body):,} B")
            else:
                print(f"  {name}: {len(body):,} B")
        bare_url = bare.base + "/items?page=1&page_size=50"
        status, _, body = fetch(bare_url, {})
        if status != 200:
            raise RuntimeError(f"bare baseline answered {status}: {body[:300]!r}")
        print(f"  bare list: {len(body):,} B")

        other_before = busy_cpus()
        load(registry.base + cases[0][1], auth, 2)  # warm up both workers of each server
        load(bare_url, {}, 2)
        baselines: list[dict] = []
        results: list[tuple[str, dict]] = []
        for index, (name, path, lua) in enumerate(cases):
            if index % 2 == 0:
                baselines.append(load(bare_url, {}, duration))
            url = registry.base + path
            results.append((name, load(url, auth, duration, max_id=max_id, script=lua)))
        baselines.append(load(bare_url, {}, duration))
        other_after = busy_cpus()

        baselines.sort(key=lambda r: r["rps"])
        baseline = baselines[len(baselines) // 2]
        tool = f"wrk, {THREADS} threads" if WRK else "python fallback (no wrk), one thread each"
        print(
            f"\n{tool}, {CONNECTIONS} connections, {duration} s a run; "
            f"gunicorn {WORKERS} sync workers; SQLite; {os.cpu_count()} CPUs; "
            f"other work on the machine: {other_before:.1f} CPUs busy before, "
            f"{other_after:.1f} after"
        )
        print(f"{'endpoint':<24}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'x bare':>8}")
        spread = f"{baselines[0]['rps']:.0f}-{baselines[-1]['rps']:.0f}"
        rows = [*results, (f"bare list (median of {len(baselines)})", baseline)]
        for name, r in rows:
            print(
                f"{name:<24}{r['rps']:>8.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                f"{int(r['errors']):>8}{r['rps'] / baseline['rps']:>8.2f}"
            )
        print(f"(bare list runs: {spread} req/s)")
        filtered = results[0][1]
        met = filtered["rps"] >= GOAL_RPS and filtered["p99"] < GOAL_P99_MS
        print(
            f"\ngoal: filtered list >= {GOAL_RPS} req/s with p99 < {GOAL_P99_MS:.0f} ms: "
            f"{'met' if met else 'NOT met'} ({filtered['rps']:.0f} req/s, "
            f"p99 {filtered['p99']:.2f} ms, {filtered['rps'] / baseline['rps']:.2f}x bare)"
        )
        if max(other_before, other_after) > 0.3:
            print("note: other work was running; absolute figures are low, ratios less affected")
        print(f"total {time.perf_counter() - t0:.0f} s")
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
