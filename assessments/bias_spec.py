"""What a bias check reads from its file: the task, the column mapping, aggregated input.

:func:`spec_from_form` turns a submitted form (API or page) into a :class:`CheckSpec` and lists
what is missing; :func:`prepare` reads the file the spec describes and validates it for the
spec's task, before any work and before anything is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assessments import bias_aggregates, bias_input, bias_input_kinds
from assessments.metrics_regression import MOMENT_COLUMNS
from policies.fairness import BINARY, MULTICLASS, OUTCOME_RATES, REGRESSION, TASKS
from registry.errors import ValidationFailed

__all__ = [
    "PROVENANCE_FIELDS",
    "CheckSpec",
    "prepare",
    "provenance_from_form",
    "spec_from_form",
    "spec_of",
]

PROVENANCE_FIELDS = ("client_version", "engine", "query", "source_sha256")


def split_names(values: Any) -> list[str]:
    """Column names from repeated fields and/or comma-separated lists, without repeats."""
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values or []:
        names.extend(part.strip() for part in str(value).split(",") if part.strip())
    return list(dict.fromkeys(names))


def _text(form: dict[str, Any], key: str) -> str | None:
    return (form.get(key) or "").strip() or None


@dataclass(frozen=True)
class CheckSpec:
    """The task, the column mapping and aggregated input of one check."""

    features: list[str]
    task: str = BINARY
    y_true: str | None = None
    y_pred: str | None = None
    y_score: str | None = None
    y_score_bins: tuple[str, str] | None = None
    outcomes: list[str] = field(default_factory=list)
    positive_label: str = "1"
    frequency: str | None = None
    total_rows: int | None = None

    @property
    def has_truth(self) -> bool:
        """Whether the check has true outcomes (errors can be measured)."""
        if self.task == OUTCOME_RATES:
            return False
        return self.y_true is not None or self.regression_moments

    @property
    def regression_moments(self) -> bool:
        """An aggregated regression check: moment columns instead of y_true / y_pred."""
        return self.task == REGRESSION and self.frequency is not None and self.y_pred is None

    @property
    def numeric_columns(self) -> list[str]:
        """Columns read as numbers."""
        cols = [self.y_score] if self.y_score else []
        cols += list(self.y_score_bins or ())
        if self.task == REGRESSION:
            cols += list(MOMENT_COLUMNS) if self.regression_moments else []
            cols += [c for c in (self.y_pred, self.y_true) if c]
        return cols + ([self.frequency] if self.frequency else [])

    @property
    def columns(self) -> list[str]:
        """Every column the check reads."""
        cols = [c for c in (self.y_true, self.y_pred) if c] if self.task != OUTCOME_RATES else []
        cols += self.outcomes if self.task == OUTCOME_RATES else []
        return list(dict.fromkeys(cols + self.features + self.numeric_columns))


def spec_from_form(form: dict[str, Any]) -> tuple[CheckSpec, dict[str, list[str]]]:
    """The check's specification from a submitted form, and what is missing or wrong."""
    errors: dict[str, list[str]] = {}
    task = _text(form, "task") or BINARY
    if task not in TASKS:
        errors["task"] = [f"Choose the kind of check: {', '.join(TASKS)}."]
        task = BINARY
    features = split_names(form.get("sensitive_features"))
    if not features:
        errors["sensitive_features"] = ["Name at least one sensitive feature column."]
    elif len(features) > 3:
        errors["sensitive_features"] = ["Use at most three sensitive features."]
    frequency = _text(form, "frequency")
    y_true, y_pred = _text(form, "y_true"), _text(form, "y_pred")
    outcomes = split_names(form.get("outcomes"))
    if task in (BINARY, MULTICLASS):
        for name, value in (("y_true", y_true), ("y_pred", y_pred)):
            if not value:
                errors[name] = [f"Name the column that holds {name}."]
    elif task == REGRESSION:
        if y_true and not y_pred:
            errors["y_pred"] = ["Name the column that holds the predictions (y_pred)."]
        elif not y_pred and not frequency:
            errors["y_pred"] = [
                "Name the column that holds the predictions (y_pred), or send aggregated "
                "moments with a frequency column."
            ]
    else:  # outcome rates: y_true / y_pred are not used
        y_true = y_pred = None
        if not outcomes:
            errors["outcomes"] = ["Name at least one yes/no outcome column."]
        elif len(outcomes) > bias_input_kinds.MAX_OUTCOMES:
            errors["outcomes"] = [f"Name at most {bias_input_kinds.MAX_OUTCOMES} outcome columns."]
    low, high = _text(form, "y_score_low"), _text(form, "y_score_high")
    y_score = _text(form, "y_score")
    bins = None
    if (y_score or low or high) and task != BINARY:
        errors["y_score" if y_score else "y_score_low"] = [
            "Scores are used by binary classification checks only."
        ]
    elif low or high:
        if not (low and high):
            missing = "y_score_high" if low else "y_score_low"
            errors[missing] = ["Name both score bin columns (y_score_low and y_score_high)."]
        elif y_score:
            errors["y_score"] = ["Give a score column or score bin columns, not both."]
        else:
            bins = (low, high)
    total_rows = None
    try:
        total_rows = bias_aggregates.parse_total(form.get("total_rows"))
    except ValidationFailed as error:
        errors.update({k: [v] for k, v in error.errors.items()})
    if total_rows is not None and frequency is None:
        errors["total_rows"] = ["A declared total needs a frequency column."]
    spec = CheckSpec(
        features=features,
        task=task,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        y_score_bins=bins,
        outcomes=outcomes if task == OUTCOME_RATES else [],
        positive_label=_text(form, "positive_label") or "1",
        frequency=frequency,
        total_rows=total_rows,
    )
    return spec, errors


def spec_of(check: Any) -> CheckSpec:
    """The specification a stored check was made with."""
    bins = (check.y_score_low, check.y_score_high) if check.y_score_low else None
    return CheckSpec(
        features=list(check.sensitive_features),
        task=check.task or BINARY,
        y_true=check.y_true,
        y_pred=check.y_pred,
        y_score=check.y_score,
        y_score_bins=bins,
        outcomes=list(check.outcomes or []),
        positive_label=check.positive_label,
        frequency=check.frequency,
        total_rows=check.total_rows,
    )


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


def _read(path: Path, spec: CheckSpec) -> Any:
    try:
        return bias_input.read_table(path, columns=spec.columns, numeric=spec.numeric_columns)
    except ValidationFailed as error:
        # A regression value column with text: show examples of it (read again, as text).
        if spec.task == REGRESSION:
            for col in spec.numeric_columns:
                if col in error.errors and col != spec.frequency:
                    problem = bias_input_kinds.numeric_column_problem(path, col)
                    if problem:
                        raise ValidationFailed(problem, errors={col: problem}) from error
        raise


def prepare(path: Path, spec: CheckSpec, *, max_classes: int) -> Any:
    """Read and validate the file for the spec's task: the inputs of its computation.

    Returns
    -------
    assessments.bias_input.Prepared or one of the ``Prepared*`` of
    :mod:`assessments.bias_input_kinds`: each has ``n_rows``, ``n_rows_dropped`` and
    ``compute(n_boot=..., seed=..., min_group_size=...)``.
    """
    frame = _read(path, spec)
    common = {
        "sensitive_features": spec.features,
        "frequency": spec.frequency,
        "total_rows": spec.total_rows,
    }
    if spec.task == MULTICLASS:
        assert spec.y_true and spec.y_pred
        return bias_input_kinds.prepare_multiclass(
            frame, y_true=spec.y_true, y_pred=spec.y_pred, max_classes=max_classes, **common
        )
    if spec.task == REGRESSION:
        if spec.regression_moments:
            assert spec.frequency
            return bias_input_kinds.prepare_regression_moments(
                frame,
                sensitive_features=spec.features,
                frequency=spec.frequency,
                total_rows=spec.total_rows,
            )
        assert spec.y_pred
        return bias_input_kinds.prepare_regression(
            frame, y_pred=spec.y_pred, y_true=spec.y_true, **common
        )
    if spec.task == OUTCOME_RATES:
        return bias_input_kinds.prepare_outcome_rates(
            frame, outcomes=spec.outcomes, positive_label=spec.positive_label, **common
        )
    assert spec.y_true and spec.y_pred
    return bias_input.prepare(
        frame,
        y_true=spec.y_true,
        y_pred=spec.y_pred,
        y_score=spec.y_score,
        y_score_bins=spec.y_score_bins,
        positive_label=spec.positive_label,
        **common,
    )
