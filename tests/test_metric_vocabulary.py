"""One definition of the fairness metrics: policies/fairness.py. Nothing else writes out a
list of metric names, and every reader agrees with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from policies import fairness

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = ROOT / "policies" / "fairness.py"
NAMES = {m.key for m in fairness.METRICS_BY_KEY.values()} | set(fairness.PER_CLASS_NAMES)
NAMES |= set(fairness.METRIC_ALIASES)


def _literal_lists(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 3:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(values) == len(node.elts) and all(isinstance(v, str) for v in values):
                found.append((node.lineno, tuple(values)))
    return found


def test_no_list_of_metric_names_outside_the_vocabulary():
    offenders = []
    for package in ("registry", "policies", "assessments", "reports", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            if path == VOCABULARY:
                continue
            for line, values in _literal_lists(path):
                if sum(v in NAMES for v in values) >= 3:
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {values[:4]}")
        for path in (ROOT / package).rglob("*.html"):
            for match in re.finditer(r"\[([^\[\]]*)\]", path.read_text()):
                values = re.findall(r"'([a-z_]+)'", match.group(1))
                if sum(v in NAMES for v in values) >= 3:
                    offenders.append(f"{path.relative_to(ROOT)}: {values[:4]}")
    assert offenders == []


def test_every_reader_takes_the_vocabulary():
    from assessments import charts, metrics, metrics_multiclass, metrics_regression, verdicts
    from policies import schema

    assert schema.METRICS == fairness.THRESHOLD_METRICS[fairness.BINARY]
    assert metrics.COUNT_METRICS + ("roc_auc",) == fairness.task_metrics(fairness.BINARY)
    assert (
        metrics_multiclass.GROUP_METRICS + metrics_multiclass.PER_CLASS_METRICS
        == fairness.task_metrics(fairness.MULTICLASS)
    )
    assert metrics_regression.METRICS == fairness.task_metrics(fairness.REGRESSION)
    assert verdicts.METRIC_ALIASES is fairness.METRIC_ALIASES
    for key, label in fairness.METRIC_LABELS.items():
        assert charts.METRIC_NAMES[key] == label
    assert charts.metric_label("true_positive_rate[Housing]", fairness.MULTICLASS) == (
        "True positive rate of class “Housing”"
    )
    assert charts.metric_label("rate[escalated]", fairness.OUTCOME_RATES) == "Rate of “escalated”"


def test_threshold_vocabulary_per_task():
    assert "mean_absolute_error" in fairness.THRESHOLD_METRICS[fairness.REGRESSION]
    assert "equalized_odds" in fairness.THRESHOLD_METRICS[fairness.BINARY]
    assert "equalized_odds" not in fairness.THRESHOLD_METRICS[fairness.MULTICLASS]
    assert fairness.THRESHOLD_METRICS[fairness.OUTCOME_RATES] == ("rate",)
    assert not fairness.definition("mean_error", fairness.REGRESSION).ratio_meaningful
    assert fairness.definition("true_positive_rate[a]", fairness.MULTICLASS).scope == "per_class"
    assert fairness.definition("true_positive_rate", fairness.BINARY).scope == "group"
