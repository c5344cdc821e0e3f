"""A real OpenID Connect provider (npm `oidc-provider`, run by Node) on the loopback interface.

`make test` runs `npm ci` in tests/oidc. Outside CI a missing Node or missing packages skip
these tests with the reason printed; with CI=true they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conftest import BASE_CONFIG, service_missing

HERE = Path(__file__).resolve().parent
CLIENT_ID = "registry-test"
CLIENT_SECRET = "registry-test-secret-0123456789"
# The second client, which authenticates with private_key_jwt (as Login.gov requires).
JWT_CLIENT_ID = "registry-test-jwt"
JWT_KEY_ID = "registry-test-key-1"
APP_BASE = "http://localhost"
ROLE_MAP = {
    "registry-admins": {"role": "admin", "organization": "ROOT"},
    "registry-caios": {"role": "caio", "organization": "ROOT"},
    "registry-board": {"role": "board", "organization": "ROOT"},
    "registry-teams": {"role": "team", "organization": "ROOT"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Provider:
    """A provider process, its issuer URL and the accounts file it reads at every sign-in."""

    def __init__(self, process, issuer: str, accounts: Path):
        self.process = process
        self.issuer = issuer
        self.accounts_file = accounts

    def set_accounts(self, accounts: dict) -> None:
        self.accounts_file.write_text(json.dumps(accounts), encoding="utf-8")

    def set_fault(self, fault: str) -> None:
        response = requests.post(f"{self.issuer}/control", json={"fault": fault}, timeout=5)
        response.raise_for_status()


class ClientKeys:
    """The private_key_jwt client's key pair (its public half registered at the provider) and
    a second private key the provider does not know, as PEM files."""

    def __init__(self, folder: Path):
        from joserfc.jwk import RSAKey

        registered = RSAKey.generate_key(2048, parameters={"kid": JWT_KEY_ID})
        stranger = RSAKey.generate_key(2048, parameters={"kid": JWT_KEY_ID})
        self.private_key = folder / "client-key.pem"
        self.private_key.write_bytes(registered.as_pem(private=True))
        self.wrong_private_key = folder / "someone-elses-key.pem"
        self.wrong_private_key.write_bytes(stranger.as_pem(private=True))
        self.public_jwks = {"keys": [registered.as_dict(private=False, use="sig", alg="RS256")]}


@pytest.fixture(scope="session")
def client_keys(tmp_path_factory) -> ClientKeys:
    return ClientKeys(tmp_path_factory.mktemp("oidc-client-keys"))


def start_provider(
    tmp: Path, mode: str, redirect_uris: list[str], keys: ClientKeys | None = None
) -> Provider:
    node = shutil.which("node")
    if node is None:
        service_missing("Node.js", "no `node` on PATH (the OIDC tests run oidc-provider with it)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        service_missing("oidc-provider", "run `npm ci` in tests/oidc (make test does)")
    port = free_port()
    accounts = tmp / f"accounts-{mode}.json"
    accounts.write_text("{}", encoding="utf-8")
    env = {
        **os.environ,
        "PORT": str(port),
        "MODE": mode,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uris[0],
        "POST_LOGOUT_REDIRECT_URI": f"{APP_BASE}/login",
        "ACCOUNTS_FILE": str(accounts),
    }
    if keys is not None:
        env["JWT_CLIENT_ID"] = JWT_CLIENT_ID
        env["JWT_CLIENT_JWKS"] = json.dumps(keys.public_jwks)
    process = subprocess.Popen(
        [node, str(HERE / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    issuer = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            process.stdout.close()
            pytest.fail(f"the OIDC provider exited at start: {output[-2000:]}")
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                return Provider(process, issuer, accounts)
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    pytest.fail("the OIDC provider did not answer within 30 seconds")


def stop(provider: Provider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
        provider.process.wait(timeout=10)
    if provider.process.stdout:
        provider.process.stdout.close()


@pytest.fixture(scope="session")
def provider(tmp_path_factory, client_keys):
    """The certified oidc-provider, with the test clients' callback registered: one client
    with a secret, one with private_key_jwt and its public keys."""
    started = start_provider(
        tmp_path_factory.mktemp("oidc"),
        "real",
        [f"{APP_BASE}/login/oidc/callback"],
        client_keys,
    )
    yield started
    stop(started)


@pytest.fixture(scope="session")
def forging_provider(tmp_path_factory):
    """A tiny provider that signs ID tokens with a chosen fault (wrong audience, ...)."""
    started = start_provider(
        tmp_path_factory.mktemp("oidc-forge"), "forge", [f"{APP_BASE}/login/oidc/callback"]
    )
    yield started
    stop(started)


def oidc_config(issuer: str, **extra) -> dict:
    return {
        **BASE_CONFIG,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SCOPES": "openid email profile groups",
        "OIDC_ROLE_MAP": ROLE_MAP,
        **extra,
    }


def make_app(database_uri, tmp_path, config):
    from registry import create_app

    return create_app(
        {**config, "SQLALCHEMY_DATABASE_URI": database_uri, "UPLOAD_FOLDER": str(tmp_path / "up")}
    )


def dispose(app):
    from registry.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def oidc_app(database_uri, tmp_path, provider):
    app = make_app(database_uri, tmp_path, oidc_config(provider.issuer))
    yield app
    dispose(app)


@pytest.fixture
def forged_app(database_uri, tmp_path, forging_provider):
    app = make_app(database_uri, tmp_path, oidc_config(forging_provider.issuer))
    yield app
    dispose(app)


def follow_provider(location: str, login: str | None, session: requests.Session) -> str:
    """Follow the provider's redirects (and its login form) until it sends the browser back to
    the app; return that address."""
    for _ in range(20):
        if location.startswith(APP_BASE):
            return location
        response = session.get(location, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            location = urljoin(location, response.headers["Location"])
            continue
        assert response.status_code == 200, response.text[:500]
        assert login is not None, "the provider asked for a login"
        action = response.text.split('action="', 1)[1].split('"', 1)[0]
        posted = session.post(
            urljoin(location, action), data={"login": login}, allow_redirects=False, timeout=10
        )
        assert posted.status_code in (302, 303), posted.text[:500]
        location = urljoin(location, posted.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


def sign_in_over_http(client, login: str | None, session: requests.Session | None = None):
    """Start at /login/oidc with the Flask test client, go through the provider over HTTP, and
    return (the app's answer to the callback, the callback address)."""
    start = client.get("/login/oidc")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    back = follow_provider(start.headers["Location"], login, session or requests.Session())
    parts = urlsplit(back)
    return client.get(f"{parts.path}?{parts.query}"), back
