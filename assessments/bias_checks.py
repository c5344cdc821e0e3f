"""Bias-check rules: accept an upload, validate it before any work, run it, judge it."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, update

import policies
from assessments import bias_aggregates, bias_input, charts, compliance, jobs, verdicts
from assessments.metrics import MAX_GROUPS
from assessments.models import BiasCheck
from policies import store
from registry import audit, signals
from registry.auth.permissions import authorize
from registry.catalog.models import Pilot
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "succeeded", "failed")
N_BOOT = 1000
SEED = 20260101


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "bias"


def _split_features(values: list[str]) -> list[str]:
    features: list[str] = []
    for value in values:
        features.extend(part.strip() for part in value.split(",") if part.strip())
    return list(dict.fromkeys(features))


def _text(form: dict[str, Any], key: str) -> str | None:
    return (form.get(key) or "").strip() or None


@dataclass(frozen=True)
class CheckSpec:
    """What a check reads from its file: the task, the column mapping and aggregated input."""

    features: list[str]
    y_true: str | None = None
    y_pred: str | None = None
    y_score: str | None = None
    y_score_bins: tuple[str, str] | None = None
    positive_label: str = "1"
    frequency: str | None = None
    total_rows: int | None = None

    @property
    def numeric_columns(self) -> list[str]:
        """Columns read as numbers."""
        cols = [self.y_score] if self.y_score else []
        cols += list(self.y_score_bins or ())
        return cols + ([self.frequency] if self.frequency else [])

    @property
    def columns(self) -> list[str]:
        """Every column the check reads."""
        cols = [c for c in (self.y_true, self.y_pred) if c]
        return list(dict.fromkeys(cols + self.features + self.numeric_columns))


def spec_from_form(form: dict[str, Any]) -> tuple[CheckSpec, dict[str, list[str]]]:
    """The check's specification from a submitted form, and what is missing or wrong."""
    errors: dict[str, list[str]] = {}
    features = _split_features(form.get("sensitive_features") or [])
    if not features:
        errors["sensitive_features"] = ["Name at least one sensitive feature column."]
    elif len(features) > 3:
        errors["sensitive_features"] = ["Use at most three sensitive features."]
    for field in ("y_true", "y_pred"):
        if not _text(form, field):
            errors[field] = [f"Name the column that holds {field}."]
    low, high = _text(form, "y_score_low"), _text(form, "y_score_high")
    bins = None
    if low or high:
        if not (low and high):
            missing = "y_score_high" if low else "y_score_low"
            errors[missing] = ["Name both score bin columns (y_score_low and y_score_high)."]
        elif _text(form, "y_score"):
            errors["y_score"] = ["Give a score column or score bin columns, not both."]
        else:
            bins = (low, high)
    total_rows = None
    try:
        total_rows = bias_aggregates.parse_total(form.get("total_rows"))
    except ValidationFailed as error:
        errors.update({k: [v] for k, v in error.errors.items()})
    frequency = _text(form, "frequency")
    if total_rows is not None and frequency is None:
        errors["total_rows"] = ["A declared total needs a frequency column."]
    spec = CheckSpec(
        features=features,
        y_true=_text(form, "y_true"),
        y_pred=_text(form, "y_pred"),
        y_score=_text(form, "y_score"),
        y_score_bins=bins,
        positive_label=_text(form, "positive_label") or "1",
        frequency=frequency,
        total_rows=total_rows,
    )
    return spec, errors


def spec_of(check: BiasCheck) -> CheckSpec:
    """The specification a stored check was made with."""
    bins = (check.y_score_low, check.y_score_high) if check.y_score_low else None
    return CheckSpec(
        features=list(check.sensitive_features),
        y_true=check.y_true,
        y_pred=check.y_pred,
        y_score=check.y_score,
        y_score_bins=bins,
        positive_label=check.positive_label,
        frequency=check.frequency,
        total_rows=check.total_rows,
    )


PROVENANCE_FIELDS = ("client_version", "engine", "query", "source_sha256")


def provenance_from_form(form: dict[str, Any]) -> dict[str, str] | None:
    """The repeatability metadata a submission brought (None when it brought none)."""
    values = {key: str(form[key]).strip() for key in PROVENANCE_FIELDS if form.get(key)}
    values = {key: value for key, value in values.items() if value}
    source = values.get("source_sha256")
    if source is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", source):
        raise ValidationFailed(
            "The source hash is not a sha256.",
            {"source_sha256": ["Give the source's sha256 as 64 hexadecimal digits."]},
        )
    if source is not None:
        values["source_sha256"] = source.lower()
    return values or None


def mapping_errors(form: dict[str, Any]) -> dict[str, list[str]]:
    return spec_from_form(form)[1]


def create(pilot: Pilot, upload, form: dict[str, Any], actor) -> BiasCheck:
    """Store the upload, validate it before any work, then run the check or queue it."""
    from assessments.sniffing import check_tabular
    from assessments.storage import stored_upload

    authorize(actor, "pilot.upload", pilot)
    form = dict(form)
    spec, errors = spec_from_form(form)
    if upload is None or not getattr(upload, "filename", None):
        errors["file"] = ["Choose a CSV or Parquet file of model outputs."]
    if errors:
        raise ValidationFailed("The bias check could not be started.", errors)
    provenance = provenance_from_form(form)
    with stored_upload(
        upload.stream, upload_root(), current_app.config["MAX_UPLOAD_BYTES"]
    ) as stored:
        file_format = check_tabular(stored.path)
        prepared = _prepare(stored.path, spec)
        check = BiasCheck(
            pilot_id=pilot.id,
            name=(form.get("name") or "").strip()[:200] or None,
            filename=Path(upload.filename).name[:255] or "upload",
            sha256=stored.sha256,
            size=stored.size,
            file_format=file_format,
            y_true=spec.y_true,
            y_pred=spec.y_pred,
            y_score=spec.y_score,
            y_score_low=spec.y_score_bins[0] if spec.y_score_bins else None,
            y_score_high=spec.y_score_bins[1] if spec.y_score_bins else None,
            sensitive_features=spec.features,
            positive_label=spec.positive_label,
            frequency=spec.frequency,
            total_rows=spec.total_rows,
            provenance=provenance,
            status="queued",
            attempts=0,
            queued_at=datetime.now(UTC),
            created_by_id=actor.id,
            n_rows=prepared.n_rows,
            n_rows_dropped=prepared.n_rows_dropped,
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
                "n_rows": prepared.n_rows,
                "n_rows_dropped": prepared.n_rows_dropped,
                "sensitive_features": spec.features,
                **({"aggregated": True} if spec.frequency else {}),
            },
        )
        db.session.commit()
    # Aggregated input is small whatever the rows it stands for: it runs inline too.
    work = len(prepared.features) if spec.frequency else prepared.n_rows
    if work <= current_app.config.get("BIAS_CHECK_INLINE_ROWS", 200_000):
        # Small checks finish in well under a second: answer with the result straight away.
        run(check.id, prepared=prepared)
        db.session.refresh(check)
    else:
        jobs.enqueue(run_job, check.id)
    return check


def _prepare(path: Path, spec: CheckSpec):
    frame = bias_input.read_table(path, columns=spec.columns, numeric=spec.numeric_columns)
    return bias_input.prepare(
        frame,
        y_true=spec.y_true,
        y_pred=spec.y_pred,
        sensitive_features=spec.features,
        y_score=spec.y_score,
        positive_label=spec.positive_label,
        frequency=spec.frequency,
        total_rows=spec.total_rows,
        y_score_bins=spec.y_score_bins,
    )


def limits() -> dict[str, int]:
    """The limits a check must keep: groups, classes and upload size."""
    return {
        "max_groups": MAX_GROUPS,
        "max_classes": int(current_app.config["BIAS_CHECK_MAX_CLASSES"]),
        "max_upload_bytes": int(current_app.config["MAX_UPLOAD_BYTES"]),
    }


def _heartbeat(check_id: int, **values: Any) -> None:
    db.session.execute(
        update(BiasCheck)
        .where(BiasCheck.id == check_id)
        .values(heartbeat_at=datetime.now(UTC), **values)
    )
    db.session.commit()


def run(check_id: int, *, prepared=None) -> None:
    """Run a check to the end, recording every state in the database."""
    check = db.session.get(BiasCheck, check_id)
    if check is None or check.status not in ("queued", "running"):
        return
    started = time.perf_counter()
    _heartbeat(
        check_id,
        status="running",
        started_at=datetime.now(UTC),
        attempts=(check.attempts or 0) + 1,
        error=None,
    )
    try:
        if prepared is None:
            from assessments.storage import path_for

            prepared = _prepare(path_for(upload_root(), check.sha256), spec_of(check))
            _heartbeat(check_id)
        pilot = db.session.get(Pilot, check.pilot_id)
        version, document = store.active_policy()
        min_group_size, thresholds = policies.fairness_thresholds(document, pilot.risk_tier)
        result = prepared.compute(n_boot=N_BOOT, seed=SEED, min_group_size=min_group_size)
        result = result.to_dict()
        if check.frequency:
            result["aggregated"] = True
            result["input_sha256"] = check.sha256
        judged = verdicts.judge(
            result,
            thresholds=thresholds,
            min_group_size=min_group_size,
            policy_version=version.label,
        )
        svgs = {}
        for threshold in thresholds:
            svgs[threshold["metric"]] = charts.metric_chart_svg(
                result, threshold["metric"], threshold=threshold
            )
        previous = latest_succeeded(pilot, before_id=check_id)
        check = db.session.get(BiasCheck, check_id)
        check.results = result
        check.verdict = judged["verdict"]
        check.findings = judged["findings"]
        check.charts = svgs
        check.n_rows = prepared.n_rows
        check.n_rows_dropped = prepared.n_rows_dropped
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
        fail(check_id, message[:2000])


def run_job(check_id: int) -> None:
    """The job entry point (in-process or on an RQ worker): run one check by its id."""
    log.info("job bias-check %s: start", check_id)
    run(check_id)
    log.info("job bias-check %s: done", check_id)


def fail(check_id: int, message: str) -> None:
    check = db.session.get(BiasCheck, check_id)
    if check is None:
        return
    check.status = "failed"
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


def reap_stalled(timeout_seconds: int | None = None) -> int:
    """Mark checks whose worker stopped sending heartbeats as failed."""
    timeout_seconds = timeout_seconds or current_app.config.get("BIAS_CHECK_TIMEOUT_SECONDS", 900)
    cutoff = datetime.now(UTC) - timedelta(seconds=timeout_seconds)
    stalled = db.session.scalars(
        select(BiasCheck).where(BiasCheck.status == "running", BiasCheck.heartbeat_at < cutoff)
    ).all()
    for check in stalled:
        fail(
            check.id,
            f"The worker stopped responding (no heartbeat for {timeout_seconds} s); re-run the check.",
        )
    return len(stalled)


def rerun(check: BiasCheck, actor) -> BiasCheck:
    """Queue a failed check again."""
    pilot = db.session.get(Pilot, check.pilot_id)
    authorize(actor, "pilot.upload", pilot)
    if check.status != "failed":
        raise Conflict(
            f"Only failed checks can be re-run; this one is {check.status}.",
            {"status": [f"The check is '{check.status}'."]},
        )
    check.status = "queued"
    check.error = None
    check.queued_at = datetime.now(UTC)
    check.started_at = check.finished_at = check.heartbeat_at = None
    audit.record(actor, "rerun", "bias_check", check.id, {"pilot_id": check.pilot_id})
    db.session.commit()
    jobs.enqueue(run_job, check.id)
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
            policies.BiasCheckFact(completed_at=compliance.utc_day(c.finished_at), verdict=c.verdict)
            for c in checks
        )
    }


def trend(pilot: Pilot) -> list[dict[str, Any]]:
    """Each succeeded check's disparity ratios, oldest first: the pilot's monitoring trend."""
    rows = []
    for check in reversed(for_pilot(pilot)):
        if check.status != "succeeded" or not check.results:
            continue
        rows.append(
            {
                "id": check.id,
                "date": check.finished_at,
                "verdict": check.verdict,
                "ratios": {
                    m: d.get("ratio") for m, d in check.results.get("disparities", {}).items()
                },
            }
        )
    return rows
