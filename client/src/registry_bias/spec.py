"""What a bias check aggregates: the task, the columns, and the score bins."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "FREQUENCY",
    "MOMENTS",
    "SCORE_HIGH",
    "SCORE_LOW",
    "TASKS",
    "CheckSpec",
    "SpecError",
    "equal_width_edges",
]

#: The tasks the registry checks, under the names its API uses.
TASKS: tuple[str, ...] = (
    "binary_classification",
    "multiclass_classification",
    "regression",
    "outcome_rates",
)
_TASK_ALIASES = {"binary": "binary_classification", "multiclass": "multiclass_classification"}

#: Name of the count column in every aggregate file.
FREQUENCY = "frequency"
#: The per-cell moments of a regression aggregate, by the names the registry reads
#: (error = prediction - truth; quad = error to the fourth power).
MOMENTS: tuple[str, ...] = (
    "sum_pred",
    "sum_sq_pred",
    "sum_true",
    "sum_error",
    "sum_abs_error",
    "sum_sq_error",
    "sum_quad_error",
)
#: Columns holding each cell's score bin [low, high) when scores are binned.
SCORE_LOW = "y_score_low"
SCORE_HIGH = "y_score_high"

# The registry accepts one to three sensitive features.
MAX_FEATURES = 3


class SpecError(ValueError):
    """A check that cannot be aggregated as asked; ``field`` names the setting at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def equal_width_edges(bins: int, low: float = 0.0, high: float = 1.0) -> tuple[float, ...]:
    """Edges of ``bins`` equal-width score bins over [low, high], rounded to 12 decimals."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise SpecError(
            "score_bins", "The number of score bins must be a whole number of 1 or more."
        )
    if bins > 1000:
        raise SpecError("score_bins", "Use at most 1,000 score bins.")
    width = (high - low) / bins
    return tuple(round(low + i * width, 12) for i in range(bins)) + (float(high),)


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        names.extend(part.strip() for part in str(item).split(",") if part.strip())
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class CheckSpec:
    """The columns and task of one bias check.

    ``sensitive_features`` are one to three columns whose value combinations are the groups.
    ``binary_classification`` and ``multiclass_classification`` need ``y_true`` and
    ``y_pred``; ``regression`` needs them numeric; ``outcome_rates`` needs ``outcomes`` (binary
    columns) instead. A binary check may bin a score column ``y_score`` with ``score_edges``
    (strictly increasing; the outer bins are open-ended, so every non-missing score has a bin).
    """

    sensitive_features: tuple[str, ...]
    task: str = "binary_classification"
    y_true: str | None = None
    y_pred: str | None = None
    outcomes: tuple[str, ...] = ()
    y_score: str | None = None
    score_edges: tuple[float, ...] | None = None
    positive_label: str | None = None
    name: str | None = None

    def __init__(
        self,
        sensitive_features: str | Sequence[str],
        *,
        task: str = "binary_classification",
        y_true: str | None = None,
        y_pred: str | None = None,
        outcomes: str | Sequence[str] | None = None,
        y_score: str | None = None,
        score_edges: Sequence[float] | None = None,
        score_bins: int | None = None,
        positive_label: str | int | None = None,
        name: str | None = None,
    ) -> None:
        task = _TASK_ALIASES.get(task, task)
        if task not in TASKS:
            raise SpecError("task", f"Choose a task: {', '.join(TASKS)} (not {task!r}).")
        features = _names(sensitive_features)
        if not features:
            raise SpecError("sensitive_features", "Name at least one sensitive feature column.")
        if len(features) > MAX_FEATURES:
            raise SpecError("sensitive_features", "Use at most three sensitive features.")
        outcome_names = _names(outcomes)
        if task == "outcome_rates":
            if not outcome_names:
                raise SpecError("outcomes", "Name at least one outcome column.")
            if y_true or y_pred:
                raise SpecError(
                    "y_true", "Outcome rates use outcome columns, not y_true or y_pred."
                )
        else:
            for name_, value in (("y_true", y_true), ("y_pred", y_pred)):
                if not value or not str(value).strip():
                    raise SpecError(name_, f"Name the column that holds {name_}.")
            if outcome_names:
                raise SpecError("outcomes", "Outcome columns belong to the outcome_rates task.")
        if score_bins is not None and score_edges is not None:
            raise SpecError("score_bins", "Give the number of score bins or their edges, not both.")
        if (score_bins is not None or score_edges is not None) and not y_score:
            raise SpecError("y_score", "Name the score column to bin.")
        edges: tuple[float, ...] | None = None
        if y_score:
            if task != "binary_classification":
                raise SpecError("y_score", "Scores are binned for binary classification only.")
            if score_edges is not None:
                edges = tuple(float(e) for e in score_edges)
            else:
                edges = equal_width_edges(10 if score_bins is None else score_bins)
            if len(edges) < 2 or any(not math.isfinite(e) for e in edges):
                raise SpecError("score_edges", "Give at least two finite score bin edges.")
            if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
                raise SpecError("score_edges", "Score bin edges must be strictly increasing.")
        columns = [*features, *outcome_names]
        if task != "outcome_rates":
            columns += [str(y_true).strip(), str(y_pred).strip()]
        if y_score:
            columns.append(y_score.strip())
        reserved = {FREQUENCY, SCORE_LOW, SCORE_HIGH, *MOMENTS}
        for column in columns:
            if column in reserved:
                raise SpecError(
                    "columns", f"Rename the column {column!r}: the aggregate file uses that name."
                )
        if task != "outcome_rates" and str(y_true).strip() == str(y_pred).strip():
            raise SpecError("y_pred", "y_true and y_pred must be different columns.")
        overlap = set(features) & {*outcome_names, y_true, y_pred, y_score}
        if overlap:
            raise SpecError(
                "sensitive_features",
                f"A sensitive feature cannot also be a label or score column: {sorted(overlap)[0]}.",
            )
        object.__setattr__(self, "sensitive_features", features)
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "y_true", str(y_true).strip() if y_true else None)
        object.__setattr__(self, "y_pred", str(y_pred).strip() if y_pred else None)
        object.__setattr__(self, "outcomes", outcome_names)
        object.__setattr__(self, "y_score", y_score.strip() if y_score else None)
        object.__setattr__(self, "score_edges", edges)
        label = None if positive_label is None else str(positive_label).strip() or None
        object.__setattr__(self, "positive_label", label)
        object.__setattr__(self, "name", name)

    @property
    def binned(self) -> bool:
        """Whether the aggregate carries score bins."""
        return self.y_score is not None

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The columns read from the data, in order."""
        cols = [*self.sensitive_features]
        if self.task == "outcome_rates":
            cols += self.outcomes
        else:
            cols += [self.y_true, self.y_pred]  # type: ignore[list-item]
        if self.y_score:
            cols.append(self.y_score)
        return tuple(cols)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The aggregate's cell columns: features, then labels, outcomes or score bins."""
        if self.task == "regression":
            return self.sensitive_features
        if self.task == "outcome_rates":
            return (*self.sensitive_features, *self.outcomes)
        keys = (*self.sensitive_features, self.y_true, self.y_pred)
        if self.binned:
            keys += (SCORE_LOW, SCORE_HIGH)
        return keys  # type: ignore[return-value]

    @property
    def value_columns(self) -> tuple[str, ...]:
        """The aggregate's count column, and the moments of a regression."""
        return (FREQUENCY, *MOMENTS) if self.task == "regression" else (FREQUENCY,)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the aggregate file, in order."""
        return (*self.key_columns, *self.value_columns)

    def score_bin(self, score: float | None) -> tuple[float, float] | tuple[None, None]:
        """The [low, high) bin of one score (the outer bins are open-ended)."""
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return (None, None)
        edges = self.score_edges or ()
        for low, high in zip(edges[:-2], edges[1:-1], strict=True):
            if score < high:
                return (low, high)
        return (edges[-2], edges[-1])

    def form_fields(self) -> dict[str, str]:
        """The registry's form fields that describe this aggregate (not the provenance)."""
        form = {
            "sensitive_features": ",".join(self.sensitive_features),
            "frequency": FREQUENCY,
        }
        if self.task != "binary_classification":  # the registry's default task
            form["task"] = self.task
        if self.task in ("binary_classification", "multiclass_classification"):
            form["y_true"] = self.y_true or ""
            form["y_pred"] = self.y_pred or ""
        if self.task == "outcome_rates":
            form["outcomes"] = ",".join(self.outcomes)
        if self.binned:
            form["y_score_low"] = SCORE_LOW
            form["y_score_high"] = SCORE_HIGH
        if self.positive_label is not None:
            form["positive_label"] = self.positive_label
        if self.name:
            form["name"] = self.name
        return form
