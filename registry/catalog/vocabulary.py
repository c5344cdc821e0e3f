"""The pilot record's vocabulary, each defined once: stages, review states, decisions, the OMB
2025 inventory codes and the pilot's fields.

Everything else (the API schemas, the lifecycle, the forms, the templates, the inventory export
and import, the PDFs) reads these definitions; none of them writes a list of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


def _member(cls: type, value: str, label: str) -> Any:
    member = str.__new__(cls, value)
    member._value_ = value
    member.label = label
    return member


class LabelledEnum(StrEnum):
    """A string enum whose members carry the words a person reads (``member.label``)."""

    label: str

    def __new__(cls, value: str, label: str, *extra: Any):
        return _member(cls, value, label)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs, for forms."""
        return [(member.value, member.label) for member in cls]

    @classmethod
    def label_of(cls, value: str | None, default: str = "") -> str:
        """The label of a stored value; the value itself if it is not a member (old data)."""
        if value is None:
            return default
        try:
            return cls(value).label
        except ValueError:
            return str(value)


class Stage(LabelledEnum):
    """Where a pilot is in its life; the order is the order of the gates."""

    PRE_DEPLOYMENT = "pre_deployment", "Pre-deployment"
    PILOT = "pilot", "Pilot"
    DEPLOYED = "deployed", "Deployed"
    RETIRED = "retired", "Retired"

    @property
    def omb(self) -> str:
        """The inventory's development_stage code."""
        return self.label

    @property
    def in_use(self) -> bool:
        """Whether the system affects people at this stage (a pilot phase or deployment)."""
        return self in (Stage.PILOT, Stage.DEPLOYED)

    @property
    def rank(self) -> int:
        """Gate order: pre-deployment < pilot < deployed; retired is outside the order."""
        return {Stage.PRE_DEPLOYMENT: 0, Stage.PILOT: 1, Stage.DEPLOYED: 2}.get(self, -1)


class ApprovedStage(LabelledEnum):
    """The stages an approval can cover: a pilot phase, or deployment (which covers a pilot)."""

    PILOT = "pilot", "Pilot"
    DEPLOYED = "deployed", "Deployment"

    def covers(self, stage: str) -> bool:
        """Whether an approval for this stage lets a pilot be at `stage`."""
        return Stage(stage).rank <= Stage(self.value).rank


class ReviewStatus(LabelledEnum):
    DRAFT = "draft", "Draft", "✎"
    SUBMITTED = "submitted", "Submitted", "→"
    CHANGES_REQUESTED = "changes_requested", "Changes requested", "↺"
    APPROVED = "approved", "Approved", "✓"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions", "✓*"
    REJECTED = "rejected", "Rejected", "✗"

    def __new__(cls, value: str, label: str, symbol: str):
        member = _member(cls, value, label)
        member.symbol = symbol
        return member

    @property
    def is_approved(self) -> bool:
        return self in APPROVED_STATUSES


APPROVED_STATUSES = frozenset({ReviewStatus.APPROVED, ReviewStatus.APPROVED_WITH_CONDITIONS})


class DecisionKind(LabelledEnum):
    APPROVE = "approve", "Approve", ReviewStatus.APPROVED
    APPROVE_WITH_CONDITIONS = (
        "approve_with_conditions",
        "Approve with conditions",
        ReviewStatus.APPROVED_WITH_CONDITIONS,
    )
    REQUEST_CHANGES = "request_changes", "Request changes", ReviewStatus.CHANGES_REQUESTED
    REJECT = "reject", "Reject", ReviewStatus.REJECTED

    def __new__(cls, value: str, label: str, resulting: ReviewStatus):
        member = _member(cls, value, label)
        member.resulting_status = resulting
        return member

    @property
    def approves(self) -> bool:
        return self in (DecisionKind.APPROVE, DecisionKind.APPROVE_WITH_CONDITIONS)


class ConditionStatus(LabelledEnum):
    OPEN = "open", "Open"
    REPORTED = "reported", "Reported met, awaiting verification"
    MET = "met", "Met"
    OVERDUE = "overdue", "Overdue"


class CheckStatus(LabelledEnum):
    """A checklist item's status, with the symbol shown beside its colour."""

    MET = "met", "Met", "✓"
    UNMET = "unmet", "Not met", "✗"
    WAIVED = "waived", "Waived", "≈"
    NOT_APPLICABLE = "not_applicable", "Not applicable", "–"

    def __new__(cls, value: str, label: str, symbol: str):
        member = _member(cls, value, label)
        member.symbol = symbol
        return member


class Verdict(LabelledEnum):
    """A bias check's verdict."""

    PASS = "pass", "Passed"
    FAIL = "fail", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    INSUFFICIENT_DATA = "insufficient_data", "Not enough data"


class RiskTier(LabelledEnum):
    I = "I", "Tier I (little to no impact)"  # noqa: E741 - the policy's own tier names
    II = "II", "Tier II (moderate impact)"
    III = "III", "Tier III (high impact)"
    IV = "IV", "Tier IV (very high impact)"


class TierSource(LabelledEnum):
    QUESTIONNAIRE = "questionnaire", "Impact questionnaire"
    OVERRIDE = "override", "CAIO override"


# Multiple-choice fields of the OMB 2025 data dictionary, as the consolidated inventory
# spells them (its shorthand codes).
class IsWithheld(LabelledEnum):
    NO = "No", "No"
    DISCLOSURE_RISK = "Yes - Disclosure Risk", "Yes: disclosure risk"
    PROHIBITED_BY_LAW = "Yes - Prohibited by Law", "Yes: prohibited by law"
    OTHER = "Other", "Other"


class IsHighImpact(LabelledEnum):
    HIGH_IMPACT = "High-impact", "High-impact"
    PRESUMED_NOT = (
        "Presumed High-Impact, but Not High-impact",
        "Presumed high-impact, but not high-impact",
    )
    NOT_HIGH_IMPACT = "Not High-impact", "Not high-impact"


STAGES = Stage.values()
STAGE_LABELS = Stage.labels()
STAGE_TO_OMB = {stage.value: stage.omb for stage in Stage}
OMB_TO_STAGE = {stage.omb: stage.value for stage in Stage}
REVIEW_STATUSES = ReviewStatus.values()
REVIEW_STATUS_LABELS = ReviewStatus.labels()
RISK_TIERS = RiskTier.values()
RISK_TIER_LABELS = RiskTier.labels()
RISK_TIER_SOURCES = TierSource.values()
IS_WITHHELD = IsWithheld.values()
IS_HIGH_IMPACT = IsHighImpact.values()

TOPIC_AREAS = (
    "Admin Functions",
    "Benefits Processing",
    "Cybersecurity",
    "Emergency Mgmt",
    "Energy and Environment",
    "Health and Medical",
    "HR",
    "International Affairs",
    "IT",
    "Law Enforcement",
    "Procurement and Finance Mgmt",
    "Science",
    "Service Delivery",
    "Transportation",
    "Other",
)
CLASSIFICATIONS = (
    "Agentic AI",
    "Classical ML",
    "Computer Vision",
    "Generative AI",
    "NLP",
    "Reinforcement Learning",
    "Other",
)
CONTRACTING_USAGE = ("Vendor Purchased", "In-house Development", "Contracting and In House")
YES_NO = ("Yes", "No")
DEMOGRAPHIC_FEATURES = (
    "a) Race/Ethnicity",
    "b) Sex",
    "c) Age",
    "d) Religious Affiliation",
    "e) Socioeconomic Status",
    "f) Ability Status",
    "g) Residency Status",
    "h) Marital Status",
    "i) Income",
    "j) Employment Status",
    "k) None of the above",
    "l) Other",
)


# ---- the pilot's fields --------------------------------------------------------------------


@dataclass(frozen=True)
class PilotField:
    """One field of the pilot record, as every layer needs to know it.

    ``name`` is the attribute on the Pilot, ``api`` the name in the API and forms (the OMB
    data dictionary's where it has one), ``omb`` the inventory column it maps to one for one.
    ``material`` fields are the ones an approval covers: changing one after an approval opens
    a new, unreviewed revision. ``kind`` is text, longtext, choice, list, emails, ids or email.
    """

    name: str
    label: str
    kind: str = "text"
    api: str = ""
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    omb: str | None = None
    material: bool = False
    required: bool = False
    section: str = "use_case"
    hint: str = ""

    @property
    def key(self) -> str:
        """The name in the API and in forms."""
        return self.api or self.name


# Form sections, in order.
SECTIONS = {
    "use_case": "The use case",
    "people": "Agency and people",
    "data": "Development and data",
    "high_impact": "M-25-21 status and transparency",
}

PILOT_FIELDS: tuple[PilotField, ...] = (
    PilotField("name", "Name", max_length=300, required=True, omb="use_case_name"),
    PilotField(
        "purpose",
        "Purpose: the problem it solves",
        kind="longtext",
        max_length=10_000,
        required=True,
        material=True,
        omb="problem_solved",
    ),
    PilotField("benefits", "Expected benefits", kind="longtext", max_length=10_000, omb="benefits"),
    PilotField(
        "system_outputs",
        "What the system outputs",
        kind="longtext",
        max_length=10_000,
        material=True,
        omb="system_outputs",
    ),
    PilotField(
        "stage",
        "Stage",
        kind="choice",
        choices=STAGES,
        required=True,
        material=True,
        hint="Moving to Pilot or Deployed needs an approval that covers that stage.",
    ),
    PilotField(
        "retired_reason", "Reason for retirement (when retiring)", kind="longtext", max_length=5_000
    ),
    PilotField("topic_area", "Topic area", kind="choice", choices=TOPIC_AREAS, omb="topic_area"),
    PilotField(
        "classification",
        "AI classification",
        kind="choice",
        choices=CLASSIFICATIONS,
        material=True,
        omb="classification",
    ),
    PilotField(
        "agency",
        "Agency (abbreviation)",
        max_length=100,
        required=True,
        section="people",
        omb="agency",
    ),
    PilotField("agency_name", "Agency name", max_length=200, section="people", omb="agency_name"),
    PilotField(
        "agency_bureau", "Bureau or office", max_length=300, section="people", omb="agency_bureau"
    ),
    PilotField(
        "owner_email",
        "Accountable owner (email of a registered user)",
        kind="email",
        max_length=254,
        required=True,
        section="people",
    ),
    PilotField(
        "team_member_emails",
        "Team members (one email per line)",
        kind="emails",
        section="people",
        hint="The person registering the pilot joins its team automatically.",
    ),
    PilotField(
        "use_case_id",
        "Inventory use case ID",
        max_length=64,
        section="people",
        hint="Only if the use case is already in an OMB inventory, for example DOJ-0357. "
        "Otherwise the registry assigns one.",
    ),
    PilotField(
        "contracting_usage",
        "How it was developed",
        kind="choice",
        choices=CONTRACTING_USAGE,
        section="data",
        omb="contracting_usage",
    ),
    PilotField(
        "vendor_name", "Vendor", max_length=300, material=True, section="data", omb="vendor_name"
    ),
    PilotField(
        "has_pii",
        "Does it use personally identifiable information?",
        kind="choice",
        choices=YES_NO,
        section="data",
        omb="has_pii",
    ),
    PilotField(
        "demographic_features",
        "Demographic features used as model inputs",
        kind="list",
        choices=DEMOGRAPHIC_FEATURES,
        material=True,
        section="data",
    ),
    PilotField("data_source_ids", "Data sources", kind="ids", material=True, section="data"),
    PilotField(
        "data_description",
        "Description of the data",
        kind="longtext",
        max_length=10_000,
        section="data",
        omb="data_description",
    ),
    PilotField(
        "link_to_data",
        "Link to the data",
        max_length=2_000,
        section="data",
        omb="link_to_data",
    ),
    PilotField(
        "pia_url",
        "Privacy impact assessment link",
        max_length=2_000,
        section="data",
        omb="pia_url",
    ),
    PilotField(
        "have_ato",
        "Does the system have an authority to operate?",
        kind="choice",
        choices=YES_NO,
        section="data",
        omb="have_ato",
    ),
    PilotField(
        "system_name_ato",
        "System name on the ATO",
        max_length=300,
        section="data",
        omb="system_name_ato",
    ),
    PilotField(
        "has_custom_code",
        "Has custom code?",
        kind="choice",
        choices=YES_NO,
        section="data",
        omb="has_custom_code",
    ),
    PilotField("code_url", "Code link", max_length=2_000, section="data", omb="code_url"),
    PilotField(
        "operational_date",
        "Operational date",
        max_length=40,
        section="data",
        omb="operational_date",
    ),
    PilotField(
        "is_high_impact",
        "Is it high-impact under M-25-21?",
        kind="choice",
        choices=IS_HIGH_IMPACT,
        material=True,
        section="high_impact",
        omb="is_high_impact",
        hint="Required before the pilot is submitted for review.",
    ),
    PilotField(
        "hi_justification",
        "Justification of the high-impact determination",
        kind="longtext",
        api="HI_justification",
        max_length=10_000,
        section="high_impact",
        omb="HI_justification",
        hint="Required when the use case is presumed high-impact but determined not to be.",
    ),
    PilotField(
        "hi_potential_impacts",
        "Potential impacts identified",
        kind="longtext",
        max_length=10_000,
        section="high_impact",
        omb="hi_potential_impacts",
    ),
    PilotField(
        "is_withheld",
        "Withheld from the public inventory?",
        kind="choice",
        choices=IS_WITHHELD,
        section="high_impact",
        omb="is_withheld",
    ),
)
FIELDS_BY_NAME: dict[str, PilotField] = {field.name: field for field in PILOT_FIELDS}
FIELDS_BY_KEY: dict[str, PilotField] = {field.key: field for field in PILOT_FIELDS}
# The fields an approval covers (purpose, outputs, stage, high-impact status, data sources,
# demographic features, vendor and the AI classification).
MATERIAL_FIELDS: tuple[str, ...] = tuple(field.name for field in PILOT_FIELDS if field.material)
# Pilot attributes read straight into an inventory column of the same meaning.
OMB_COLUMN_FIELDS: dict[str, str] = {
    field.omb: field.name for field in PILOT_FIELDS if field.omb is not None
}
# The pilot's state, which only the lifecycle writes.
STATE_FIELDS: tuple[str, ...] = (
    "review_status",
    "risk_tier",
    "risk_tier_source",
    "risk_tier_justification",
    "next_review_at",
    "review_due_since",
    "review_due_reason",
    "approved_revision",
    "approved_stage",
    "in_use_without_approval",
    "unreviewed_changes",
)


def field_label(name: str) -> str:
    """The words for a pilot field (by attribute or API name)."""
    field = FIELDS_BY_NAME.get(name) or FIELDS_BY_KEY.get(name)
    if field is not None:
        return field.label
    return name.replace("_", " ").capitalize()


# The 36 columns of the OMB 2025 AI use-case inventory data dictionary, in order.
INVENTORY_COLUMNS = (
    "agency",
    "agency_name",
    "id",
    "use_case_name",
    "agency_bureau",
    "contact_email",
    "is_withheld",
    "development_stage",
    "is_high_impact",
    "HI_justification",
    "topic_area",
    "classification",
    "problem_solved",
    "benefits",
    "system_outputs",
    "operational_date",
    "contracting_usage",
    "vendor_name",
    "have_ato",
    "system_name_ato",
    "data_description",
    "link_to_data",
    "has_pii",
    "pia_url",
    "demographic_features",
    "has_custom_code",
    "code_url",
    "hi_testing_conducted",
    "hi_assessment_completed",
    "hi_potential_impacts",
    "hi_independent_review",
    "hi_ongoing_monitoring",
    "hi_training_established",
    "hi_failsafe_presence",
    "hi_appeal_process",
    "hi_public_consultation",
)
# The M-25-21 practices the checklist answers, in inventory order (hi_potential_impacts is the
# pilot's own text, not a practice).
HI_PRACTICE_COLUMNS: tuple[str, ...] = tuple(
    column
    for column in INVENTORY_COLUMNS
    if column.startswith("hi_") and column != "hi_potential_impacts"
)


# ---- public trust: the public record, concerns, incidents and risks ----------------------------


class PublicationState(LabelledEnum):
    """Where a use case's public record is in the publishing workflow."""

    DRAFT = "draft", "Not yet published"
    READY = "ready", "Ready to publish"
    PUBLISHED = "published", "Published"
    RETRACTED = "retracted", "Retracted"


class PublicationAction(LabelledEnum):
    """What made a published version: each is kept, with its date, in the public history."""

    PUBLISHED = "published", "Published"
    IMPORTED = "imported", "Imported from a published inventory"
    WITHHELD = "withheld", "Fields withheld"
    RETIRED = "retired", "Retired"
    RETRACTED = "retracted", "Retracted"


# OMB's reasons for withholding, as the data dictionary's is_withheld codes ("No" aside).
WITHHOLDING_REASONS: tuple[str, ...] = tuple(r.value for r in IsWithheld if r != IsWithheld.NO)
# Inventory columns that identify a record and so are never withheld on their own.
NEVER_WITHHELD_COLUMNS: tuple[str, ...] = ("agency", "agency_name", "id", "is_withheld")
WITHHELD_TEXT = "withheld"
# Columns a use case must fill before its record is published (a 409 lists the empty ones).
REQUIRED_PUBLIC_COLUMNS: tuple[str, ...] = (
    "use_case_name",
    "agency",
    "problem_solved",
    "development_stage",
    "is_high_impact",
    "contact_email",
)


class ConcernStatus(LabelledEnum):
    """A concern from the public, as its submitter follows it."""

    NEW = "new", "Received, waiting for a first response"
    RESPONDED = "responded", "The agency has responded"
    DISMISSED = "dismissed", "Closed without further action"
    MERGED = "merged", "Merged with an earlier report of the same problem"
    INCIDENT = "incident", "Being investigated as an incident"


class IncidentSeverity(LabelledEnum):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    SERIOUS = "serious", "Serious"
    CRITICAL = "critical", "Critical"

    @property
    def is_serious(self) -> bool:
        """Serious and critical incidents mark the pilot review due and block approvals."""
        return self in (IncidentSeverity.SERIOUS, IncidentSeverity.CRITICAL)


class IncidentStatus(LabelledEnum):
    OPEN = "open", "Open"
    MITIGATING = "mitigating", "Being mitigated"
    RESOLVED = "resolved", "Resolved"
    ACCEPTED = "accepted", "Accepted, with a justification"

    @property
    def is_closed(self) -> bool:
        return self in (IncidentStatus.RESOLVED, IncidentStatus.ACCEPTED)


# Suggestions offered by the forms; incidents and risks may name others in their own words.
HARM_CATEGORIES: tuple[str, ...] = (
    "Discrimination or unfair treatment",
    "Wrongful denial of a benefit or service",
    "Privacy or data exposure",
    "Physical safety",
    "Financial loss",
    "Misinformation or wrong advice",
    "Loss of access or accessibility",
    "Other",
)
RISK_CATEGORIES: tuple[str, ...] = (
    "Fairness and bias",
    "Privacy",
    "Safety",
    "Security",
    "Accuracy and reliability",
    "Transparency",
    "Legal and compliance",
    "Vendor and supply chain",
    "Other",
)
