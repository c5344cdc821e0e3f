"""Factories that build users, tokens, pilots and data sources through the services."""

from __future__ import annotations

import itertools

from registry.auth import service as auth_service
from registry.catalog import service as catalog_service

_counter = itertools.count(1)


class Factory:
    PASSWORD = "correct-horse-battery-2026"

    def __init__(self, app):
        self.app = app

    def user(self, role: str = "team", *, email: str | None = None, name: str | None = None):
        n = next(_counter)
        return auth_service.create_user(
            {
                "email": email or f"{role}{n}@agency.gov",
                "name": name or f"{role.title()} Person {n}",
                "role": role,
                "password": self.PASSWORD,
            },
            actor=None,
        )

    def enrol_mfa(self, user) -> list[str]:
        """Set up an authenticator app for the user, as the set-up page does; the recovery codes.

        The secret is on `user.mfa.secret`; `totp_code` gives the codes its app would show.
        """
        from registry.auth import mfa

        mfa.pending_secret(user)
        return mfa.confirm_enrolment(user, self.totp_code(user))

    def totp_code(self, user) -> str:
        """A code the user's app shows now (give or take a step) that sign-in has not used yet.

        When every step sign-in accepts now is used up, the record is moved back one step, as
        if the next code had come up: tests that sign in many times never wait for the clock.
        """
        import time

        import pyotp

        from registry.auth import mfa
        from registry.auth.models import MfaEnrolment
        from registry.extensions import db

        row = db.session.get(MfaEnrolment, user.id)
        db.session.refresh(row)
        totp = pyotp.TOTP(row.secret)
        now = int(time.time()) // totp.interval
        step = now if row.last_step is None or row.last_step < now else row.last_step + 1
        if step > now + mfa.DRIFT_STEPS:
            row.last_step = now - 1
            db.session.commit()
            step = now
        return totp.generate_otp(step)

    def token(self, user) -> str:
        return auth_service.issue_token(user, "test", actor=None)

    def headers(self, user) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def data_source(self, actor, **fields):
        n = next(_counter)
        data = {"name": f"Data source {n}", "contains_pii": True}
        data.update(fields)
        return catalog_service.create_data_source(data, actor)

    def pilot(self, owner, **fields):
        n = next(_counter)
        data = {
            "name": f"Pilot {n}",
            "purpose": "Routes resident requests to the right team.",
            "agency": "MCG",
            "owner_email": owner.email,
            "stage": "pre_deployment",
            "is_high_impact": "Not High-impact",
        }
        data.update(fields)
        return catalog_service.create_pilot(data, owner)

    def public_pilot(self, owner, **fields):
        """A pilot submitted for review, and so listed in the public inventory."""
        from assessments import workflow

        pilot = self.pilot(owner, **fields)
        workflow.submit(pilot, owner)
        return pilot

    def republish(self, pilot, editor, publisher=None):
        """Put the pilot's public record through ready -> published, as it stands now."""
        from assessments import publishing

        publishing.mark_ready(pilot, editor)
        return publishing.publish(pilot, publisher or self.user("caio"))

    def set_state(self, pilot, **values):
        """Put a pilot straight into a state, for tests of what happens from there.

        Only the lifecycle may change a pilot's state; tests that need a state without the
        steps leading to it borrow the lifecycle's permission here, and nowhere else.
        """
        from registry.catalog import lifecycle
        from registry.extensions import db

        with lifecycle._state_change():
            for name, value in values.items():
                setattr(pilot, name, value)
        db.session.commit()
        return pilot

    def condition(self, pilot, text="Publish a plain-language notice."):
        """An open condition from a (directly recorded) approval, for permission tests."""
        import datetime as dt

        from assessments.models import Condition, Decision
        from registry.extensions import db

        decision = Decision(pilot_id=pilot.id, round=1, decision="approve_with_conditions",
                            rationale="Test.", decided_at=dt.datetime.now(dt.UTC), snapshot={})
        db.session.add(decision)
        db.session.flush()
        condition = Condition(pilot_id=pilot.id, decision_id=decision.id, text=text,
                              due_date=dt.date.today() + dt.timedelta(days=30), status="open")
        db.session.add(condition)
        db.session.commit()
        return condition

    def bias_check(self, pilot, actor, content=None):
        import io

        from werkzeug.datastructures import FileStorage

        from assessments import bias_checks

        content = content or b"g,y,p\n" + b"".join(
            f"{'ab'[i % 2]},{i % 3 % 2},{i % 5 % 2}\n".encode() for i in range(60)
        )
        upload = FileStorage(stream=io.BytesIO(content), filename="outputs.csv")
        form = {"y_true": "y", "y_pred": "p", "sensitive_features": ["g"]}
        return bias_checks.create(pilot, upload, form, actor)

    def evidence(
        self, pilot, actor, *, kind="pia", content=b"Privacy impact assessment\n", name="pia.txt"
    ):
        import io

        from werkzeug.datastructures import FileStorage

        from assessments import service as assessments

        upload = FileStorage(stream=io.BytesIO(content), filename=name)
        return assessments.add_evidence(
            pilot, upload, kind=kind, item_id=None, title=None, actor=actor
        )


def complete_answers(questionnaire: dict, pick: str = "lowest") -> dict:
    """Answers to every question that ends up visible, picking the lowest or highest weight."""
    import policies

    answers: dict = {}
    for question in questionnaire["questions"]:
        visible = {q["id"] for q in policies.visible_questions(questionnaire, answers)}
        if question["id"] not in visible:
            continue
        choices = sorted(question["choices"], key=lambda c: c["weight"])
        if question.get("multiple"):
            chosen = [c["value"] for c in choices if not c.get("exclusive")]
            answers[question["id"]] = chosen[:1] if pick == "lowest" else chosen[-2:]
        else:
            answers[question["id"]] = (choices[0] if pick == "lowest" else choices[-1])["value"]
    return answers
