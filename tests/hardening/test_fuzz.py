"""Fuzz every operation of /api/v1/openapi.json with schemathesis, as an administrator.

Each operation gets FUZZ_MAX_EXAMPLES (default 12) generated requests that follow the schema
("positive") and as many that break it ("negative"); operations with path parameters get half
of their positive requests aimed at ids that exist (a seeded registry), the rest at any id.
Generation is derandomised, so a run is reproducible, and shrinking is off, so a failure is
reported as found and the run stays bounded (about a minute on SQLite).

Checks on every response:

- ``not_a_server_error``: no 5xx, ever;
- ``response_schema_conformance``: the body matches the schema documented for its status;
- ``status_code_conformance``: the status is documented (weak here: flask-smorest documents a
  ``default`` error response for every operation, so ``documented_status`` below also
  requires every 2xx status to be listed explicitly);
- ``content_type_conformance`` and ``response_headers_conformance``: the media type and the
  documented headers (X-Pagination, ETag) are what the schema says;
- ``negative_data_rejection`` (negative requests only): a request that breaks the schema is
  refused with a 4xx, never accepted.

No operation is excluded. Destructive ones (DELETE) run last so that they do not remove the
seeded records from under the others; the administrator's own token is un-revoked if a
generated DELETE /tokens/{id} happened to hit it.
"""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
SHRINK = os.environ.get("FUZZ_SHRINK") == "1"


@pytest.fixture
def world(app, factory):
    """A small registry: pilots, data sources, an assessment, evidence, a bias check, ..."""
    from assessments import service as assessments
    from policies import store
    from registry.auth import service as auth_service
    from tests.factories import complete_answers
    from tests.registry.test_permissions import policy_body

    admin = factory.user("admin")
    team = factory.user("team")
    caio = factory.user("caio")
    sources = [factory.data_source(team), factory.data_source(team, contains_pii=False)]
    pilots = [
        factory.pilot(team, data_source_ids=[sources[0].id]),
        factory.pilot(team, stage="pilot", agency="HHS"),
        factory.pilot(admin, name='=HYPERLINK("http://evil")'),
    ]
    doomed = factory.pilot(admin, name="Pilot to delete")
    _, questionnaire = assessments.questionnaire()
    answers = complete_answers(questionnaire)
    assessment = assessments.assess(pilots[0], answers, team)
    draft = store.create_draft(policy_body("9.0.0"), admin)
    evidence = factory.evidence(pilots[0], team)
    check = factory.bias_check(pilots[0], team)
    condition = _approved_with_a_condition(pilots[0], team, caio)
    spare, _ = auth_service.create_token(admin, "spare", actor=None)
    token, clear = auth_service.create_token(admin, "fuzz", actor=None)
    ids = {
        "pilot_id": pilots[0].id,
        "source_id": sources[0].id,
        "assessment_id": assessment.id,
        "version_id": draft.id,
        "evidence_id": evidence.id,
        "check_id": check.id,
        "condition_id": condition.id,
        "token_id": spare.id,
    }
    return {"ids": ids, "doomed": doomed.id, "token": clear, "token_id": token.id, "caio": caio}


def _approved_with_a_condition(pilot, team, caio):
    """Submit the pilot and have the CAIO approve it with a condition, every gap waived."""
    import datetime as dt

    from assessments import service as assessments
    from assessments import workflow

    workflow.submit(pilot, team)
    _, checklist = assessments.compliance(pilot)
    waivers = [
        {"item_id": item.id, "justification": "Seeded for the fuzz test."}
        for item in checklist.blocking()
    ]
    decision = workflow.decide(
        pilot,
        {
            "decision": "approve_with_conditions",
            "rationale": "Seeded for the fuzz test.",
            "conditions": [
                {"text": "Publish a notice.", "due_date": dt.date.today() + dt.timedelta(days=30)}
            ],
            "waivers": waivers,
        },
        caio,
    )
    workflow.comment(pilot, "Seeded comment.", caio)
    return decision.conditions[0] if hasattr(decision, "conditions") else _first_condition(pilot)


def _first_condition(pilot):
    from sqlalchemy import select

    from assessments.models import Condition
    from registry.extensions import db

    return db.session.scalars(select(Condition).where(Condition.pilot_id == pilot.id)).first()


def documented_status(ctx, response, case):
    """Every 2xx answer must be listed in the operation's responses, not just `default`."""
    status = response.status_code
    if 200 <= status < 300:
        documented = set(case.operation.definition.raw.get("responses", {}))
        assert str(status) in documented, (
            f"{case.operation.label} answered {status}, which it does not document "
            f"(documented: {sorted(documented)})"
        )


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    common = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
    ]
    return common, common + [negative_data_rejection]


def test_fuzz_the_api(app, world):
    import schemathesis
    from schemathesis import GenerationMode
    from sqlalchemy import update

    from registry.auth.models import ApiToken
    from registry.extensions import db

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemathesis' own deprecation chatter
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {world['token']}"}
    positive_checks, negative_checks = _checks()
    hypothesis_settings = settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else []),
        report_multiple_bugs=False,
    )

    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    assert len(operations) >= 45
    failures: list[str] = []
    calls = {"n": 0}

    def make_call(operation, checks, negative):
        def call(case):
            calls["n"] += 1
            send = headers
            if negative and "authorization" not in {k.lower() for k in case.headers or {}}:
                send = {}  # the mutation is "no credentials": keep it, expect a 401
            response = case.call(headers=send)
            try:
                case.validate_response(
                    response, checks=checks, additional_checks=[documented_status]
                )
            finally:
                db.session.rollback()
                if operation.path.startswith("/api/v1/tokens/"):
                    db.session.execute(
                        update(ApiToken)
                        .where(ApiToken.id == world["token_id"])
                        .values(revoked_at=None)
                    )
                    db.session.commit()

        return call

    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        known = {name: world["ids"][name] for name in names if name in world["ids"]}
        if operation.method.upper() == "DELETE" and operation.path.endswith("/pilots/{pilot_id}"):
            known["pilot_id"] = world["doomed"]
        for mode, checks in (
            (GenerationMode.POSITIVE, positive_checks),
            (GenerationMode.NEGATIVE, negative_checks),
        ):
            strategy = operation.as_strategy(generation_mode=mode)
            if known and mode is GenerationMode.POSITIVE:
                strategy = st.one_of(
                    operation.as_strategy(generation_mode=mode, path_parameters=known), strategy
                )

            run = hypothesis_settings(
                given(case=strategy)(make_call(operation, checks, mode is GenerationMode.NEGATIVE))
            )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run()
            except Unsatisfiable:
                continue  # nothing to break: the operation takes no parameters and no body
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collect them all
                failures.append(f"{operation.label} [{mode.value}]: {error}"[:3000])

    print(f"fuzzed {len(operations)} operations with {calls['n']} requests")
    assert not failures, f"{len(failures)} findings:\n\n" + "\n\n".join(failures)
