"""Facts about a pilot that the checklist evaluator reads, gathered by the caller."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = [
    "BIAS_VERDICTS",
    "AssessmentFact",
    "BiasCheckFact",
    "EvidenceFact",
    "PilotFacts",
    "WaiverFact",
]

BIAS_VERDICTS: tuple[str, ...] = ("pass", "fail", "inconclusive", "insufficient_data")


@dataclass(frozen=True)
class AssessmentFact:
    """A completed impact assessment and the level it reached (I..IV)."""

    completed_at: dt.date
    impact_level: str


@dataclass(frozen=True)
class BiasCheckFact:
    """A completed bias check; `verdict` is one of `BIAS_VERDICTS`."""

    completed_at: dt.date
    verdict: str


@dataclass(frozen=True)
class EvidenceFact:
    """An uploaded piece of evidence; `item_id` is set when it was attached to a checklist item."""

    kind: str
    uploaded_at: dt.date
    item_id: str | None = None
    evidence_id: int | None = None


@dataclass(frozen=True)
class WaiverFact:
    """An approved waiver of a checklist item."""

    item_id: str
    justification: str


@dataclass(frozen=True)
class PilotFacts:
    """Everything `evaluate` needs about one pilot on one day.

    `tier` is the pilot's impact tier (None before any impact assessment) and
    `is_high_impact` the inventory value ("High-impact", "Not high-impact" or None).
    """

    tier: str | None
    is_high_impact: str | None
    today: dt.date
    assessments: tuple[AssessmentFact, ...] = ()
    bias_checks: tuple[BiasCheckFact, ...] = ()
    evidence: tuple[EvidenceFact, ...] = ()
    waivers: tuple[WaiverFact, ...] = ()
    # Risks on the pilot's register whose review date has not passed (a risk register
    # requirement is met by at least one).
    current_risks: int = 0
