"""Validation, normalisation and YAML loading of a complete policy document."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import yaml

from .errors import PolicyInvalid
from .fairness import BINARY, METRIC_ALIASES, TASKS, THRESHOLD_METRICS, definition

__all__ = [
    "DEFAULT_PRIVACY",
    "FUNCTIONS",
    "METRICS",
    "OPTIONAL_KEYS",
    "QUESTION_KINDS",
    "TIERS",
    "TOP_LEVEL_KEYS",
    "library_yaml",
    "load_library",
    "load_policy_text",
    "nist_index",
    "validate_policy",
]

TIERS: tuple[str, ...] = ("I", "II", "III", "IV")
#: The metrics a binary-classification threshold may name (the vocabulary is
#: :mod:`policies.fairness`; ``thresholds_by_task`` names those of the other tasks).
METRICS: tuple[str, ...] = THRESHOLD_METRICS[BINARY]
QUESTION_KINDS: tuple[str, ...] = ("impact", "mitigation", "unscored")
FUNCTIONS: tuple[str, ...] = ("GOVERN", "MAP", "MEASURE", "MANAGE")

#: Top-level keys of a policy document, in canonical order; OPTIONAL_KEYS may be left out.
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "name",
    "version",
    "description",
    "evidence_kinds",
    "items",
    "untiered_requirements",
    "requirements",
    "review_cadence_months",
    "fairness",
    "publishing",
    "privacy",
    "m_25_21",
    "questionnaire",
    "nist_ai_rmf",
)
#: Top-level keys a policy may leave out (each has a default).
OPTIONAL_KEYS: tuple[str, ...] = ("description", "publishing", "privacy")
#: The publishing settings a policy without a `publishing` section gets.
DEFAULT_PUBLISHING: dict[str, Any] = {
    # Who may publish or retract a use case's public record (roles).
    "publishers": ["caio", "admin"],
    # A use case's first submission publishes its record as it stands (the inventory lists
    # every use case under review); later changes go through ready -> published.
    "publish_on_submission": True,
    # Plain-language checks on public text: warnings above these, never a refusal.
    "max_reading_grade": 12,
    "max_sentence_words": 30,
}
#: What public outputs and the board packet show of small counts: a count below
#: `small_cell_min` is shown as "fewer than N" (1 shows every count).
DEFAULT_PRIVACY: dict[str, int] = {"small_cell_min": 10}

#: Shipped library files, composed in this order into one document.
LIBRARY_FILES: tuple[str, ...] = (
    "baseline.yaml",
    "m_25_21.yaml",
    "questionnaire.yaml",
    "nist_ai_rmf.yaml",
)

# A policy body is stored in one database row; anything this large is a mistake or an attack.
MAX_TEXT_CHARS = 1_000_000
# Aliases let a small text expand into a huge tree for the validator to walk.
MAX_ALIASES = 200

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_MEANS = ("impact_assessment", "bias_check", "evidence_kinds", "risk_register")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Checker:
    """Collects the first error per path while the validators walk the document."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "document", message)

    def mapping(
        self,
        value: Any,
        path: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, "must be a mapping")
            return None
        ok = True
        for key in required:
            if key not in value:
                self.add(_join(path, key), "is required")
                ok = False
        for key in value:
            if key not in required and key not in optional:
                self.add(_join(path, str(key)), "unknown field")
                ok = False
        return dict(value) if ok else None

    def listing(self, value: Any, path: str, *, non_empty: bool = False) -> list[Any] | None:
        if not isinstance(value, list):
            self.add(path, "must be a list")
            return None
        if non_empty and not value:
            self.add(path, "must not be empty")
            return None
        return value

    def text(self, value: Any, path: str) -> str | None:
        if isinstance(value, bool):
            # PyYAML reads bare yes/no/on/off as booleans; say so, it is the usual cause.
            self.add(path, "must be a non-empty string (quote yes/no/on/off/true/false in YAML)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(path, "must be a non-empty string")
            return None
        return value

    def ident(self, value: Any, path: str) -> str | None:
        if self.text(value, path) is None:
            return None
        if not _SNAKE.match(value):
            self.add(path, "must be a snake_case identifier")
            return None
        return str(value)

    def flag(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, "must be true or false")
            return None
        return value

    def positive_int(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.add(path, "must be a positive integer")
            return None
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, "must be an integer")
            return None
        return value

    def number(self, value: Any, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "must be a number")
            return None
        return float(value)

    def semver(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not _SEMVER.match(value):
            self.add(path, 'must be a semantic version string such as "1.0.0"')
            return None
        return value

    def unique(self, seen: set[str], value: str, path: str, what: str) -> bool:
        if value in seen:
            self.add(path, f"duplicate {what} '{value}'")
            return False
        seen.add(value)
        return True

    def tiers(self, value: Any, path: str, each: Callable[[Any, str], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not isinstance(value, Mapping):
            self.add(path, "must be a mapping of tiers I, II, III and IV")
            return out
        for key in value:
            if key not in TIERS:
                self.add(_join(path, str(key)), "unknown tier (expected I, II, III or IV)")
        for tier in TIERS:
            if tier not in value:
                self.add(_join(path, tier), "missing tier")
            else:
                out[tier] = each(value[tier], _join(path, tier))
        return out


def _nist(c: _Checker, value: Any, path: str) -> tuple[dict[str, Any], set[str]]:
    doc = c.mapping(value, path, ("title", "functions"), ("reference",))
    if doc is None:
        return {}, set()
    ids: set[str] = set()
    out: dict[str, Any] = {"title": c.text(doc["title"], _join(path, "title"))}
    if "reference" in doc:
        out["reference"] = c.text(doc["reference"], _join(path, "reference"))
    functions_out: list[dict[str, Any]] = []
    seen_functions: set[str] = set()
    functions = c.listing(doc["functions"], _join(path, "functions"), non_empty=True) or []
    for i, fn_value in enumerate(functions):
        fpath = _join(_join(path, "functions"), i)
        fn = c.mapping(fn_value, fpath, ("id", "title", "categories"))
        if fn is None:
            continue
        fid = fn["id"]
        if fid not in FUNCTIONS:
            c.add(_join(fpath, "id"), "must be one of GOVERN, MAP, MEASURE, MANAGE")
            continue
        c.unique(seen_functions, fid, _join(fpath, "id"), "function")
        categories_out: list[dict[str, Any]] = []
        categories = c.listing(fn["categories"], _join(fpath, "categories"), non_empty=True) or []
        for j, cat_value in enumerate(categories):
            cpath = _join(_join(fpath, "categories"), j)
            cat = c.mapping(cat_value, cpath, ("id", "title", "subcategories"))
            if cat is None:
                continue
            cid = cat["id"]
            if not isinstance(cid, str) or not re.fullmatch(rf"{fid} \d+", cid):
                c.add(_join(cpath, "id"), f"must look like '{fid} 1'")
                continue
            c.unique(ids, cid, _join(cpath, "id"), "NIST id")
            subs_out: list[dict[str, Any]] = []
            subs = c.listing(cat["subcategories"], _join(cpath, "subcategories"), non_empty=True)
            for k, sub_value in enumerate(subs or []):
                spath = _join(_join(cpath, "subcategories"), k)
                sub = c.mapping(sub_value, spath, ("id", "summary"))
                if sub is None:
                    continue
                sid = sub["id"]
                if not isinstance(sid, str) or not re.fullmatch(rf"{re.escape(cid)}\.\d+", sid):
                    c.add(_join(spath, "id"), f"must look like '{cid}.1'")
                    continue
                c.unique(ids, sid, _join(spath, "id"), "NIST id")
                subs_out.append(
                    {"id": sid, "summary": c.text(sub["summary"], _join(spath, "summary"))}
                )
            categories_out.append(
                {
                    "id": cid,
                    "title": c.text(cat["title"], _join(cpath, "title")),
                    "subcategories": subs_out,
                }
            )
        functions_out.append(
            {
                "id": fid,
                "title": c.text(fn["title"], _join(fpath, "title")),
                "categories": categories_out,
            }
        )
    out["functions"] = functions_out
    subcategories = {i for i in ids if "." in i}
    return out, subcategories


def _evidence_kinds(c: _Checker, value: Any, path: str) -> tuple[list[dict[str, str]], set[str]]:
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(c.listing(value, path, non_empty=True) or []):
        epath = _join(path, i)
        kind = c.mapping(entry, epath, ("id", "label"))
        if kind is None:
            continue
        kid = c.ident(kind["id"], _join(epath, "id"))
        label = c.text(kind["label"], _join(epath, "label"))
        if kid is not None and c.unique(seen, kid, _join(epath, "id"), "evidence kind"):
            out.append({"id": kid, "label": label or ""})
    return out, seen


def _items(
    c: _Checker, value: Any, path: str, kinds: set[str], nist_ids: set[str], seen: set[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(c.listing(value, path, non_empty=True) or []):
        ipath = _join(path, i)
        item = c.mapping(entry, ipath, ("id", "title", "satisfied_by", "nist"), ("description",))
        if item is None:
            continue
        iid = c.ident(item["id"], _join(ipath, "id"))
        if iid is not None:
            c.unique(seen, iid, _join(ipath, "id"), "item id")
        normal: dict[str, Any] = {"id": iid, "title": c.text(item["title"], _join(ipath, "title"))}
        if "description" in item:
            normal["description"] = c.text(item["description"], _join(ipath, "description"))
        normal["satisfied_by"] = _satisfied_by(
            c, item["satisfied_by"], _join(ipath, "satisfied_by"), kinds
        )
        normal["nist"] = _citations(c, item["nist"], _join(ipath, "nist"), nist_ids)
        out.append(normal)
    return out


def _satisfied_by(c: _Checker, value: Any, path: str, kinds: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "impact_assessment": False,
        "bias_check": False,
        "evidence_kinds": [],
        "risk_register": False,
    }
    means = c.mapping(value, path, (), _MEANS)
    if means is None:
        return out
    for flag in ("impact_assessment", "bias_check", "risk_register"):
        if flag in means:
            out[flag] = bool(c.flag(means[flag], _join(path, flag)))
    if "evidence_kinds" in means:
        kpath = _join(path, "evidence_kinds")
        seen: set[str] = set()
        for j, kind in enumerate(c.listing(means["evidence_kinds"], kpath) or []):
            if not isinstance(kind, str) or kind not in kinds:
                c.add(_join(kpath, j), f"unknown evidence kind '{kind}'")
            elif c.unique(seen, kind, _join(kpath, j), "evidence kind"):
                out["evidence_kinds"].append(kind)
    if not (
        out["impact_assessment"]
        or out["bias_check"]
        or out["evidence_kinds"]
        or out["risk_register"]
    ):
        c.add(
            path,
            "must name at least one means: impact_assessment, bias_check, evidence_kinds or "
            "risk_register",
        )
    return out


def _citations(c: _Checker, value: Any, path: str, nist_ids: set[str]) -> list[str]:
    out: list[str] = []
    for j, ref in enumerate(c.listing(value, path, non_empty=True) or []):
        if not isinstance(ref, str) or ref not in nist_ids:
            c.add(_join(path, j), f"unknown NIST AI RMF subcategory '{ref}'")
        elif ref in out:
            c.add(_join(path, j), f"duplicate subcategory '{ref}'")
        else:
            out.append(ref)
    return out


def _requirement_list(c: _Checker, value: Any, path: str, items: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(c.listing(value, path) or []):
        rpath = _join(path, i)
        req = c.mapping(entry, rpath, ("item",), ("max_age_days",))
        if req is None:
            continue
        item = req["item"]
        if not isinstance(item, str) or item not in items:
            c.add(_join(rpath, "item"), f"unknown item '{item}'")
            continue
        if not c.unique(seen, item, _join(rpath, "item"), "item"):
            continue
        max_age = None
        if req.get("max_age_days") is not None:
            max_age = c.positive_int(req["max_age_days"], _join(rpath, "max_age_days"))
        out.append({"item": item, "max_age_days": max_age})
    return out


def _publishing(c: _Checker, value: Any, path: str) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULT_PUBLISHING)
    if value is None:
        return out
    section = c.mapping(value, path, (), tuple(DEFAULT_PUBLISHING))
    if section is None:
        return out
    if "publishers" in section:
        roles = [
            c.ident(role, _join(_join(path, "publishers"), i))
            for i, role in enumerate(
                c.listing(section["publishers"], _join(path, "publishers"), non_empty=True) or []
            )
        ]
        out["publishers"] = [role for role in roles if role]
    if "publish_on_submission" in section:
        flag = c.flag(section["publish_on_submission"], _join(path, "publish_on_submission"))
        out["publish_on_submission"] = bool(flag)
    for key in ("max_reading_grade", "max_sentence_words"):
        if key in section:
            out[key] = c.positive_int(section[key], _join(path, key)) or out[key]
    return out


def _fairness_tier(c: _Checker, value: Any, path: str) -> dict[str, Any]:
    tier = c.mapping(value, path, ("min_group_size", "thresholds"), ("thresholds_by_task",))
    if tier is None:
        return {}
    size = c.positive_int(tier["min_group_size"], _join(path, "min_group_size"))
    out: dict[str, Any] = {
        "min_group_size": size,
        "thresholds": _thresholds(c, tier["thresholds"], _join(path, "thresholds"), BINARY),
    }
    if "thresholds_by_task" in tier:
        bpath = _join(path, "thresholds_by_task")
        by_task = tier["thresholds_by_task"]
        if not isinstance(by_task, Mapping):
            c.add(bpath, "must be a mapping of task to thresholds")
            return out
        others = [t for t in TASKS if t != BINARY]
        out["thresholds_by_task"] = {}
        for task, rules in by_task.items():
            if task not in others:
                c.add(
                    _join(bpath, str(task)),
                    f"unknown task (expected one of {', '.join(others)}; binary classification "
                    "thresholds go under thresholds)",
                )
                continue
            out["thresholds_by_task"][task] = _thresholds(c, rules, _join(bpath, task), task)
    return out


def _thresholds(c: _Checker, value: Any, tpath: str, task: str) -> list[dict[str, Any]]:
    allowed = THRESHOLD_METRICS[task]
    thresholds: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(c.listing(value, tpath) or []):
        epath = _join(tpath, i)
        rule = c.mapping(entry, epath, ("metric",), ("ratio_min", "difference_max"))
        if rule is None:
            continue
        metric = rule["metric"]
        if metric not in allowed:
            c.add(
                _join(epath, "metric"),
                f"unknown metric '{metric}' (expected one of {', '.join(allowed)})",
            )
            continue
        bounds = [key for key in ("ratio_min", "difference_max") if key in rule]
        if len(bounds) != 1:
            c.add(epath, "must have exactly one of ratio_min or difference_max")
            continue
        bound = bounds[0]
        number = c.number(rule[bound], _join(epath, bound))
        if number is None:
            continue
        quantity = metric not in METRIC_ALIASES and definition(metric, task).style == "quantity"
        if bound == "ratio_min" and not 0 < number <= 1:
            c.add(_join(epath, bound), "must be a number in (0, 1]")
            continue
        if (
            bound == "ratio_min"
            and metric not in METRIC_ALIASES
            and not definition(metric, task).ratio_meaningful
        ):
            c.add(_join(epath, bound), f"a ratio of {metric} has no meaning; use difference_max")
            continue
        if bound == "difference_max" and not quantity and not 0 <= number <= 1:
            c.add(_join(epath, bound), "must be a number in [0, 1]")
            continue
        if bound == "difference_max" and quantity and number < 0:
            c.add(_join(epath, bound), "must not be negative")
            continue
        if c.unique(seen, f"{metric}/{bound}", epath, "threshold"):
            thresholds.append({"metric": metric, bound: number})
    return thresholds


def _privacy(c: _Checker, value: Any, path: str) -> dict[str, Any]:
    section = c.mapping(value, path, (), tuple(DEFAULT_PRIVACY))
    if section is None:
        return dict(DEFAULT_PRIVACY)
    out = dict(DEFAULT_PRIVACY)
    if "small_cell_min" in section:
        size = c.positive_int(section["small_cell_min"], _join(path, "small_cell_min"))
        if size is not None:
            out["small_cell_min"] = size
    return out


def _m_25_21(
    c: _Checker, value: Any, path: str, kinds: set[str], nist_ids: set[str], seen: set[str]
) -> dict[str, Any]:
    section = c.mapping(value, path, ("title", "applies_when", "items"), ("reference",))
    if section is None:
        return {}
    out: dict[str, Any] = {"title": c.text(section["title"], _join(path, "title"))}
    if "reference" in section:
        out["reference"] = c.text(section["reference"], _join(path, "reference"))
    wpath = _join(path, "applies_when")
    when = c.mapping(section["applies_when"], wpath, ("is_high_impact",))
    if when is not None:
        out["applies_when"] = {
            "is_high_impact": c.text(when["is_high_impact"], _join(wpath, "is_high_impact"))
        }
    out["items"] = _items(c, section["items"], _join(path, "items"), kinds, nist_ids, seen)
    return out


def _questionnaire(c: _Checker, value: Any, path: str) -> dict[str, Any]:
    doc = c.mapping(value, path, ("version", "title", "areas", "questions"))
    if doc is None:
        return {}
    out: dict[str, Any] = {
        "version": c.semver(doc["version"], _join(path, "version")),
        "title": c.text(doc["title"], _join(path, "title")),
    }
    areas: list[dict[str, str]] = []
    area_ids: set[str] = set()
    apath = _join(path, "areas")
    for i, entry in enumerate(c.listing(doc["areas"], apath, non_empty=True) or []):
        area = c.mapping(entry, _join(apath, i), ("id", "label"))
        if area is None:
            continue
        aid = c.ident(area["id"], _join(_join(apath, i), "id"))
        label = c.text(area["label"], _join(_join(apath, i), "label"))
        if aid is not None and c.unique(area_ids, aid, _join(_join(apath, i), "id"), "area"):
            areas.append({"id": aid, "label": label or ""})
    out["areas"] = areas

    questions: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    qpath = _join(path, "questions")
    for i, entry in enumerate(c.listing(doc["questions"], qpath, non_empty=True) or []):
        question = _question(c, entry, _join(qpath, i), area_ids, by_id)
        if question is not None:
            questions.append(question)
    out["questions"] = questions
    return out


def _question(
    c: _Checker,
    value: Any,
    path: str,
    area_ids: set[str],
    earlier: dict[str, dict[str, Any]],
) -> dict[str, Any] | None:
    q = c.mapping(
        value,
        path,
        ("id", "area", "text", "kind", "choices"),
        ("multiple", "required", "show_if", "help"),
    )
    if q is None:
        return None
    qid = c.ident(q["id"], _join(path, "id"))
    if qid is not None and qid in earlier:
        c.add(_join(path, "id"), f"duplicate question id '{qid}'")
        qid = None
    if not isinstance(q["area"], str) or q["area"] not in area_ids:
        c.add(_join(path, "area"), f"unknown area '{q['area']}'")
    kind = q["kind"]
    if kind not in QUESTION_KINDS:
        c.add(_join(path, "kind"), "must be one of impact, mitigation, unscored")
    multiple = bool(c.flag(q["multiple"], _join(path, "multiple"))) if "multiple" in q else False
    required = c.flag(q["required"], _join(path, "required")) if "required" in q else True
    out: dict[str, Any] = {
        "id": qid,
        "area": q["area"],
        "text": c.text(q["text"], _join(path, "text")),
        "kind": kind,
        "multiple": multiple,
        "required": True if required is None else required,
        "show_if": None,
        "choices": [],
    }
    if "help" in q:
        out["help"] = c.text(q["help"], _join(path, "help"))
    cpath = _join(path, "choices")
    values: set[str] = set()
    for j, entry in enumerate(c.listing(q["choices"], cpath, non_empty=True) or []):
        choice = _choice(c, entry, _join(cpath, j), kind=kind, multiple=multiple)
        if choice is not None and c.unique(
            values, choice["value"], _join(_join(cpath, j), "value"), "choice value"
        ):
            out["choices"].append(choice)
    if q.get("show_if") is not None:
        out["show_if"] = _show_if(c, q["show_if"], _join(path, "show_if"), earlier)
    if qid is not None:
        earlier[qid] = out
    return out


def _choice(
    c: _Checker, value: Any, path: str, *, kind: Any, multiple: bool
) -> dict[str, Any] | None:
    choice = c.mapping(value, path, ("value", "label"), ("weight", "exclusive"))
    if choice is None:
        return None
    cvalue = c.text(choice["value"], _join(path, "value"))
    label = c.text(choice["label"], _join(path, "label"))
    weight = 0
    if kind == "unscored":
        if choice.get("weight", 0) != 0:
            c.add(_join(path, "weight"), "unscored questions take no weights")
    elif "weight" not in choice:
        c.add(_join(path, "weight"), "is required")
    else:
        weight = c.integer(choice["weight"], _join(path, "weight")) or 0
    exclusive = False
    if "exclusive" in choice:
        exclusive = bool(c.flag(choice["exclusive"], _join(path, "exclusive")))
        if exclusive and not multiple:
            c.add(_join(path, "exclusive"), "only applies to multiple-choice questions")
    if cvalue is None:
        return None
    return {"value": cvalue, "label": label or "", "weight": weight, "exclusive": exclusive}


def _show_if(
    c: _Checker, value: Any, path: str, earlier: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    cond = c.mapping(value, path, ("question", "in"))
    if cond is None:
        return None
    target = cond["question"]
    qpath = _join(path, "question")
    if not isinstance(target, str):
        c.add(qpath, "must be a question id")
        return None
    if target not in earlier:
        # Requiring controllers to come first rules out cycles and keeps forms top-down.
        c.add(qpath, f"unknown question '{target}' (show_if must name an earlier question)")
        return None
    allowed = {choice["value"] for choice in earlier[target]["choices"]}
    ipath = _join(path, "in")
    values: list[str] = []
    for j, v in enumerate(c.listing(cond["in"], ipath, non_empty=True) or []):
        if not isinstance(v, str) or v not in allowed:
            c.add(_join(ipath, j), f"'{v}' is not a choice of '{target}'")
        elif v not in values:
            values.append(v)
    return {"question": target, "in": values}


def validate_policy(doc: Any) -> dict[str, Any]:
    """Validate a complete policy document and return a normalised copy.

    Parameters
    ----------
    doc : Any
        The document as parsed from YAML (a mapping with the keys of ``TOP_LEVEL_KEYS``).

    Returns
    -------
    dict
        A new dict in canonical key order, with defaults filled in: questions get
        ``multiple``, ``required`` and ``show_if``; choices get ``weight`` and ``exclusive``;
        ``privacy`` gets ``small_cell_min`` (default 10);
        requirement entries get ``max_age_days`` (None when unbounded); ``satisfied_by`` gets
        all three means; threshold bounds become floats.

    Raises
    ------
    PolicyInvalid
        With ``errors`` mapping paths such as ``requirements.III[2].max_age_days`` to messages.
    """
    c = _Checker()
    required = tuple(key for key in TOP_LEVEL_KEYS if key not in OPTIONAL_KEYS)
    top = c.mapping(doc, "", required, OPTIONAL_KEYS)
    if top is None:
        raise PolicyInvalid(c.errors)

    nist, nist_ids = _nist(c, top["nist_ai_rmf"], "nist_ai_rmf")
    kinds_list, kinds = _evidence_kinds(c, top["evidence_kinds"], "evidence_kinds")
    item_ids: set[str] = set()
    items = _items(c, top["items"], "items", kinds, nist_ids, item_ids)
    baseline_ids = set(item_ids)
    m_25_21 = _m_25_21(c, top["m_25_21"], "m_25_21", kinds, nist_ids, item_ids)

    out: dict[str, Any] = {
        "name": c.text(top["name"], "name"),
        "version": c.semver(top["version"], "version"),
    }
    if "description" in top:
        out["description"] = c.text(top["description"], "description")
    out["evidence_kinds"] = kinds_list
    out["items"] = items
    out["untiered_requirements"] = _requirement_list(
        c, top["untiered_requirements"], "untiered_requirements", baseline_ids
    )
    out["requirements"] = c.tiers(
        top["requirements"],
        "requirements",
        lambda v, p: _requirement_list(c, v, p, baseline_ids),
    )
    out["review_cadence_months"] = c.tiers(
        top["review_cadence_months"], "review_cadence_months", c.positive_int
    )
    out["fairness"] = c.tiers(top["fairness"], "fairness", lambda v, p: _fairness_tier(c, v, p))
    out["publishing"] = _publishing(c, top.get("publishing"), "publishing")
    out["privacy"] = _privacy(c, top.get("privacy", {}), "privacy")
    out["m_25_21"] = m_25_21
    out["questionnaire"] = _questionnaire(c, top["questionnaire"], "questionnaire")
    out["nist_ai_rmf"] = nist
    if c.errors:
        raise PolicyInvalid(c.errors)
    return out


# libyaml's parser when PyYAML was built with it (Debian's and PyPI's wheels are): the pure
# Python parser took ~0.15 s for the shipped library, which every fresh process parses.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that rejects duplicate keys (YAML silently keeps the last); alias bombs are
    refused before loading (see _count_aliases)."""


def _count_aliases(text: str) -> None:
    """Refuse a document with more than MAX_ALIASES aliases (billion-laughs style bombs)."""
    aliases = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases", event.start_mark
                )


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> Any:
    """Parse YAML text safely, turning syntax errors into ``PolicyInvalid`` at path ``yaml``."""
    if not isinstance(text, str):
        raise PolicyInvalid({"yaml": "must be text"})
    if len(text) > MAX_TEXT_CHARS:
        raise PolicyInvalid({"yaml": f"is longer than {MAX_TEXT_CHARS} characters"})
    try:
        _count_aliases(text)
        # Safe: _StrictLoader is a (C)SafeLoader subclass, so no arbitrary Python objects.
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise PolicyInvalid({"yaml": f"{where}{problem}"}) from exc
    except yaml.YAMLError as exc:
        raise PolicyInvalid({"yaml": str(exc)}) from exc
    except RecursionError as exc:
        raise PolicyInvalid({"yaml": "is nested too deeply"}) from exc


def load_policy_text(yaml_text: str) -> dict[str, Any]:
    """Parse and validate a policy document stored as YAML text.

    Parameters
    ----------
    yaml_text : str
        One complete policy document, e.g. the body of a stored policy version.

    Returns
    -------
    dict
        The normalised document (see `validate_policy`).

    Raises
    ------
    PolicyInvalid
        ``errors == {"yaml": "line 3, column 5: ..."}`` for syntax errors and duplicate keys,
        otherwise the path-named errors of `validate_policy`.
    """
    return validate_policy(parse_yaml(yaml_text))


@functools.cache
def _composed_library() -> dict[str, Any]:
    folder = resources.files(__package__).joinpath("library")
    composed: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in LIBRARY_FILES:
        part = parse_yaml(folder.joinpath(name).read_text(encoding="utf-8"))
        if not isinstance(part, dict):
            raise PolicyInvalid({name: "must be a mapping"})
        for key, value in part.items():
            if key in composed:
                raise PolicyInvalid({key: f"defined in both {origin[key]} and {name}"})
            composed[key] = value
            origin[key] = name
    ordered = {key: composed[key] for key in TOP_LEVEL_KEYS if key in composed}
    return ordered | composed


@functools.cache
def _validated_library() -> dict[str, Any]:
    return validate_policy(_composed_library())


def load_library() -> dict[str, Any]:
    """Compose the shipped library files into one validated, normalised policy document.

    Returns
    -------
    dict
        A fresh copy, equal to ``load_policy_text(library_yaml())``.

    Raises
    ------
    PolicyInvalid
        If the shipped files are invalid (a packaging bug).
    """
    # The files are parsed once per process; callers get copies they may mutate.
    return copy.deepcopy(_validated_library())


@functools.cache
def library_yaml() -> str:
    """Return the shipped library as one YAML document, the form a policy version is stored in.

    Returns
    -------
    str
        YAML text that `load_policy_text` accepts; the library is validated first.
    """
    _validated_library()
    body = yaml.safe_dump(
        _composed_library(),
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    header = "# Policy document composed from policies/library: " + ", ".join(LIBRARY_FILES)
    return f"{header}\n{body}"


def nist_index(policy: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Map each NIST AI RMF subcategory id to its function, category and summary.

    Parameters
    ----------
    policy : Mapping
        A validated policy document.

    Returns
    -------
    dict
        ``{"MAP 1.1": {"function": "MAP", "category": "MAP 1", "summary": "..."}, ...}`` in
        catalogue order.
    """
    index: dict[str, dict[str, str]] = {}
    for fn in policy["nist_ai_rmf"]["functions"]:
        for cat in fn["categories"]:
            for sub in cat["subcategories"]:
                index[sub["id"]] = {
                    "function": fn["id"],
                    "category": cat["id"],
                    "summary": sub["summary"],
                }
    return index


_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_LINE_PREFIX = re.compile(r"^line (\d+), column \d+: ")


_UNSET: Any = object()


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of `text` (with line marks), or None when it is not YAML."""
    try:
        return yaml.compose(text, Loader=_SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None


def error_line(text: str, path: str, message: str = "", *, node: Any = _UNSET) -> int | None:
    """The 1-based line of `text` that an error of `validate_policy` or `parse_yaml` is about.

    A syntax error's message carries its line; a schema error's path (such as
    ``requirements.III[2].max_age_days``) is followed through the composed YAML nodes, whose
    marks know where each value starts. A path to a missing key gives the line of the deepest
    part that exists (the mapping that lacks it); None when even that cannot be found, for
    example when the text is not YAML at all.

    Parameters
    ----------
    text : str
        The policy document as written.
    path : str
        The error's path (``yaml`` for a syntax error, ``document`` for the whole text).
    message : str, optional
        The error's message (a syntax error's line is read from it).
    node : yaml.Node, optional
        ``compose(text)`` when the caller locates several errors of one text.

    Returns
    -------
    int or None
    """
    if path == "yaml":
        match = _LINE_PREFIX.match(message)
        return int(match.group(1)) if match else None
    if node is _UNSET:
        node = compose(text)
    if node is None:
        return None
    line = node.start_mark.line + 1
    for index, key in _PATH_TOKEN.findall(path):
        if index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
            continue
        if key and isinstance(node, yaml.MappingNode):
            found = next(
                (
                    (key_node, value_node)
                    for key_node, value_node in node.value
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == key
                ),
                None,
            )
            if found is not None:
                # The key's line: a block value starts on the lines below it.
                line = found[0].start_mark.line + 1
                node = found[1]
                continue
        break
    return line
