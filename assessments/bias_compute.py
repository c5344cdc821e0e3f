"""The parts of a bias check that read the uploaded file: run in a limited child process.

:func:`inspect` validates a stored upload for its spec (the 422s of a new check) and
:func:`compute` works out the results, the verdict and the what-if analysis. Both take and
return plain values only, and touch neither the database nor the app: :mod:`assessments.sandbox`
runs them in a child process under ``RLIMIT_AS`` (see :func:`assessments.bias_checks.create`
and :func:`assessments.bias_checks.run`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assessments import bias_spec, upload_budget, verdicts
from assessments.metrics import binary_denominators
from policies.fairness import BINARY

log = logging.getLogger(__name__)


def _prepare(path: str, spec: bias_spec.CheckSpec, max_classes: int, max_rows: int | None) -> Any:
    prepared = bias_spec.prepare(Path(path), spec, max_classes=max_classes)
    if max_rows is not None and not spec.frequency:
        upload_budget.check_rows(prepared.n_rows + prepared.n_rows_dropped, max_rows)
    return prepared


def inspect(
    path: str, spec: bias_spec.CheckSpec, *, max_classes: int, max_rows: int | None = None
) -> dict[str, int]:
    """Read and validate the file: its rows kept and dropped, and the work a check of it is."""
    prepared = _prepare(path, spec, max_classes, max_rows)
    work = len(prepared.features) if spec.frequency else prepared.n_rows
    return {
        "n_rows": int(prepared.n_rows),
        "n_rows_dropped": int(prepared.n_rows_dropped),
        "work": int(work),
    }


def compute(
    path: str,
    spec: bias_spec.CheckSpec,
    *,
    max_classes: int,
    max_rows: int | None = None,
    n_boot: int,
    seed: int,
    min_group_size: int,
    thresholds: Any,
    policy_label: str,
    input_sha256: str,
) -> dict[str, Any]:
    """The check's result, its verdict and findings, and the rows it kept and dropped."""
    prepared = _prepare(path, spec, max_classes, max_rows)
    task = spec.task or BINARY
    computed = prepared.compute(n_boot=n_boot, seed=seed, min_group_size=min_group_size)
    result = {**computed.to_dict(), "task": task}
    if task == BINARY:  # people in each group's denominator, for the sample-size figures
        result["denominators"] = binary_denominators(computed.cells)
    if spec.frequency:
        result["aggregated"] = True
        result["input_sha256"] = input_sha256
    if thresholds:
        judged = verdicts.judge(
            result,
            thresholds=thresholds,
            min_group_size=min_group_size,
            policy_version=policy_label,
        )
    else:  # the policy sets no thresholds for this kind of check
        judged = verdicts.without_thresholds(task, policy_label, min_group_size)
    if task == BINARY and judged["verdict"] == "fail":
        analysis = _what_if(prepared, result, judged["findings"], seed)
        if analysis is not None:
            result["what_if"] = analysis
    return {
        "result": result,
        "judged": judged,
        "n_rows": int(prepared.n_rows),
        "n_rows_dropped": int(prepared.n_rows_dropped),
    }


def _what_if(prepared: Any, result: dict[str, Any], findings: list[dict[str, Any]], seed: int):
    """The what-if analysis of a failing binary check with scores (None without scores)."""
    from assessments.metrics_whatif import what_if

    score = prepared.y_score
    if score is None and prepared.y_score_bins is not None:
        score = prepared.y_score_bins[0]
    if score is None:
        return None
    try:
        return what_if(
            y_true=prepared.y_true,
            y_score=score,
            group_codes=prepared.group_codes,
            groups=[g["group"] for g in result["by_group"]],
            findings=findings,
            disparities=result["disparities"],
            current_accuracy=result["overall"].get("accuracy"),
            weights=prepared.frequency,
            seed=seed,
        )
    except ValueError as error:  # e.g. a group with one outcome class only
        log.info("what-if analysis not computed: %s", error)
        return {"note": "The what-if analysis could not be computed for these data: " + str(error)}
