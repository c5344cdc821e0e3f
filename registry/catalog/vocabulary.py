"""The OMB 2025 AI use-case inventory vocabulary: field names and their shorthand codes."""

from __future__ import annotations

# Our stage names and the inventory's development_stage codes.
STAGES = ("pre_deployment", "pilot", "deployed", "retired")
STAGE_TO_OMB = {
    "pre_deployment": "Pre-deployment",
    "pilot": "Pilot",
    "deployed": "Deployed",
    "retired": "Retired",
}
OMB_TO_STAGE = {omb: ours for ours, omb in STAGE_TO_OMB.items()}
STAGE_LABELS = {
    "pre_deployment": "Pre-deployment",
    "pilot": "Pilot",
    "deployed": "Deployed",
    "retired": "Retired",
}

REVIEW_STATUSES = (
    "draft",
    "submitted",
    "changes_requested",
    "approved",
    "approved_with_conditions",
    "rejected",
)
REVIEW_STATUS_LABELS = {
    "draft": "Draft",
    "submitted": "Submitted",
    "changes_requested": "Changes requested",
    "approved": "Approved",
    "approved_with_conditions": "Approved with conditions",
    "rejected": "Rejected",
}

RISK_TIERS = ("I", "II", "III", "IV")
RISK_TIER_LABELS = {
    "I": "Tier I (little to no impact)",
    "II": "Tier II (moderate impact)",
    "III": "Tier III (high impact)",
    "IV": "Tier IV (very high impact)",
}
RISK_TIER_SOURCES = ("questionnaire", "override")

# Multiple-choice fields of the OMB 2025 data dictionary, as the consolidated inventory
# spells them (its shorthand codes).
IS_WITHHELD = ("No", "Yes - Disclosure Risk", "Yes - Prohibited by Law", "Other")
IS_HIGH_IMPACT = (
    "High-impact",
    "Presumed High-Impact, but Not High-impact",
    "Not High-impact",
)
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
