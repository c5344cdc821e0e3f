"""The fairness vocabulary: check kinds (tasks) and their metrics, each defined once.

Every other place that names a task or a fairness metric reads it from here: the policy schema
(which metric a threshold may name, per task), the metric computations in
``assessments.metrics*`` (which metrics a result holds, in which order), the verdict texts
(how a metric is phrased) and the charts, pages and reports (its label).

A metric has a *scope*:

``group``
    one value per group, keyed by the metric name (``accuracy``);
``per_class``
    one value per group and class of a multiclass model (one-vs-rest), keyed
    ``"<metric>[<class>]"`` in disparities and intervals and held under ``per_class`` in a group;
``per_outcome``
    one value per group and outcome column (``rate[<column>]``), held under ``rates``.

and a *style*, which says how its values and differences are written: ``rate`` (a share of
people, differences in percentage points), ``score`` (a number between 0 and 1 that is not a
share of people, such as ROC AUC) or ``quantity`` (in the units of the model's output, such as
an error in days).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BINARY",
    "BINARY_PAGE_TABLE",
    "BINARY_REPORT_TABLE",
    "METRICS_BY_KEY",
    "METRIC_ALIASES",
    "METRIC_LABELS",
    "MULTICLASS",
    "OUTCOME_RATES",
    "REGRESSION",
    "TASKS",
    "PER_CLASS_NAMES",
    "TASK_LABELS",
    "THRESHOLD_METRICS",
    "FairnessMetric",
    "definition",
    "metric_key",
    "split_key",
    "task_metrics",
]

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
OUTCOME_RATES = "outcome_rates"

#: The kinds of bias check, in the order forms list them; the first is the default.
TASKS: tuple[str, ...] = (BINARY, MULTICLASS, REGRESSION, OUTCOME_RATES)

TASK_LABELS: dict[str, str] = {
    BINARY: "Binary classification (yes/no decisions)",
    MULTICLASS: "Multiclass classification (one of several classes or queues)",
    REGRESSION: "Regression (a number, such as a wait time or an amount)",
    OUTCOME_RATES: "Outcome rates (one or more yes/no outcomes, no ground truth)",
}


@dataclass(frozen=True)
class FairnessMetric:
    """One fairness metric: how it is named, which tasks have it and how it is phrased.

    Attributes
    ----------
    key : str
        The name in results and policies.
    label : str
        The name tables and pages show.
    tasks : tuple of str
        The tasks whose results hold it.
    scope : str
        ``group``, ``per_class`` or ``per_outcome`` (see the module documentation).
    style : str
        ``rate``, ``score`` or ``quantity``.
    context : str
        For rates: who the rate is measured among ("Among people whose true outcome was
        negative (y_true = 0), "); may hold ``{cls}``.
    verb : str
        For rates: what happens to them ("predicted positive"); may hold ``{cls}`` / ``{col}``.
    lower_is_better : bool or None
        Whether a lower value is the better one (errors); None when neither is.
    ratio_meaningful : bool
        False for signed quantities, whose ratio says nothing; a policy may then only bound the
        difference.
    needs_ground_truth : bool
        Whether the metric needs true outcomes (``y_true``).
    axis_label : str
        How a chart's axis names it (defaults to ``label``).
    """

    key: str
    label: str
    tasks: tuple[str, ...]
    scope: str = "group"
    style: str = "rate"
    context: str = ""
    verb: str = ""
    lower_is_better: bool | None = None
    ratio_meaningful: bool = True
    needs_ground_truth: bool = True
    axis_label: str = ""

    @property
    def chart_label(self) -> str:
        return self.axis_label or self.label


_POS = "Among people whose true outcome was positive (y_true = 1), "
_NEG = "Among people whose true outcome was negative (y_true = 0), "

_METRICS: tuple[FairnessMetric, ...] = (
    # binary classification (the order of the binary results)
    FairnessMetric(
        "selection_rate",
        "Selection rate",
        (BINARY,),
        verb="predicted positive",
        needs_ground_truth=False,
        axis_label="Selection rate (share predicted positive)",
    ),
    FairnessMetric(
        "true_positive_rate",
        "True positive rate",
        (BINARY,),
        context=_POS,
        verb="predicted positive",
    ),
    FairnessMetric(
        "false_positive_rate",
        "False positive rate",
        (BINARY,),
        context=_NEG,
        verb="predicted positive",
        lower_is_better=True,
    ),
    FairnessMetric(
        "false_negative_rate",
        "False negative rate",
        (BINARY,),
        context=_POS,
        verb="predicted negative",
        lower_is_better=True,
    ),
    FairnessMetric(
        "true_negative_rate",
        "True negative rate",
        (BINARY,),
        context=_NEG,
        verb="predicted negative",
    ),
    FairnessMetric("accuracy", "Accuracy", (BINARY, MULTICLASS), verb="classified correctly"),
    FairnessMetric(
        "precision",
        "Precision",
        (BINARY,),
        context="Among people predicted positive (y_pred = 1), ",
        verb="truly positive",
    ),
    FairnessMetric("roc_auc", "ROC AUC", (BINARY,), style="score"),
    # multiclass classification
    FairnessMetric("balanced_accuracy", "Balanced accuracy", (MULTICLASS,), style="score"),
    FairnessMetric("macro_f1", "Macro F1", (MULTICLASS,), style="score"),
    # multiclass, one-vs-rest per class
    FairnessMetric(
        "class_selection_rate",
        "Share routed to class",
        (MULTICLASS,),
        scope="per_class",
        verb="routed to “{cls}”",
        needs_ground_truth=False,
    ),
    FairnessMetric(
        "class_true_positive_rate",
        "True positive rate of class",
        (MULTICLASS,),
        scope="per_class",
        context="Among cases whose true class was “{cls}”, ",
        verb="routed to “{cls}”",
    ),
    FairnessMetric(
        "class_false_positive_rate",
        "False positive rate of class",
        (MULTICLASS,),
        scope="per_class",
        context="Among cases whose true class was not “{cls}”, ",
        verb="routed to “{cls}”",
        lower_is_better=True,
    ),
    FairnessMetric(
        "class_precision",
        "Precision of class",
        (MULTICLASS,),
        scope="per_class",
        context="Among cases routed to “{cls}”, ",
        verb="truly of that class",
    ),
    # regression
    FairnessMetric(
        "mean_prediction",
        "Mean prediction",
        (REGRESSION,),
        style="quantity",
        needs_ground_truth=False,
    ),
    FairnessMetric(
        "mean_error",
        "Mean error (prediction − truth)",
        (REGRESSION,),
        style="quantity",
        ratio_meaningful=False,
    ),
    FairnessMetric(
        "mean_absolute_error",
        "Mean absolute error",
        (REGRESSION,),
        style="quantity",
        lower_is_better=True,
    ),
    FairnessMetric(
        "root_mean_squared_error",
        "Root mean squared error",
        (REGRESSION,),
        style="quantity",
        lower_is_better=True,
    ),
    # outcome rates
    FairnessMetric(
        "rate",
        "Outcome rate",
        (OUTCOME_RATES,),
        scope="per_outcome",
        verb="recorded as “{col}”",
        needs_ground_truth=False,
    ),
)

#: Every metric by its vocabulary key. Per-class metrics have keys prefixed ``class_`` here
#: (so that ``accuracy`` and ``selection_rate`` keep one meaning each); in results they are
#: written with their plain name and the class: ``selection_rate[<class>]``
#: (see :func:`metric_key`).
METRICS_BY_KEY: dict[str, FairnessMetric] = {m.key: m for m in _METRICS}

#: Per-class metric names as results and policies write them.
PER_CLASS_NAMES: dict[str, str] = {
    m.key.removeprefix("class_"): m.key for m in _METRICS if m.scope == "per_class"
}

#: fairlearn's names for combinations of binary metrics.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("true_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}

#: Each metric's label by the name results use (per-class metrics by their plain name).
METRIC_LABELS: dict[str, str] = {
    **{m.key: m.label for m in _METRICS if m.scope == "group"},
    **{
        name: METRICS_BY_KEY[key].label
        for name, key in PER_CLASS_NAMES.items()
        if name not in {m.key for m in _METRICS if m.scope == "group"}
    },
    "rate": METRICS_BY_KEY["rate"].label,
    **{alias: alias.replace("_", " ").capitalize() for alias in METRIC_ALIASES},
}


def task_metrics(task: str, *, ground_truth: bool = True) -> tuple[str, ...]:
    """Names of a task's metrics, in report order, as results write them (plain names).

    Parameters
    ----------
    task : str
        One of :data:`TASKS`.
    ground_truth : bool, default True
        False leaves out the metrics that need true outcomes.

    Returns
    -------
    tuple of str
    """
    if task not in TASKS:
        raise KeyError(task)
    return tuple(
        m.key.removeprefix("class_") if m.scope == "per_class" else m.key
        for m in _METRICS
        if task in m.tasks and (ground_truth or not m.needs_ground_truth)
    )


def _threshold_names(task: str) -> tuple[str, ...]:
    names = task_metrics(task)
    if task == BINARY:
        names += tuple(METRIC_ALIASES)
    return names


#: The binary metrics a check page's table of groups shows, and those the printed report shows.
BINARY_PAGE_TABLE: tuple[str, ...] = (
    "selection_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
    "accuracy",
)
BINARY_REPORT_TABLE: tuple[str, ...] = BINARY_PAGE_TABLE[:4]

#: The metric names a policy threshold may use, per task. For a per-class metric (multiclass)
#: or the outcome rate, a threshold applies to every class or outcome column.
THRESHOLD_METRICS: dict[str, tuple[str, ...]] = {task: _threshold_names(task) for task in TASKS}


def metric_key(name: str, arg: str | None = None) -> str:
    """The result key of a metric: ``name`` or ``name[arg]`` for a class or outcome column."""
    return name if arg is None else f"{name}[{arg}]"


def split_key(key: str) -> tuple[str, str | None]:
    """``"true_positive_rate[queue A]"`` -> ``("true_positive_rate", "queue A")``."""
    if key.endswith("]") and "[" in key:
        name, _, rest = key.partition("[")
        return name, rest[:-1]
    return key, None


def definition(name: str, task: str = BINARY) -> FairnessMetric:
    """The vocabulary entry behind a result metric name (plain or ``name[arg]``) of a task.

    Raises
    ------
    KeyError
        If the name is not a metric of the vocabulary.
    """
    base, _arg = split_key(name)
    if task == MULTICLASS and base in PER_CLASS_NAMES:
        return METRICS_BY_KEY[PER_CLASS_NAMES[base]]
    metric = METRICS_BY_KEY.get(base)
    if metric is None or metric.scope == "per_class":
        raise KeyError(name)
    return metric
