"""Governance policies: the shipped library, validation, questionnaire scoring and checklists."""

from .diff import changed_sections, readable_diff
from .errors import AnswersInvalid, PolicyError, PolicyInvalid
from .evaluate import (
    STATUSES,
    Checklist,
    ChecklistItem,
    evaluate,
    fairness_thresholds,
    review_cadence_months,
    small_cell_min,
)
from .facts import (
    BIAS_VERDICTS,
    AssessmentFact,
    BiasCheckFact,
    EvidenceFact,
    PilotFacts,
    WaiverFact,
)
from .schema import (
    METRICS,
    TIERS,
    library_yaml,
    load_library,
    load_policy_text,
    nist_index,
    validate_policy,
)
from .scoring import AreaScore, Score, impact_level, score, validate_answers, visible_questions

__all__ = [
    "BIAS_VERDICTS",
    "METRICS",
    "STATUSES",
    "TIERS",
    "AnswersInvalid",
    "AreaScore",
    "AssessmentFact",
    "BiasCheckFact",
    "Checklist",
    "ChecklistItem",
    "EvidenceFact",
    "PilotFacts",
    "PolicyError",
    "PolicyInvalid",
    "Score",
    "WaiverFact",
    "changed_sections",
    "evaluate",
    "fairness_thresholds",
    "impact_level",
    "library_yaml",
    "load_library",
    "load_policy_text",
    "nist_index",
    "readable_diff",
    "review_cadence_months",
    "score",
    "small_cell_min",
    "validate_answers",
    "validate_policy",
    "visible_questions",
]
