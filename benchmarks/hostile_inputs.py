"""Hostile inputs against a real server: a Parquet bomb, and 1 GiB bodies that are never sent.

Usage::

    python benchmarks/hostile_inputs.py               # 10^8-row bomb, 1 GiB bodies
    python benchmarks/hostile_inputs.py --rows 20000000

What it does, all on loopback in a scratch directory:

1. migrates a scratch SQLite database, creates a team member with an API token (the CLI) and
   a pilot (the API);
2. serves the app with ``gunicorn --workers 1`` (sync worker, as deployed) and finds the
   worker's pid;
3. writes a Parquet bomb: ``--rows`` rows of constant columns (run-length encoded, so the file
   is a few hundred KB to a few MB), uploads it as a bias check with the team's token, and
   prints the status, the time to the answer, and the worker's memory from /proc: VmRSS before,
   VmHWM (its peak) after, and the growth between them;
4. for each of a page form, a page upload and the upload API (anonymous, and with the board's
   read-only token), opens a raw socket, sends
   headers claiming 1 GiB (with a 64 KiB send buffer) and then sends zeros as fast as the
   server takes them until it answers or closes; prints the status and the bytes sent before
   the answer (what the server read is at most that).

Targets (issue 13): the bomb refused within 2 s with the worker growing < 50 MB; each 1 GiB
body refused with < 1 MiB sent. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
GIB, MIB = 1024**3, 1024**2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bomb(rows: int, chunk: int = 1_000_000) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = pa.table(
        {
            "g": pa.array(["a", "b"]).take(pa.array([0] * chunk)),
            "y": pa.array([1] * chunk, pa.int8()),
            "p": pa.array([1] * chunk, pa.int8()),
        }
    )
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, part.schema, compression="zstd") as writer:
        for _ in range(rows // chunk):
            writer.write_table(part, row_group_size=chunk)
    return buffer.getvalue()


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def worker_pid(master: int) -> int:
    deadline = time.time() + 30
    while time.time() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----hostile-inputs"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return (
        head.encode() + content + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def request(url: str, *, data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def claim_gib(
    port: int, path: str, content_type: str, extra: str = ""
) -> tuple[int | None, int]:
    """Claim 1 GiB, send zeros until the server answers or closes: (status, bytes sent)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.connect(("127.0.0.1", port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"{extra}Content-Length: {GIB}\r\n\r\n"
    ).encode()
    sock.sendall(head)
    sock.setblocking(False)
    sent, chunk, answer = 0, b"\0" * 16384, b""
    deadline = time.time() + 30
    try:
        while time.time() < deadline and sent < GIB:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                try:
                    answer = sock.recv(4096)
                except ConnectionResetError:
                    answer = b""
                break
            if writable:
                try:
                    sent += sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return status, sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hostile-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{scratch / 'registry.sqlite3'}",
        "UPLOAD_FOLDER": str(scratch / "uploads"),
        "AUDIT_SIGNING_KEY_FILE": str(scratch / "audit_signing_key.pem"),
        "SECRET_KEY": "hostile-inputs-benchmark",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)

    def flask(*argv: str) -> str:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *argv],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout

    flask("db", "upgrade")
    flask("users", "create", "team@agency.gov", "--name", "Team", "--role", "team",
          "--password", "correct horse battery staple")
    token = flask("tokens", "create", "team@agency.gov").strip().splitlines()[-1]
    flask("users", "create", "board@agency.gov", "--name", "Board", "--role", "board",
          "--password", "correct horse battery staple")
    board = flask("tokens", "create", "board@agency.gov").strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    failures = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                request(base + "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        pilot = {
            "name": "Benefits triage", "agency": "MCG", "purpose": "Triage claims.",
            "stage": "pilot", "owner_email": "team@agency.gov",
        }
        status, body = request(base + "/api/v1/pilots", data=json.dumps(pilot).encode(),
                               headers=auth)
        assert status == 201, body
        pilot_id = json.loads(body)["id"]
        worker = worker_pid(server.pid)
        # Warm the worker's bias-check path with a small valid check first.
        small = b"g,y,p\n" + b"a,1,0\nb,0,1\na,1,1\nb,0,0\n" * 50
        fields = {"y_true": "y", "y_pred": "p", "sensitive_features": "g"}
        data, content_type = multipart(fields, "small.csv", small)
        upload = f"{base}/api/v1/pilots/{pilot_id}/bias-checks"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        status, body = request(upload, data=data, headers=headers)
        assert status == 201, body

        started = time.perf_counter()
        content = bomb(args.rows)
        made = time.perf_counter() - started
        data, content_type = multipart(fields, "bomb.parquet", content)
        headers["Content-Type"] = content_type
        rss_before = proc_kib(worker, "VmRSS")
        started = time.perf_counter()
        status, body = request(upload, data=data, headers=headers)
        elapsed = time.perf_counter() - started
        hwm_after = proc_kib(worker, "VmHWM")
        growth_mb = (hwm_after - rss_before) * 1024 / 1e6
        message = json.loads(body).get("errors", {}).get("file", [""])[0]
        print(f"Parquet bomb: {args.rows:,} rows in {len(content) / 1e6:.2f} MB (written in "
              f"{made:.1f} s)")
        print(f"  answer {status} in {elapsed:.2f} s: {message}")
        print(f"  worker pid {worker}: VmRSS before {rss_before / 1024:.1f} MiB, VmHWM after "
              f"{hwm_after / 1024:.1f} MiB, growth {growth_mb:.1f} MB")
        if status != 422 or elapsed > 2 or growth_mb >= 50:
            failures.append("bomb")

        print("1 GiB bodies (Content-Length: 1073741824, 64 KiB send buffer):")
        board_auth = f"Authorization: Bearer {board}\r\n"
        for path, content_type, extra in (
            ("/login", "application/x-www-form-urlencoded", ""),
            (f"/pilots/{pilot_id}/evidence", "multipart/form-data; boundary=x", ""),
            (f"/pilots/{pilot_id}/bias-checks/new", "multipart/form-data; boundary=x", ""),
            (f"/api/v1/pilots/{pilot_id}/bias-checks", "multipart/form-data; boundary=x", ""),
            (f"/api/v1/pilots/{pilot_id}/bias-checks", "multipart/form-data; boundary=x",
             board_auth),
            ("/api/v1/public/concerns", "application/json", ""),
        ):
            status, sent = claim_gib(port, path, content_type, extra)
            who = "board token" if extra else "anonymous"
            print(f"  POST {path} ({who}): {status}, {sent / 1024:,.0f} KiB sent before "
                  "the answer")
            if status is None or status < 300 or sent >= MIB:
                failures.append(path)
    finally:
        server.terminate()
        server.wait(20)
    print("targets met" if not failures else f"targets missed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
