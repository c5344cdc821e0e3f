"""Pure, deterministic evaluation of a pilot's facts against a policy document."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .facts import AssessmentFact, BiasCheckFact, EvidenceFact, PilotFacts
from .schema import DEFAULT_PRIVACY, TIERS

__all__ = [
    "STATUSES",
    "Checklist",
    "ChecklistItem",
    "evaluate",
    "fairness_thresholds",
    "review_cadence_months",
]

STATUSES: tuple[str, ...] = ("met", "unmet", "waived", "not_applicable")


@dataclass(frozen=True)
class ChecklistItem:
    """One line of a checklist; `source` is "baseline" or "m_25_21"."""

    id: str
    title: str
    status: str
    reason: str
    nist: tuple[str, ...]
    evidence_ids: tuple[int, ...]
    source: str


@dataclass(frozen=True)
class Checklist:
    """The outcome of `evaluate`, stamped with the policy version it was evaluated under."""

    policy_name: str
    policy_version: str
    tier: str | None
    evaluated_on: dt.date
    items: tuple[ChecklistItem, ...]

    def summary(self) -> dict[str, int]:
        """Count items per status; every status is present, in `STATUSES` order."""
        counts = Counter(item.status for item in self.items)
        return {status: counts.get(status, 0) for status in STATUSES}

    def blocking(self) -> tuple[ChecklistItem, ...]:
        """The unmet items (waived items do not block)."""
        return tuple(item for item in self.items if item.status == "unmet")

    def item(self, item_id: str) -> ChecklistItem:
        """Return the item with this id, raising KeyError if it is not listed."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings, tuples as lists)."""
        return {
            "policy_name": self.policy_name,
            "policy_version": self.policy_version,
            "tier": self.tier,
            "evaluated_on": self.evaluated_on.isoformat(),
            "summary": self.summary(),
            "items": [
                {**asdict(item), "nist": list(item.nist), "evidence_ids": list(item.evidence_ids)}
                for item in self.items
            ],
        }


@dataclass(frozen=True)
class _Outcome:
    met: bool
    reason: str
    evidence_ids: tuple[int, ...] = ()


def _day(value: dt.date) -> dt.date:
    # A datetime is a date subclass, but subtracting one from a date raises.
    return value.date() if isinstance(value, dt.datetime) else value


def _too_old(when: dt.date, today: dt.date, max_age_days: int | None) -> bool:
    return max_age_days is not None and (today - _day(when)).days > max_age_days


def _check_assessment(facts: PilotFacts, max_age_days: int | None) -> _Outcome:
    if not facts.assessments:
        return _Outcome(False, "no impact assessment yet")
    last: AssessmentFact = max(
        facts.assessments, key=lambda a: (_day(a.completed_at), a.impact_level)
    )
    when = _day(last.completed_at)
    if _too_old(when, facts.today, max_age_days):
        return _Outcome(False, f"impact assessment older than {max_age_days} days (last: {when})")
    return _Outcome(True, f"impact assessment completed {when} (level {last.impact_level})")


def _check_bias(facts: PilotFacts, max_age_days: int | None) -> _Outcome:
    if not facts.bias_checks:
        return _Outcome(False, "no passing bias check on record")
    # The latest check decides; on the same day a non-passing verdict wins, to err on caution.
    last: BiasCheckFact = max(
        facts.bias_checks, key=lambda b: (_day(b.completed_at), b.verdict != "pass", b.verdict)
    )
    when = _day(last.completed_at)
    if last.verdict != "pass":
        verdict = last.verdict.replace("_", " ")
        return _Outcome(False, f"latest bias check ({when}) did not pass: {verdict}")
    if _too_old(when, facts.today, max_age_days):
        return _Outcome(False, f"bias check older than {max_age_days} days (last: {when})")
    return _Outcome(True, f"bias check passed {when}")


def _evidence_key(evidence: EvidenceFact) -> tuple[dt.date, int, str]:
    ident = evidence.evidence_id if evidence.evidence_id is not None else -1
    return (_day(evidence.uploaded_at), ident, evidence.kind)


def _check_evidence(
    facts: PilotFacts,
    item_id: str,
    kinds: list[str],
    max_age_days: int | None,
    labels: Mapping[str, str],
) -> _Outcome:
    # Evidence counts by kind, or when it was explicitly attached to this item.
    matching = sorted(
        (e for e in facts.evidence if e.kind in kinds or e.item_id == item_id), key=_evidence_key
    )

    def name(kind: str) -> str:
        label = labels.get(kind, kind.replace("_", " ")).lower()
        return "other evidence" if label == "other" else label

    wanted = " or ".join(name(k) for k in kinds) if kinds else "evidence attached to this item"
    if not matching:
        return _Outcome(False, f"no {wanted} uploaded")
    fresh = [e for e in matching if not _too_old(e.uploaded_at, facts.today, max_age_days)]
    if not fresh:
        last = matching[-1]
        return _Outcome(
            False,
            f"evidence older than {max_age_days} days "
            f"(last: {name(last.kind)} uploaded {_day(last.uploaded_at)})",
        )
    last = fresh[-1]
    ids = tuple(dict.fromkeys(e.evidence_id for e in fresh if e.evidence_id is not None))
    return _Outcome(True, f"{name(last.kind)} uploaded {_day(last.uploaded_at)}", ids)


def _check_risk_register(facts: PilotFacts) -> _Outcome:
    if facts.current_risks <= 0:
        return _Outcome(False, "no risk on the risk register, or every review date has passed")
    return _Outcome(True, f"{facts.current_risks} risk(s) on the register, reviewed on time")


def _check_item(
    item: Mapping[str, Any],
    facts: PilotFacts,
    max_age_days: int | None,
    labels: Mapping[str, str] | None = None,
) -> _Outcome:
    means = item["satisfied_by"]
    outcomes: list[_Outcome] = []
    if means.get("risk_register"):
        outcomes.append(_check_risk_register(facts))
    if means.get("impact_assessment"):
        outcomes.append(_check_assessment(facts, max_age_days))
    if means.get("bias_check"):
        outcomes.append(_check_bias(facts, max_age_days))
    if means.get("evidence_kinds"):
        outcomes.append(
            _check_evidence(facts, item["id"], means["evidence_kinds"], max_age_days, labels or {})
        )
    met = [o for o in outcomes if o.met]
    if met:
        ids = tuple(dict.fromkeys(i for o in met for i in o.evidence_ids))
        return _Outcome(True, met[0].reason, ids)
    return _Outcome(False, "; ".join(o.reason for o in outcomes))


def _line(
    item: Mapping[str, Any],
    source: str,
    outcome: _Outcome | None,
    waivers: Mapping[str, list[str]],
    not_applicable: str = "",
) -> ChecklistItem:
    ids: tuple[int, ...]
    if outcome is None:
        status, reason, ids = "not_applicable", not_applicable, ()
    elif outcome.met:
        status, reason, ids = "met", outcome.reason, outcome.evidence_ids
    elif item["id"] in waivers:
        justification = "; ".join(waivers[item["id"]])
        status, reason, ids = "waived", f"waived: {justification} ({outcome.reason})", ()
    else:
        status, reason, ids = "unmet", outcome.reason, ()
    return ChecklistItem(
        id=item["id"],
        title=item["title"],
        status=status,
        reason=reason,
        nist=tuple(item["nist"]),
        evidence_ids=ids,
        source=source,
    )


def _check_tier(policy: Mapping[str, Any], tier: str | None) -> str:
    # An untiered pilot gets the most demanding tier's values rather than none at all.
    effective = TIERS[-1] if tier is None else tier
    if effective not in policy["requirements"]:
        raise ValueError(f"unknown tier {tier!r} (expected one of {', '.join(TIERS)} or None)")
    return effective


def evaluate(policy: Mapping[str, Any], facts: PilotFacts) -> Checklist:
    """Evaluate a pilot's facts against a policy document.

    Baseline items come first, in catalogue order, then the M-25-21 items. With a tier, every
    item that some tier requires is listed: the tier's own requirements are evaluated (with
    their ``max_age_days``) and the rest are ``not_applicable``. Without a tier (no impact
    assessment yet) only ``untiered_requirements`` are listed. The M-25-21 items are
    evaluated when ``facts.is_high_impact`` equals ``m_25_21.applies_when.is_high_impact``,
    else ``not_applicable``. A waiver turns an unmet item into ``waived``; it never changes a
    met or not-applicable item.

    Parameters
    ----------
    policy : Mapping
        A validated policy document (from `load_policy_text`, `validate_policy` or
        `load_library`).
    facts : PilotFacts
        What is known about the pilot, including ``today``; nothing else is read.

    Returns
    -------
    Checklist

    Raises
    ------
    ValueError
        If ``facts.tier`` is not None and not a tier of the policy.
    """
    if facts.tier is not None:
        _check_tier(policy, facts.tier)
    waivers: dict[str, list[str]] = {}
    for waiver in facts.waivers:
        waivers.setdefault(waiver.item_id, []).append(waiver.justification)

    # Reasons name evidence by the policy's own words for it, never by its id.
    labels = {kind["id"]: kind["label"] for kind in policy.get("evidence_kinds", [])}
    lines: list[ChecklistItem] = []
    if facts.tier is None:
        listed = {req["item"]: req for req in policy["untiered_requirements"]}
        required = listed
    else:
        listed = {req["item"]: req for tier in TIERS for req in policy["requirements"][tier]}
        required = {req["item"]: req for req in policy["requirements"][facts.tier]}
    for item in policy["items"]:
        if item["id"] not in listed:
            continue
        req = required.get(item["id"])
        outcome = None if req is None else _check_item(item, facts, req.get("max_age_days"), labels)
        lines.append(
            _line(item, "baseline", outcome, waivers, f"not required for tier {facts.tier}")
        )

    section = policy["m_25_21"]
    trigger = section["applies_when"]["is_high_impact"]
    applies = facts.is_high_impact == trigger
    if facts.is_high_impact is None:
        skip = "high-impact determination not recorded"
    else:
        skip = f"applies only to {trigger} AI (recorded: {facts.is_high_impact})"
    for item in section["items"]:
        outcome = _check_item(item, facts, None, labels) if applies else None
        lines.append(_line(item, "m_25_21", outcome, waivers, skip))

    return Checklist(
        policy_name=policy["name"],
        policy_version=policy["version"],
        tier=facts.tier,
        evaluated_on=facts.today,
        items=tuple(lines),
    )


def review_cadence_months(policy: Mapping[str, Any], tier: str | None) -> int:
    """Months between reviews for a tier; None (untiered) gets tier IV's, the shortest.

    Raises
    ------
    ValueError
        If `tier` is not a tier of the policy.
    """
    return int(policy["review_cadence_months"][_check_tier(policy, tier)])


def fairness_thresholds(
    policy: Mapping[str, Any], tier: str | None, task: str = "binary_classification"
) -> tuple[int, list[dict[str, Any]]]:
    """Return ``(min_group_size, thresholds)`` for a tier and a kind of check; None (untiered)
    gets tier IV's.

    Each threshold is a new dict ``{"metric": name, "ratio_min": float}`` or
    ``{"metric": name, "difference_max": float}``; ratios compare a group's metric with the
    best-off group's, differences are absolute gaps. Binary classification checks use the
    tier's ``thresholds``, the other tasks their entry in ``thresholds_by_task`` (an empty list
    when the policy sets none for the task).

    Raises
    ------
    ValueError
        If `tier` is not a tier of the policy.
    """
    rules = policy["fairness"][_check_tier(policy, tier)]
    if task == "binary_classification":
        chosen = rules["thresholds"]
    else:
        chosen = (rules.get("thresholds_by_task") or {}).get(task, [])
    return int(rules["min_group_size"]), [dict(rule) for rule in chosen]


def small_cell_min(policy: Mapping[str, Any]) -> int:
    """The smallest count public outputs and the board packet show (``privacy.small_cell_min``)."""
    privacy = policy.get("privacy") or {}
    return int(privacy.get("small_cell_min", DEFAULT_PRIVACY["small_cell_min"]))
