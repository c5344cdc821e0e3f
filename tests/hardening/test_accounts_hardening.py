"""Issue #13's low findings on accounts and production: password rules (11), HSTS (12), and
`seed-demo` in production (18)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.auth import service
from registry.auth.models import User
from registry.errors import ValidationFailed
from registry.extensions import db


@pytest.mark.parametrize(
    "password",
    [" " * 12, "\u00a0" * 12, "\u00a0 \t\u2007\u202f\u3000" * 3, "\u200b" * 12 + " " * 12],
    ids=["spaces", "no-break spaces", "mixed unicode spaces", "zero-width and spaces"],
)
def test_a_password_of_only_spaces_is_refused_and_the_field_named(app, factory, password):
    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            {"email": "blank@agency.gov", "name": "Blank", "role": "team", "password": password},
            actor=None,
        )
    assert list(refused.value.errors) == ["password"]
    assert "only spaces" in refused.value.errors["password"][0]
    user = factory.user("team")
    with pytest.raises(ValidationFailed) as refused:
        service.update_user(user, {"password": password}, factory.user("admin"))
    assert "password" in refused.value.errors


@pytest.mark.parametrize(
    "password",
    [
        "longname.person@agency.gov",
        "  LongName.Person@Agency.GOV  ",
        "xlongname.person@agency.gov1",
    ],
)
def test_the_accounts_own_email_is_refused_as_its_password(app, factory, password):
    email = "longname.person@agency.gov"
    with pytest.raises(ValidationFailed) as refused:
        service.create_user(
            {"email": email, "name": "Long Name", "role": "team", "password": password},
            actor=None,
        )
    assert refused.value.errors["password"] == [
        "The password must not contain the account's email address."
    ]
    user = factory.user("team", email="someone.else@agency.gov")
    with pytest.raises(ValidationFailed) as refused:
        service.update_user(user, {"password": " someone.else@agency.gov "}, factory.user("admin"))
    assert "email address" in refused.value.errors["password"][0]
    # Another account's email is only a password like any other.
    service.update_user(user, {"password": email}, factory.user("admin"))


def test_the_users_page_names_the_password_field(client, login):
    login("admin")
    response = client.post(
        "/users/new",
        data={"email": "new@agency.gov", "name": "New", "role": "team", "password": "\u00a0" * 14},
    )
    assert response.status_code == 422
    assert "only spaces" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(User.email == "new@agency.gov")) == 0


def test_the_command_line_refuses_a_blank_password(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "cli@agency.gov",
            "--name",
            "C",
            "--role",
            "team",
            "--password",
            " " * 16,
        ]
    )
    assert result.exit_code == 2 and "password:" in result.output


def test_production_sends_strict_transport_security(database_uri, tmp_path, client):
    from registry import create_app
    from tests.conftest import BASE_CONFIG

    assert "Strict-Transport-Security" not in client.get("/login").headers  # development
    production = create_app(
        {
            **BASE_CONFIG,
            "REGISTRY_ENV": "production",
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
        }
    )
    try:
        for path in ("/login", "/healthz", "/api/v1/inventory.json"):
            response = production.test_client().get(path)
            assert response.headers["Strict-Transport-Security"] == (
                "max-age=31536000; includeSubDomains"
            ), path
    finally:
        with production.app_context():
            db.session.remove()
            db.engine.dispose()


def test_seed_demo_refuses_production_unless_forced(app, runner):
    app.config["REGISTRY_ENV"] = "production"
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code == 2
    assert "REGISTRY_ENV=production" in refused.output and "--force" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    forced = runner.invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) > 0
