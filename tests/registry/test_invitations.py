"""Invitations (a one-time link to set a first password) and the forced password change after
an administrator typed someone's password."""

from __future__ import annotations

import datetime as dt
import email.policy
import logging
import re
import socket
import threading
import time
from email import message_from_bytes

import pytest
import sqlalchemy as sa

from registry.auth import service
from registry.auth.models import Invitation, User
from registry.auth.tokens import hash_token
from registry.extensions import db

NEW_PASSWORD = "a-brand-new-passphrase-77"


def _link(html: str) -> str:
    match = re.search(r'value="(http://localhost/invitations/[^"]+)"', html)
    assert match, html
    return match.group(1).removeprefix("http://localhost")


def _invite(client, email="new.person@agency.gov", role="team"):
    response = client.post(
        "/users/invite", data={"email": email, "name": "New Person", "role": role}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_an_invited_person_sets_a_password_through_the_link_and_signs_in(
    app, client, login, caplog
):
    login("admin")
    with caplog.at_level(logging.WARNING, logger="registry.auth.invitations"):
        page = _invite(client).get_data(as_text=True)
    path = _link(page)
    token = path.rsplit("/", 1)[1]
    # No SMTP here: the page shows the link, and the log names it for the operator.
    assert "No email was sent" in page
    assert any(token in record.getMessage() for record in caplog.records)
    invited = _user("new.person@agency.gov")
    assert invited.password_hash is None and not invited.must_change_password
    stored = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == invited.id))
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    expires = stored.expires_at.replace(tzinfo=dt.UTC) - stored.created_at.replace(tzinfo=dt.UTC)
    assert expires == dt.timedelta(hours=72)
    # Nobody can sign in to the account before the link is used.
    assert service.check_login("new.person@agency.gov", "") is None

    client.post("/logout")
    form = client.get(path)
    assert form.status_code == 200 and "Choose your password" in form.get_data(as_text=True)
    # A mismatch is refused naming the field, and nothing is spent or written.
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": "something-else-9"})
    assert mismatch.status_code == 422 and "not the same" in mismatch.get_data(as_text=True)
    weak = client.post(path, data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422 and "at least 12 characters" in weak.get_data(as_text=True)
    db.session.expire_all()
    assert _user("new.person@agency.gov").password_hash is None
    assert db.session.get(Invitation, stored.id).used_at is None

    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    signed_in = client.post(
        "/login", data={"email": "new.person@agency.gov", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302
    assert client.get("/pilots").status_code == 200
    # The link is spent: it works once.
    client.post("/logout")
    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    replay = client.post(path, data={"password": "another-passphrase-88", "confirm": "another-passphrase-88"})
    assert replay.status_code == 410
    assert service.check_login("new.person@agency.gov", NEW_PASSWORD) is not None


def test_an_expired_link_is_refused_and_sets_nothing(client, login):
    login("admin")
    path = _link(_invite(client).get_data(as_text=True))
    invited = _user("new.person@agency.gov")
    db.session.execute(
        sa.update(Invitation)
        .where(Invitation.user_id == invited.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    )
    db.session.commit()
    client.post("/logout")
    assert client.get(path).status_code == 410
    refused = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 410 and "expired" in refused.get_data(as_text=True)
    assert _user("new.person@agency.gov").password_hash is None
    assert client.get("/invitations/not-a-real-token").status_code == 410


def test_a_new_invitation_replaces_the_old_link(app, client, login):
    login("admin")
    old = _link(_invite(client).get_data(as_text=True))
    invited = _user("new.person@agency.gov")
    edit = client.get(f"/users/{invited.id}/edit").get_data(as_text=True)
    assert "Send a new invitation link" in edit
    listing = client.get("/users").get_data(as_text=True)
    assert "Invited; the link works until" in listing
    new = _link(client.post(f"/users/{invited.id}/invite").get_data(as_text=True))
    assert new != old
    client.post("/logout")
    assert client.post(old, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 410
    assert client.post(new, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302


def test_inviting_an_existing_email_is_refused_naming_the_field(client, login, factory):
    login("admin")
    taken = factory.user("team")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Invitation))
    response = client.post(
        "/users/invite", data={"email": taken.email, "name": "Someone", "role": "team"}
    )
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == before


class Inbox:
    """An SMTP handler (aiosmtpd) that keeps every message it receives, body included."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.messages.append(
                message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 Message accepted for delivery"

    def wait_for(self, recipient: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if recipient in str(message["To"]):
                        return message
            time.sleep(0.02)
        raise AssertionError(f"no email to {recipient}: {self.messages}")


@pytest.fixture
def smtp(app):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SENDER="registry@agency.gov")
    yield inbox
    controller.stop()


def test_with_smtp_configured_the_link_is_emailed_not_shown(client, login, smtp):
    login("admin")
    page = _invite(client).get_data(as_text=True)
    assert "An invitation is on its way to new.person@agency.gov" in page
    assert "/invitations/" not in page
    message = smtp.wait_for("new.person@agency.gov")
    assert "invited" in message["Subject"]
    body = message.get_content()
    path = re.search(r"http://localhost(/invitations/\S+)", body).group(1)
    assert "72 hours" in body
    client.post("/logout")
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert service.check_login("new.person@agency.gov", NEW_PASSWORD) is not None


def test_an_admin_typed_password_must_be_changed_before_anything_else(client, login, factory):
    login("admin")
    created = client.post(
        "/users/new",
        data={"email": "temp@agency.gov", "name": "Temp Person", "role": "team",
              "password": "temporary-pass-2026"},
    )
    assert created.status_code == 302
    assert _user("temp@agency.gov").must_change_password
    client.post("/logout")
    signed_in = client.post(
        "/login", data={"email": "temp@agency.gov", "password": "temporary-pass-2026"}
    )
    assert signed_in.status_code == 302
    for path in ("/", "/pilots", "/dashboard", "/users"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith("/account/password")
    assert client.post("/pilots/new", data={"name": "x"}).status_code == 303
    page = client.get("/account/password")
    assert page.status_code == 200 and "Choose your own password" in page.get_data(as_text=True)
    # The API is closed too, for a token an operator issued.
    token = service.issue_token(_user("temp@agency.gov"), "t", actor=None)
    api = client.get("/api/v1/pilots", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and "change the password" in api.get_json()["message"]

    wrong = client.post("/account/password", data={
        "current_password": "not-it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    same = client.post("/account/password", data={
        "current_password": "temporary-pass-2026", "password": "temporary-pass-2026",
        "confirm": "temporary-pass-2026"})
    assert same.status_code == 422 and "different from the current one" in same.get_data(as_text=True)
    assert _user("temp@agency.gov").must_change_password

    changed = client.post("/account/password", data={
        "current_password": "temporary-pass-2026", "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert changed.status_code == 302
    assert not _user("temp@agency.gov").must_change_password
    assert client.get("/pilots").status_code == 200  # still signed in, everything open
    client.post("/logout")
    assert service.check_login("temp@agency.gov", "temporary-pass-2026") is None
    assert service.check_login("temp@agency.gov", NEW_PASSWORD) is not None


def test_an_admin_resetting_someone_elses_password_forces_a_change(client, login, factory):
    admin = login("admin")
    other = factory.user("caio")
    response = client.post(f"/users/{other.id}/edit", data={
        "name": other.name, "role": "caio", "active": "on", "password": "reset-by-admin-2026"})
    assert response.status_code == 302
    assert _user(other.email).must_change_password
    # An administrator changing their own password there is not forced.
    client.post(f"/users/{admin.id}/edit", data={
        "name": admin.name, "role": "admin", "active": "on", "password": "my-own-new-pass-2026"})
    assert not _user(admin.email).must_change_password


def test_a_user_created_on_the_command_line_with_a_password_is_not_forced(runner, client, factory):
    result = runner.invoke(args=["users", "create", "ops@agency.gov", "--name", "Ops",
                                 "--role", "admin", "--password", "an-operator-pass-2026"])
    assert result.exit_code == 0, result.output
    assert not _user("ops@agency.gov").must_change_password
    client.post("/login", data={"email": "ops@agency.gov", "password": "an-operator-pass-2026"})
    assert client.get("/users").status_code == 200
