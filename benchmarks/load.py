"""Mixed read/write load against gunicorn on PostgreSQL, then an audit-chain check.

Usage::

    python benchmarks/load.py                    # 32 clients for 60 s
    python benchmarks/load.py --duration 20      # shorter
    python benchmarks/load.py --admin-url postgresql://postgres@127.0.0.1:5432/postgres

What it does, all on loopback and bounded in time:

1. creates a scratch database (``registry_load`` by default; dropped again at the end unless
   ``--keep``) next to the one at ``--admin-url``, migrates it and seeds it through the services:
   ``--clients`` team members with an API token and ``--pilots-per-client`` pilots each, 12 data
   sources, an impact assessment on every pilot, and a CAIO;
2. serves the app with ``gunicorn --workers 2`` on a free 127.0.0.1 port: sync workers by
   default, as deployed (they close the connection after each response, and the clients
   reconnect); ``--worker-class gthread --threads N`` keeps connections alive instead;
3. runs ``--clients`` (32) client threads for ``--duration`` seconds, each on its own keep-alive
   ``http.client`` connection and its own token, with no think time: 80% reads (the pilot list
   with a random filter, a pilot, a pilot's compliance checklist) and 20% writes (create a
   pilot, PATCH one of its own pilots with If-Match, comment on one). One more thread uploads a
   small bias check every ``--bias-every`` seconds (run inline: it is small);
4. prints requests per second, p50/p95/p99/max per route and every error (any status other than
   the expected one, or a transport error), then stops gunicorn and runs
   ``flask --app wsgi audit verify`` against the scratch database.

Target: zero errors, p99 < 250 ms for reads. The client threads share the machine (and the GIL)
with gunicorn and PostgreSQL, so on a small machine their own CPU use lowers every figure.
Exits 1 if the audit chain does not verify or any request failed; latency is reported, not
asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
READ_ROUTES = ("list", "detail", "compliance")
STAGES = ("pre_deployment", "pilot", "deployed", "retired")
SMALL_CSV = b"g,y,p\n" + b"".join(
    f"{'ab'[i % 2]},{i % 3 % 2},{i % 5 % 2}\n".encode() for i in range(200)
)


# ---- the scratch database --------------------------------------------------------------------


def scratch_url(admin_url: str, name: str) -> str:
    from sqlalchemy import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, uploads: Path, clients: int, per_client: int) -> dict:
    """Migrate and seed through the services; return the tokens and each client's pilots."""
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from assessments import service as assessments
    from registry import create_app
    from registry.auth import service as auth_service
    from registry.catalog import service as catalog
    from registry.extensions import db

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "UPLOAD_FOLDER": str(uploads),
            "AUDIT_SIGNING_KEY_FILE": str(uploads.parent / "audit_signing_key.pem"),
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )
    rng = random.Random(1)
    password = "load-test-password-2026"
    with app.app_context():
        upgrade()
        admin = auth_service.create_user(
            {
                "email": "admin@load.agency.gov",
                "name": "Admin",
                "role": "admin",
                "password": password,
            },
            actor=None,
        )
        auth_service.create_user(
            {"email": "caio@load.agency.gov", "name": "CAIO", "role": "caio", "password": password},
            actor=None,
        )
        sources = [
            catalog.create_data_source(
                {"name": f"Data source {i:02d}", "contains_pii": i % 3 == 0}, admin
            )
            for i in range(12)
        ]
        _, questionnaire = assessments.questionnaire()
        answers = _lowest_answers(questionnaire)
        users = []
        for c in range(clients):
            user = auth_service.create_user(
                {
                    "email": f"team{c}@load.agency.gov",
                    "name": f"Team member {c}",
                    "role": "team",
                    "password": password,
                },
                actor=None,
            )
            pilots = []
            for p in range(per_client):
                pilot = catalog.create_pilot(
                    {
                        "name": f"Routing assistant {c}-{p}",
                        "purpose": "Routes resident requests to the right team.",
                        "agency": rng.choice(["MCG", "HHS", "DOT", "SSA"]),
                        "owner_email": user.email,
                        "stage": "pre_deployment",
                        "data_source_ids": [s.id for s in rng.sample(sources, 2)],
                    },
                    user,
                )
                assessments.assess(pilot, answers, user)
                pilots.append(pilot.id)
            token = auth_service.issue_token(user, "load", actor=None)
            users.append({"email": user.email, "token": token, "pilots": pilots})
        db.session.remove()
        db.engine.dispose()
    return {"users": users}


def _lowest_answers(questionnaire: dict) -> dict:
    import policies

    answers: dict = {}
    for question in questionnaire["questions"]:
        visible = {q["id"] for q in policies.visible_questions(questionnaire, answers)}
        if question["id"] not in visible:
            continue
        choices = sorted(question["choices"], key=lambda c: c["weight"])
        if question.get("multiple"):
            answers[question["id"]] = [c["value"] for c in choices if not c.get("exclusive")][:1]
        else:
            answers[question["id"]] = choices[0]["value"]
    return answers


# ---- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(database_url: str, uploads: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(
        REGISTRY_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=database_url,
        UPLOAD_FOLDER=str(uploads),
        AUDIT_SIGNING_KEY_FILE=str(uploads.parent / "audit_signing_key.pem"),
        FLASK_APP="wsgi",
    )
    return env


def start_gunicorn(env, port: int, args) -> subprocess.Popen:
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command + ["wsgi:app"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


# ---- the clients -----------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []

    def record(self, route: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latencies[route].append(seconds)
            if not ok:
                self.errors[route] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{route}: {detail[:200]}")


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int, token: str, stats: Stats) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stats = stats
        self.conn: http.client.HTTPConnection | None = None

    def request(self, route, method, path, *, body=None, headers=None, expect=200):
        all_headers = dict(self.headers, **(headers or {}))
        payload = None
        if body is not None and not isinstance(body, bytes):
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif body is not None:
            payload = body
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=payload, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # A keep-alive connection the server closed between requests: retry once.
                self.conn = None
                if attempt == 2:
                    self.stats.record(route, time.perf_counter() - started, False, repr(e))
                    return None, None
            except OSError as error:
                self.conn = None
                self.stats.record(route, time.perf_counter() - started, False, repr(error))
                return None, None
        elapsed = time.perf_counter() - started
        ok = response.status == expect
        self.stats.record(
            route, elapsed, ok, f"{method} {path} -> {response.status} {data[:150]!r}"
        )
        return response, data


def client_loop(client: Client, user: dict, pilot_ids: list[int], stop: float, seed: int):
    rng = random.Random(seed)
    own = list(user["pilots"])
    while time.monotonic() < stop:
        roll = rng.random()
        if roll < 0.30:
            query = rng.choice(
                ["", "&stage=pre_deployment", "&agency=HHS", "&q=routing", "&risk_tier=I"]
            )
            client.request("list", "GET", f"/api/v1/pilots?page_size=25{query}")
        elif roll < 0.55:
            client.request("detail", "GET", f"/api/v1/pilots/{rng.choice(pilot_ids)}")
        elif roll < 0.80:
            client.request(
                "compliance", "GET", f"/api/v1/pilots/{rng.choice(pilot_ids)}/compliance"
            )
        elif roll < 0.85:
            response, data = client.request(
                "create",
                "POST",
                "/api/v1/pilots",
                body={
                    "name": f"Load pilot {seed}-{rng.randrange(10**9)}",
                    "purpose": "Created under load.",
                    "agency": "MCG",
                    "owner_email": user["email"],
                    "stage": rng.choice(STAGES[:1]),
                },
                expect=201,
            )
            if response is not None and response.status == 201:
                own.append(json.loads(data)["id"])
        elif roll < 0.93:
            pilot = rng.choice(own)
            response, _ = client.request("detail", "GET", f"/api/v1/pilots/{pilot}")
            if response is None or response.status != 200:
                continue
            client.request(
                "patch",
                "PATCH",
                f"/api/v1/pilots/{pilot}",
                body={"benefits": f"Shorter waits ({rng.randrange(1000)})."},
                headers={"If-Match": response.getheader("ETag")},
            )
        else:
            client.request(
                "comment",
                "POST",
                f"/api/v1/pilots/{rng.choice(own)}/comments",
                body={"body": "Checked under load."},
                expect=201,
            )


def bias_loop(client: Client, pilots: list[int], stop: float, every: float):
    boundary = "----load-boundary"
    rng = random.Random(7)
    while time.monotonic() < stop:
        body = (
            (
                "".join(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    for k, v in (("y_true", "y"), ("y_pred", "p"), ("sensitive_features", "g"))
                )
                + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="outputs.csv"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + SMALL_CSV
            + f"\r\n--{boundary}--\r\n".encode()
        )
        client.request(
            "bias_check",
            "POST",
            f"/api/v1/pilots/{rng.choice(pilots)}/bias-checks",
            body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            expect=201,
        )
        time.sleep(max(0.0, min(every, stop - time.monotonic())))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(stats: Stats, duration: float) -> tuple[int, float]:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    print(f"\n{total} requests in {duration:.1f} s: {total / duration:.0f} req/s, {errors} errors")
    print(
        f"{'route':<12}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}"
    )
    worst_read_p99 = 0.0
    for route in (*READ_ROUTES, "create", "patch", "comment", "bias_check"):
        values = stats.latencies.get(route)
        if not values:
            continue
        p99 = percentile(values, 99) * 1000
        if route in READ_ROUTES:
            worst_read_p99 = max(worst_read_p99, p99)
        print(
            f"{route:<12}{len(values):>8}{len(values) / duration:>8.1f}"
            f"{percentile(values, 50) * 1000:>9.1f}{percentile(values, 95) * 1000:>9.1f}"
            f"{p99:>9.1f}{max(values) * 1000:>9.1f}{stats.errors.get(route, 0):>8}"
        )
    reads = [v for r in READ_ROUTES for v in stats.latencies.get(r, [])]
    writes = [v for r in ("create", "patch", "comment") for v in stats.latencies.get(r, [])]
    if reads and writes:
        print(f"mix: {len(reads) / (len(reads) + len(writes)):.0%} reads")
    for example in stats.examples:
        print("  error:", example)
    return errors, worst_read_p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--pilots-per-client", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bias-every", type=float, default=5.0)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("LOAD_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to CREATE DATABASE",
    )
    parser.add_argument("--database", default="registry_load")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    if not 1 <= args.duration <= 600 or not 1 <= args.clients <= 256:
        parser.error("--duration must be 1-600 s and --clients 1-256")

    database_url = scratch_url(args.admin_url, args.database)
    create_database(args.admin_url, args.database)
    server = None
    with tempfile.TemporaryDirectory(prefix="registry-load-") as tmp:
        uploads = Path(tmp) / "uploads"
        try:
            started = time.perf_counter()
            world = seed(database_url, uploads, args.clients, args.pilots_per_client)
            print(f"seeded {args.database} in {time.perf_counter() - started:.1f} s")
            env = app_env(database_url, uploads)
            port = free_port()
            server = start_gunicorn(env, port, args)
            print(
                f"gunicorn: {args.workers} workers ({args.worker_class}"
                + (f", {args.threads} threads" if args.worker_class == "gthread" else "")
                + f") on 127.0.0.1:{port}; {args.clients} clients for {args.duration:.0f} s"
            )
            stats = Stats()
            pilot_ids = [p for user in world["users"] for p in user["pilots"]]
            stop = time.monotonic() + args.duration
            threads = [
                threading.Thread(
                    target=client_loop,
                    args=(Client(port, user["token"], stats), user, pilot_ids, stop, i),
                    daemon=True,
                )
                for i, user in enumerate(world["users"])
            ]
            owner = world["users"][0]
            threads.append(
                threading.Thread(
                    target=bias_loop,
                    args=(
                        Client(port, owner["token"], stats),
                        owner["pilots"],
                        stop,
                        args.bias_every,
                    ),
                    daemon=True,
                )
            )
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.duration + 60)
            elapsed = time.perf_counter() - began
            errors, worst_read_p99 = report(stats, elapsed)
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        verify = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "audit", "verify"],
            cwd=ROOT,
            env=app_env(database_url, uploads),
            capture_output=True,
            text=True,
            check=False,
        )
        print("audit verify:", (verify.stdout or verify.stderr).strip().replace("\n", "; "))
        if not args.keep:
            drop_database(args.admin_url, args.database)
    target = "met" if errors == 0 and worst_read_p99 < 250 else "NOT met"
    print(
        f"target (0 errors, read p99 < 250 ms): {target} (worst read p99 {worst_read_p99:.0f} ms)"
    )
    return 0 if verify.returncode == 0 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
