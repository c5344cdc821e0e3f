"""The code's structure: imports go one way, no module cycles (not even through imports hidden
inside functions), one writer of a pilot's state, and one definition of each vocabulary."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "policies", "assessments", "reports")
ORDER = {name: index for index, name in enumerate(PACKAGES)}
# The composition root (the app factory, and the command line it mounts) knows every domain;
# it is the one allowed exception to the direction.
COMPOSITION_ROOTS = ("registry", "registry.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours an import names (a package's __init__ counts as the package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    names: set[str] = set()
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                names.add(f"{base}.{alias.name}")
            names.add(base)
    resolved = {_resolve(name) for name in names}
    return {name for name in resolved if name and name != module}


GRAPH = {module: _imports(module) for module in MODULES}


def test_imports_go_registry_policies_assessments_reports():
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module not in COMPOSITION_ROOTS
        for target in targets
        if ORDER[target.split(".")[0]] > ORDER[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_module_import_cycles_even_inside_functions():
    graph = {m: {t for t in ts if t not in COMPOSITION_ROOTS} for m, ts in GRAPH.items()}
    for root in COMPOSITION_ROOTS:
        graph.pop(root)
    # A package's __init__ that only re-exports its modules is part of them, not a cycle.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target.startswith(node + ".") or node.startswith(target + "."):
                continue
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


# ---- one writer of the pilot's state -------------------------------------------------------

LIFECYCLE = ROOT / "registry" / "catalog" / "lifecycle.py"


def test_only_the_lifecycle_writes_a_pilots_state_in_the_code():
    from registry.catalog.lifecycle import GUARDED

    attributes = "|".join(GUARDED)
    assignment = re.compile(rf"\.({attributes})\s*=[^=]")
    keyword = re.compile(rf"\b({attributes})\s*=[^=]")
    offenders = []
    # The product's code; benchmarks seed their databases directly, like test fixtures.
    for path in MODULES.values():
        if path == LIFECYCLE:
            continue
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            if assignment.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            if "update(Pilot" in code or "insert(Pilot" in code:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            if keyword.search(code) and "Pilot(" in code:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("attribute", ["review_status", "stage", "risk_tier", "next_review_at"])
def test_writing_a_pilots_state_outside_the_lifecycle_is_refused(factory, attribute):
    from registry.catalog.lifecycle import StateWriteOutsideLifecycle

    pilot = factory.pilot(factory.user("team"))
    with pytest.raises(StateWriteOutsideLifecycle):
        setattr(pilot, attribute, None)


# ---- every promised reaction has a subscriber ----------------------------------------------


def test_every_promised_signal_has_a_subscriber(app):
    from registry import signals

    unanswered = [
        f"{signal.name}: {promise}"
        for signal, promise in signals.PROMISED.items()
        if not signal.receivers
    ]
    assert unanswered == []


# ---- one definition of each vocabulary -----------------------------------------------------

REVIEW_STATES = ("changes_requested", "approved_with_conditions")
STAGES = ("pre_deployment",)


def _literal_lists(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """String tuples/lists/sets of three or more items written out in a file."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 3:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(values) == len(node.elts) and all(isinstance(v, str) for v in values):
                found.append((node.lineno, tuple(values)))
    return found


def test_review_states_and_stages_are_written_out_once():
    """The review states' and stages' values appear as literals only in the vocabulary."""
    vocabulary = ROOT / "registry" / "catalog" / "vocabulary.py"
    offenders = []
    templates = [p for package in PACKAGES for p in (ROOT / package).rglob("*.html")]
    for path in [*MODULES.values(), *templates]:
        if path == vocabulary or "migrations" in path.parts:
            continue
        text = path.read_text()
        for value in (*REVIEW_STATES, *STAGES):
            for quote in ('"', "'"):
                if f"{quote}{value}{quote}" in text:
                    offenders.append(f"{path.relative_to(ROOT)}: {value}")
    assert offenders == []


def test_no_field_list_of_the_pilot_is_written_out_twice():
    """The pilot's fields and the OMB columns are listed once (vocabulary.PILOT_FIELDS and
    INVENTORY_COLUMNS); any other literal list of five or more of them is a second copy."""
    from registry.catalog.vocabulary import INVENTORY_COLUMNS, PILOT_FIELDS

    names = {f.name for f in PILOT_FIELDS} | {f.key for f in PILOT_FIELDS} | set(INVENTORY_COLUMNS)
    vocabulary = ROOT / "registry" / "catalog" / "vocabulary.py"
    offenders = []
    for path in MODULES.values():
        if path == vocabulary:
            continue
        for line, values in _literal_lists(path):
            known = sum(value in names for value in values)
            if known >= 5 and known >= 0.75 * len(values):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {values[:6]}...")
    assert offenders == []
