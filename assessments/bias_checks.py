"""Bias-check rules: accept an upload, validate it before any work, run it, judge it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

import policies
from assessments import (
    bias_compute,
    bias_spec,
    charts,
    compliance,
    job_heartbeat,
    jobs,
    metrics_guide,
    sandbox,
    upload_budget,
)
from assessments.metrics import MAX_GROUPS
from assessments.models import BiasCheck
from policies import store
from policies.fairness import BINARY
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.catalog.models import Pilot
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "succeeded", "failed")
N_BOOT = 1000
SEED = 20260101


# Why a failed check failed: its own error, or its process stopped (job_recovery).
FAILURE_REASONS = (job_heartbeat.ERROR, job_heartbeat.INTERRUPTED)
N_BOOT = 1000
SEED = 20260101


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "bias"


def mapping_errors(form: dict[str, Any]) -> dict[str, list[str]]:
    return bias_spec.spec_from_form(form)[1]


def _max_classes() -> int:
    return int(current_app.config["BIAS_CHECK_MAX_CLASSES"])


def create(pilot: Pilot, upload, form: dict[str, Any], actor) -> BiasCheck:
    """Store the upload, validate it before any work, then run the check or queue it."""
    from assessments.sniffing import check_tabular
    from assessments.storage import stored_upload

    authorize(actor, "pilot.upload", pilot)
    form = dict(form)
    spec, errors = bias_spec.spec_from_form(form)
    if upload is None or not getattr(upload, "filename", None):
        errors["file"] = ["Choose a CSV or Parquet file of model outputs."]
    if errors:
        raise ValidationFailed("The bias check could not be started.", errors)
    provenance = bias_spec.provenance_from_form(form)
    guidance = metrics_guide.recommend(spec.task, form, has_truth=spec.has_truth)
    with stored_upload(
        upload.stream, upload_root(), current_app.config["MAX_UPLOAD_BYTES"]
    ) as stored:
        file_format = check_tabular(stored.path)
        display_name = Path(upload.filename).name[:255] or "upload"
        # Refused from the footer (Parquet) or a streamed line count (CSV) before any data is
        # read; then read and validated in a child process under a hard memory limit.
        upload_budget.check_budget(
            stored.path,
            file_format,
            budget(),
            columns=spec.columns,
            numeric=spec.numeric_columns,
            filename=display_name,
        )
        prepared = _sandboxed(
            bias_compute.inspect,
            str(stored.path),
            spec,
            max_classes=_max_classes(),
            max_rows=budget().max_rows,
            filename=display_name,
        )
        check = BiasCheck(
            pilot_id=pilot.id,
            name=(form.get("name") or "").strip()[:200] or None,
            filename=display_name,
            sha256=stored.sha256,
            size=stored.size,
            file_format=file_format,
            task=spec.task,
            y_true=spec.y_true,
            y_pred=spec.y_pred,
            y_score=spec.y_score,
            outcomes=spec.outcomes or None,
            y_score_low=spec.y_score_bins[0] if spec.y_score_bins else None,
            y_score_high=spec.y_score_bins[1] if spec.y_score_bins else None,
            sensitive_features=spec.features,
            positive_label=spec.positive_label,
            frequency=spec.frequency,
            total_rows=spec.total_rows,
            provenance=provenance,
            guidance=guidance,
            status="queued",
            attempts=0,
            queued_at=datetime.now(UTC),
            created_by_id=actor.id,
            n_rows=prepared["n_rows"],
            n_rows_dropped=prepared["n_rows_dropped"],
        )
        db.session.add(check)
        db.session.flush()
        audit.record(
            actor,
            "create",
            "bias_check",
            check.id,
            {
                "pilot_id": pilot.id,
                "sha256": stored.sha256,
                "size": stored.size,
                "n_rows": prepared["n_rows"],
                "n_rows_dropped": prepared["n_rows_dropped"],
                "sensitive_features": spec.features,
                "task": spec.task,
                **({"aggregated": True} if spec.frequency else {}),
            },
        )
        db.session.commit()
    # Aggregated input is small whatever the rows it stands for: it runs inline too.
    if prepared["work"] <= current_app.config.get("BIAS_CHECK_INLINE_ROWS", 200_000):
        # Small checks finish in well under a second: answer with the result straight away.
        run(check.id)
        db.session.refresh(check)
    else:
        enqueue(check.id)
    return check


def budget() -> upload_budget.Budget:
    """The most rows and decoded bytes one upload may hold (BIAS_CHECK_MAX_ROWS and
    BIAS_CHECK_MEMORY_BUDGET_BYTES)."""
    config = current_app.config
    return upload_budget.Budget(
        max_rows=int(config["BIAS_CHECK_MAX_ROWS"]),
        max_bytes=int(config["BIAS_CHECK_MEMORY_BUDGET_BYTES"]),
    )


def sandbox_limits() -> sandbox.Limits:
    """The hard limits of the child process that reads a file and computes its metrics."""
    config = current_app.config
    return sandbox.Limits(
        memory_bytes=int(config["BIAS_CHECK_WORKER_MEMORY_BYTES"]),
        cpu_seconds=int(config["BIAS_CHECK_WORKER_CPU_SECONDS"]),
        wall_seconds=int(config.get("BIAS_CHECK_TIMEOUT_SECONDS", 900)),
    )


def _sandboxed(func, *args, filename: str, **kwargs):
    """``func`` in a child process under sandbox_limits(); running out of them is a 422."""
    try:
        return sandbox.run_limited(func, *args, limits=sandbox_limits(), **kwargs)
    except sandbox.ResourceLimitExceeded as error:
        message = f"{filename} could not be checked: {error.message}."
        raise ValidationFailed(message, {"file": [message]}) from None


def limits() -> dict[str, int]:
    """The limits a check must keep: groups, classes and upload size."""
    return {
        "max_groups": MAX_GROUPS,
        "max_classes": _max_classes(),
        "max_upload_bytes": int(current_app.config["MAX_UPLOAD_BYTES"]),
    }


def _heartbeat(check_id: int, **values: Any) -> None:
    db.session.execute(
        update(BiasCheck)
        .where(BiasCheck.id == check_id)
        .values(heartbeat_at=datetime.now(UTC), **values)
    )
    db.session.commit()


def run(check_id: int) -> None:
    """Run a check to the end, recording every state in the database.

    The process holds the check while it runs, so its heartbeat beats through every phase.
    """
    with job_heartbeat.holding(check_id, running=True):
        _run(check_id)


def _claim(check_id: int) -> int | None:
    """Move a queued check to running; its attempt number, or None if it was not queued."""
    claimed = db.session.execute(
        update(BiasCheck)
        .where(BiasCheck.id == check_id, BiasCheck.status == "queued")
        .values(
            status="running",
            started_at=datetime.now(UTC),
            heartbeat_at=datetime.now(UTC),
            attempts=func.coalesce(BiasCheck.attempts, 0) + 1,
            error=None,
            failure_reason=None,
        )
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    return db.session.scalar(select(BiasCheck.attempts).where(BiasCheck.id == check_id))


def _still_ours(check_id: int, attempt: int) -> BiasCheck | None:
    """The check, locked, if this run still owns it (not interrupted or re-run meanwhile)."""
    check = db.session.get(BiasCheck, check_id, with_for_update=True, populate_existing=True)
    if check is None or check.status != "running" or check.attempts != attempt:
        log.warning(
            "bias check %s: attempt %s ended elsewhere; result discarded", check_id, attempt
        )
        db.session.rollback()
        return None
    return check


def _run(check_id: int) -> None:
    started = time.perf_counter()
    attempt = _claim(check_id)
    if attempt is None:  # not queued: another executor has it, or it ended
        return
    check = db.session.get(BiasCheck, check_id)
    try:
        from assessments.storage import path_for

        pilot = db.session.get(Pilot, check.pilot_id)
        version, document = store.active_policy()
        task = check.task or BINARY
        min_group_size, thresholds = policies.fairness_thresholds(
            document, pilot.risk_tier, task=task
        )
        # Reading the file and the metrics run in a child process under hard limits.
        try:
            outcome = sandbox.run_limited(
                bias_compute.compute,
                str(path_for(upload_root(), check.sha256)),
                bias_spec.spec_of(check),
                max_classes=_max_classes(),
                max_rows=budget().max_rows,
                n_boot=N_BOOT,
                seed=SEED,
                min_group_size=min_group_size,
                thresholds=thresholds,
                policy_label=version.label,
                input_sha256=check.sha256,
                limits=sandbox_limits(),
                heartbeat=lambda: _heartbeat(check_id),
            )
        except sandbox.ResourceLimitExceeded as error:
            raise ValidationFailed(f"The check could not be computed: {error.message}.") from None
        _heartbeat(check_id)
        result, judged = outcome["result"], outcome["judged"]
        svgs = charts.check_charts(result, judged["findings"])
        analysis = result.get("what_if")
        if analysis is not None and analysis.get("options"):
            svgs["what_if"] = charts.what_if_chart_svg(analysis)
        previous = latest_succeeded(pilot, before_id=check_id)
        check = _still_ours(check_id, attempt)
        if check is None:
            return
        check.results = result
        check.verdict = judged["verdict"]
        check.findings = judged["findings"]
        check.charts = svgs
        check.n_rows = outcome["n_rows"]
        check.n_rows_dropped = outcome["n_rows_dropped"]
        check.policy_version_id = version.id
        check.policy_version_label = version.label
        check.status = "succeeded"
        check.finished_at = datetime.now(UTC)
        check.duration_ms = int((time.perf_counter() - started) * 1000)
        audit.record(
            None,
            "complete",
            "bias_check",
            check.id,
            {
                "pilot_id": check.pilot_id,
                "status": "succeeded",
                "verdict": check.verdict,
                "policy_version": version.label,
            },
        )
        if previous is not None and previous.verdict == "pass" and check.verdict == "fail":
            audit.record(
                None,
                "flip_to_fail",
                "bias_check",
                check.id,
                {"pilot_id": pilot.id, "previous_check": previous.id},
            )
            signals.bias_check_flipped.send(pilot, previous=previous, current=check)
        signals.compliance_inputs_changed.send(pilot, what="bias_check")
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - any failure must end as a failed check, not a crash
        db.session.rollback()
        message = getattr(error, "message", None) or str(error) or error.__class__.__name__
        if getattr(error, "errors", None):
            message += " " + "; ".join(f"{k}: {v}" for k, v in error.errors.items())
        if not isinstance(error, ValidationFailed):
            log.exception("bias check %s failed", check_id)
        fail(check_id, message[:2000], attempt=attempt)


def enqueue(check_id: int) -> None:
    """Queue a check's job: on RQ under a known job id, in-process held until it has run."""
    if jobs.uses_rq():
        jobs.enqueue(run_job, check_id, job_id=job_heartbeat.rq_job_id(check_id))
        return
    hold = job_heartbeat.acquire(check_id)
    try:
        jobs.enqueue(run_job, check_id, on_done=lambda: job_heartbeat.release(hold))
    except BaseException:
        job_heartbeat.release(hold)
        raise


def run_job(check_id: int) -> None:
    """The job entry point (in-process or on an RQ worker): run one check by its id."""
    log.info("job bias-check %s: start", check_id)
    run(check_id)
    log.info("job bias-check %s: done", check_id)


def fail(check_id: int, message: str, *, attempt: int | None = None) -> None:
    """End a running check as failed by its own error (unless it has ended otherwise)."""
    check = db.session.get(BiasCheck, check_id, with_for_update=True, populate_existing=True)
    if check is None or check.status not in job_heartbeat.ACTIVE:
        db.session.rollback()
        return
    if attempt is not None and check.attempts != attempt:
        db.session.rollback()
        return
    check.status = "failed"
    check.failure_reason = job_heartbeat.ERROR
    check.error = message
    check.finished_at = datetime.now(UTC)
    audit.record(
        None,
        "complete",
        "bias_check",
        check.id,
        {"pilot_id": check.pilot_id, "status": "failed", "error": message[:500]},
    )
    db.session.commit()


_RERUN_COPIED = (
    "pilot_id", "name", "filename", "sha256", "size", "file_format", "task", "y_true",
    "y_pred", "y_score", "y_score_low", "y_score_high", "outcomes", "sensitive_features",
    "positive_label", "frequency", "total_rows", "provenance", "guidance", "n_rows",
    "n_rows_dropped",
)  # fmt: skip


def rerun(check: BiasCheck, actor) -> BiasCheck:
    """Run a check that has ended again; a check still queued or running is a conflict.

    A failed (or interrupted) check is queued again as it is. A succeeded check keeps its
    result, which decisions and revisions may rest on: the re-run is a new check of the same
    upload, judged by the policy in force now.
    """
    pilot = db.session.get(Pilot, check.pilot_id)
    authorize(actor, "pilot.upload", pilot)
    if check.status not in job_heartbeat.ENDED:
        raise Conflict(
            f"The check is still {check.status}; it can be re-run once it has ended.",
            {"status": [f"The check is '{check.status}'."]},
        )
    now = datetime.now(UTC)
    if check.status == "succeeded":
        again = BiasCheck(
            **{name: getattr(check, name) for name in _RERUN_COPIED},
            status="queued",
            attempts=0,
            queued_at=now,
            created_by_id=actor.id,
        )
        db.session.add(again)
        db.session.flush()
        audit.record(
            actor,
            "rerun",
            "bias_check",
            again.id,
            {"pilot_id": check.pilot_id, "rerun_of": check.id},
        )
        check = again
    else:
        check.status = "queued"
        check.error = check.failure_reason = None
        check.queued_at = now
        check.started_at = check.finished_at = check.heartbeat_at = None
        audit.record(actor, "rerun", "bias_check", check.id, {"pilot_id": check.pilot_id})
    db.session.commit()
    enqueue(check.id)
    return check


def get(check_id: int) -> BiasCheck:
    check = db.session.get(BiasCheck, check_id)
    if check is None:
        raise NotFound(f"There is no bias check {check_id}.")
    return check


def for_pilot(pilot: Pilot) -> list[BiasCheck]:
    return list(
        db.session.scalars(
            select(BiasCheck).where(BiasCheck.pilot_id == pilot.id).order_by(BiasCheck.id.desc())
        )
    )


def latest_succeeded(pilot: Pilot, *, before_id: int | None = None) -> BiasCheck | None:
    stmt = select(BiasCheck).where(BiasCheck.pilot_id == pilot.id, BiasCheck.status == "succeeded")
    if before_id is not None:
        stmt = stmt.where(BiasCheck.id < before_id)
    return db.session.scalar(stmt.order_by(BiasCheck.id.desc()).limit(1))


def facts(pilot: Pilot) -> dict[str, Any]:
    """Bias-check verdicts as policy facts."""
    checks = db.session.scalars(
        select(BiasCheck).where(BiasCheck.pilot_id == pilot.id, BiasCheck.status == "succeeded")
    ).all()
    return {
        "bias_checks": tuple(
            policies.BiasCheckFact(
                completed_at=compliance.utc_day(c.finished_at), verdict=c.verdict
            )
            for c in checks
        )
    }


def trend(pilot: Pilot) -> list[dict[str, Any]]:
    """Each succeeded check's disparities, oldest first: the pilot's monitoring trend.

    A row has every disparity ratio (``ratios``) and the judged ones (``judged``: per finding
    the metric it rests on, ``ratio`` or ``difference``, and its value and verdict).
    """
    rows = []
    for check in reversed(for_pilot(pilot)):
        if check.status != "succeeded" or not check.results:
            continue
        labels = charts.result_metric_labels(check.results)
        judged = []
        for finding in check.findings or []:
            if not finding.get("threshold"):
                continue
            metric = finding.get("chart_metric") or finding["metric"]
            judged.append(
                {
                    "label": labels.get(metric, metric),
                    "kind": "ratio" if "ratio_min" in finding["threshold"] else "difference",
                    "value": finding.get("value"),
                    "verdict": finding["verdict"],
                }
            )
        rows.append(
            {
                "id": check.id,
                "date": check.finished_at,
                "task": check.task,
                "verdict": check.verdict,
                "ratios": {
                    m: d.get("ratio") for m, d in check.results.get("disparities", {}).items()
                },
                "judged": judged,
            }
        )
    return rows
