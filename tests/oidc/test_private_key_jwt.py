"""Sign-in with private_key_jwt client authentication (what Login.gov requires), against the
real oidc-provider, whose second client is registered with only its public keys."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.auth.models import User
from registry.extensions import db
from tests.oidc.conftest import (
    JWT_CLIENT_ID,
    JWT_KEY_ID,
    dispose,
    make_app,
    oidc_config,
    sign_in_over_http,
)


def _jwt_app(database_uri, tmp_path, provider, key_file, **extra):
    config = oidc_config(
        provider.issuer,
        OIDC_CLIENT_ID=JWT_CLIENT_ID,
        OIDC_CLIENT_SECRET=None,
        OIDC_CLIENT_PRIVATE_KEY=str(key_file),
        OIDC_CLIENT_KEY_ID=JWT_KEY_ID,
        **extra,
    )
    return make_app(database_uri, tmp_path, config)


@pytest.fixture
def jwt_app(database_uri, tmp_path, provider, client_keys):
    app = _jwt_app(database_uri, tmp_path, provider, client_keys.private_key)
    yield app
    dispose(app)


@pytest.fixture
def wrong_key_app(database_uri, tmp_path, provider, client_keys):
    app = _jwt_app(database_uri, tmp_path, provider, client_keys.wrong_private_key)
    yield app
    dispose(app)


def test_private_key_jwt_signs_in_with_the_registered_key(jwt_app, provider):
    provider.set_accounts(
        {"lena": {"email": "lena@agency.gov", "name": "Lena Login", "groups": ["registry-teams"]}}
    )
    client = jwt_app.test_client()
    with jwt_app.app_context():
        # The provider knows this client only by its public keys: no secret would do.
        answer, _ = sign_in_over_http(client, "lena")
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
        user = db.session.scalar(select(User).where(User.email == "lena@agency.gov"))
        assert user is not None and user.role == "team"
        assert user.oidc_subject == f"{provider.issuer}|lena"
        assert "Lena Login" in client.get("/").get_data(as_text=True)


def test_a_key_the_provider_does_not_know_is_refused_and_audited(wrong_key_app, provider):
    provider.set_accounts(
        {"mo": {"email": "mo@agency.gov", "name": "Mo", "groups": ["registry-admins"]}}
    )
    client = wrong_key_app.test_client()
    with wrong_key_app.app_context():
        answer, _ = sign_in_over_http(client, "mo")
        assert answer.status_code == 502
        assert "did not accept this site's own credentials" in unescape(
            answer.get_data(as_text=True)
        )
        assert db.session.scalar(select(User).where(User.email == "mo@agency.gov")) is None
        assert client.get("/pilots").status_code == 302  # not signed in
        refusal = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "refuse_sign_in")
        )
        assert refusal.changes == {"method": "oidc", "reason": "oauth:invalid_client"}


def test_an_unusable_key_file_stops_the_app_naming_the_setting(
    database_uri, tmp_path, provider, client_keys
):
    from joserfc.jwk import RSAKey

    public_only = tmp_path / "public.pem"
    public_only.write_bytes(RSAKey.import_key(client_keys.private_key.read_bytes()).as_pem(
        private=False
    ))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key", encoding="utf-8")
    for path, words in (
        (tmp_path / "missing.pem", "cannot read"),
        (public_only, "holds a public key"),
        (garbage, "is not an RSA or EC private key"),
    ):
        with pytest.raises(RuntimeError, match="OIDC_CLIENT_PRIVATE_KEY") as raised:
            _jwt_app(database_uri, tmp_path, provider, path)
        assert words in str(raised.value)
