"""Multi-factor sign-in for password accounts, with the product's requirement for admins and CAIOs."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.auth.models import MfaEnrolment, MfaRecoveryCode, User
from registry.extensions import db
from tests.conftest import REQUIRED_MFA


@pytest.fixture
def app_config():
    # The product default: administrators and CAIOs must use a second factor.
    return {**REQUIRED_MFA, "LOGIN_MAX_FAILURES": 4}


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def _password(client, factory, user):
    return client.post("/login", data={"email": user.email, "password": factory.PASSWORD})


def _signed_in(client) -> bool:
    return client.get("/pilots").status_code == 200


def _secret_on(page: str) -> str:
    match = re.search(r'<code id="mfa-secret">([A-Z2-7 ]+)</code>', page)
    assert match, page
    return match.group(1).replace(" ", "")


def _recovery_codes_on(page: str) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", page)


def _code(secret: str, step_offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time()) // totp.interval + step_offset)


def test_a_required_role_is_sent_to_set_up_an_app_and_can_do_nothing_else(client, factory):
    caio = factory.user("caio")
    answer = _password(client, factory, caio)
    assert answer.status_code == 302 and answer.location.endswith("/login/set-up-app")
    # Password right, app not set up: not signed in; every page still asks to sign in.
    for path in ("/pilots", "/users", "/account/security", "/account/security/app"):
        assert client.get(path).status_code == 302, path
    assert client.get("/login/code").location.endswith("/login")

    page = client.get("/login/set-up-app")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "QR code" in html
    secret = _secret_on(html)
    # Drawn here: no image from elsewhere, and the page's policy allows no such thing.
    assert "http" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]

    wrong = client.post("/login/set-up-app", data={"code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    assert not _signed_in(client)
    assert _events("refuse_mfa")[-1].changes["step"] == "enrolment"

    done = client.post("/login/set-up-app", data={"code": _code(secret)})
    codes = _recovery_codes_on(done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert _signed_in(client)
    assert _events("enrol_mfa")[-1].entity_id == str(caio.id)
    # Only hashes are stored, and the codes are never shown again.
    stored = db.session.scalars(select(MfaRecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert not set(codes) & set(
        _recovery_codes_on(client.get("/account/security").get_data(as_text=True))
    )


def test_each_sign_in_shows_a_new_secret_until_one_is_confirmed(client, factory):
    admin = factory.user("admin")
    _password(client, factory, admin)
    first = _secret_on(client.get("/login/set-up-app").get_data(as_text=True))
    assert _secret_on(client.get("/login/set-up-app").get_data(as_text=True)) == first
    client.post("/login/cancel")
    _password(client, factory, admin)
    assert _secret_on(client.get("/login/set-up-app").get_data(as_text=True)) != first


def test_an_enrolled_user_signs_in_with_a_code_from_the_app(client, factory):
    caio = factory.user("caio")
    factory.enrol_mfa(caio)
    answer = _password(client, factory, caio)
    assert answer.status_code == 302 and answer.location.endswith("/login/code")
    assert not _signed_in(client)
    signed = client.post("/login/code?next=/users", data={"code": factory.totp_code(caio)})
    assert signed.status_code == 302 and _signed_in(client)
    assert _events("sign_in")[-1].changes == {"method": "password", "mfa": "totp"}


def test_a_wrong_code_is_refused_audited_and_counted_toward_the_lockout(client, factory, app):
    caio = factory.user("caio")
    factory.enrol_mfa(caio)
    step_before = db.session.get(MfaEnrolment, caio.id).last_step
    _password(client, factory, caio)  # counts as one attempt until the second step succeeds
    for attempt in range(2):
        refused = client.post("/login/code", data={"code": "123456"})
        assert refused.status_code == 422, attempt
        assert "That code is not right" in refused.get_data(as_text=True)
        assert not _signed_in(client)
    refusals = _events("refuse_sign_in")
    assert [e.changes["reason"] for e in refusals] == ["wrong_code", "wrong_code"]
    assert all(e.entity_id == str(caio.id) for e in refusals)
    db.session.expire_all()
    assert db.session.get(MfaEnrolment, caio.id).last_step == step_before
    # The fourth failure (LOGIN_MAX_FAILURES=4) locks the email; the right code no longer helps.
    locked = client.post("/login/code", data={"code": "654321"})
    assert locked.status_code == 429 and "locked" in locked.get_data(as_text=True)
    still = client.post("/login/code", data={"code": factory.totp_code(caio)})
    assert still.status_code == 429 and not _signed_in(client)
    assert _events("refuse_sign_in")[-1].changes["reason"] == "locked"
    assert _password(client, factory, caio).status_code == 429


def test_a_stolen_password_does_not_reset_the_count_of_wrong_codes(client, factory):
    caio = factory.user("caio")
    factory.enrol_mfa(caio)
    _password(client, factory, caio)
    assert client.post("/login/code", data={"code": "111111"}).status_code == 422
    # The right password again does not give the guesser a fresh count: with
    # LOGIN_MAX_FAILURES=4, password, code, password, code is the fourth and locks.
    assert _password(client, factory, caio).status_code == 302
    assert client.post("/login/code", data={"code": "222222"}).status_code == 429
    assert _password(client, factory, caio).status_code == 429


def test_a_code_can_not_be_used_twice(client, factory):
    caio = factory.user("caio")
    factory.enrol_mfa(caio)
    code = factory.totp_code(caio)
    _password(client, factory, caio)
    assert client.post("/login/code", data={"code": code}).status_code == 302
    client.post("/logout")
    _password(client, factory, caio)
    replayed = client.post("/login/code", data={"code": code})
    assert replayed.status_code == 422 and "already been used" in replayed.get_data(as_text=True)
    assert not _signed_in(client)
    assert _events("refuse_sign_in")[-1].changes["reason"] == "replayed_code"


def test_a_recovery_code_works_once(client, factory):
    user = factory.user("caio")
    codes = factory.enrol_mfa(user)
    _password(client, factory, user)
    used = client.post("/login/code", data={"code": codes[3].upper()})
    assert used.status_code == 302 and _signed_in(client)
    assert _events("sign_in")[-1].changes["mfa"] == "recovery_code"
    assert "9 of 10" in client.get("/account/security").get_data(as_text=True)
    client.post("/logout")
    _password(client, factory, user)
    again = client.post("/login/code", data={"code": codes[3]})
    assert again.status_code == 422 and "already been used" in again.get_data(as_text=True)
    assert _events("refuse_sign_in")[-1].changes["reason"] == "used_recovery_code"
    assert client.post("/login/code", data={"code": codes[4]}).status_code == 302


def test_changing_the_second_factor_needs_the_password_and_a_code_again(client, factory, login):
    user = factory.user("caio")
    old_codes = factory.enrol_mfa(user)
    login(user=user)
    with client.session_transaction() as session:
        session["reauth_at"] -= 301  # REAUTH_MAX_AGE_SECONDS is 300
    asked = client.post("/account/security/recovery-codes")
    assert asked.status_code == 302 and "/account/confirm-password" in asked.location
    wrong = client.post(
        "/account/confirm-password",
        data={"password": "not-the-password", "code": factory.totp_code(user)},
    )
    assert wrong.status_code == 422 and "password is not right" in wrong.get_data(as_text=True)
    assert _events("refuse_mfa")[-1].changes == {"method": "password", "step": "reauth"}
    no_code = client.post(
        "/account/confirm-password", data={"password": factory.PASSWORD, "code": "000000"}
    )
    assert no_code.status_code == 422
    assert client.post("/account/security/recovery-codes").status_code == 302
    confirmed = client.post(
        "/account/confirm-password?next=/account/security",
        data={"password": factory.PASSWORD, "code": factory.totp_code(user)},
    )
    assert confirmed.status_code == 302 and confirmed.location.endswith("/account/security")
    new = client.post("/account/security/recovery-codes")
    new_codes = _recovery_codes_on(new.get_data(as_text=True))
    assert new.status_code == 200 and len(new_codes) == 10
    assert _events("regenerate_recovery_codes")[-1].entity_id == str(user.id)
    client.post("/logout")
    _password(client, factory, user)
    assert client.post("/login/code", data={"code": old_codes[0]}).status_code == 422
    assert client.post("/login/code", data={"code": new_codes[0]}).status_code == 302


def test_an_optional_user_sets_up_and_turns_off_an_app(client, factory, login):
    user = factory.user("team")
    login(user=user)  # password only: the role does not require a second factor
    page = client.get("/account/security/app")
    secret = _secret_on(page.get_data(as_text=True))
    done = client.post("/account/security/app", data={"code": _code(secret)})
    assert done.status_code == 200 and len(_recovery_codes_on(done.get_data(as_text=True))) == 10
    client.post("/logout")
    assert _password(client, factory, user).location.endswith("/login/code")
    assert client.post("/login/code", data={"code": factory.totp_code(user)}).status_code == 302
    off = client.post("/account/security/turn-off")
    assert off.status_code == 302 and _events("disable_mfa")[-1].entity_id == str(user.id)
    assert db.session.get(MfaEnrolment, user.id) is None
    assert not db.session.scalars(select(MfaRecoveryCode)).all()
    client.post("/logout")
    assert _password(client, factory, user).status_code == 302 and _signed_in(client)


def test_a_required_role_can_not_turn_its_app_off(client, factory, login):
    admin = factory.user("admin")
    factory.enrol_mfa(admin)
    login(user=admin)
    page = client.get("/account/security").get_data(as_text=True)
    assert "Turn off" not in page and "can't be turned off" in page
    refused = client.post("/account/security/turn-off")
    assert refused.status_code == 409
    assert db.session.get(MfaEnrolment, admin.id).enrolled_at is not None
    assert not _events("disable_mfa")


def test_a_half_finished_sign_in_ends_with_the_account(client, factory, app):
    caio = factory.user("caio")
    factory.enrol_mfa(caio)
    _password(client, factory, caio)
    admin = factory.user("admin")
    from registry.auth import service

    service.deactivate_user(db.session.get(User, caio.id), admin, via="test")
    answer = client.post("/login/code", data={"code": factory.totp_code(caio)})
    assert answer.status_code == 302 and answer.location.endswith("/login")
    assert not _signed_in(client)


def test_the_requirement_can_be_turned_off_by_configuration(app, client, factory):
    app.config["MFA_REQUIRED_ROLES"] = ()
    admin = factory.user("admin")
    assert _password(client, factory, admin).status_code == 302 and _signed_in(client)
