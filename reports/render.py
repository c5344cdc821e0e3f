"""Render reports: the same templates give the HTML preview and, through WeasyPrint, the PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from pathlib import Path
from typing import Any

from flask import current_app, render_template, url_for

from assessments import bias_checks, compliance, service, workflow
from assessments.charts import METRIC_NAMES
from assessments.suppression import protect_groups
from policies import small_cell_min
from policies import store as policy_store
from policies.fairness import BINARY_REPORT_TABLE, TASK_LABELS
from registry.audit.service import jsonable
from registry.catalog.models import Pilot
from registry.catalog.vocabulary import (
    APPROVED_STATUSES,
    REVIEW_STATUS_LABELS,
    RISK_TIERS,
    STAGE_LABELS,
    ReviewStatus,
)
from reports import data as report_data
from reports.charts import DEFAULT_STYLE, STATUS_STYLES, TIER_STYLES, bar_chart_svg
from reports.csv_safety import safe_row
from reports.pdf import render_pdf
from reports.print_svg import print_svg

log = logging.getLogger(__name__)
# WeasyPrint warns about every SVG presentation property it styles itself (matplotlib's
# inline styles); refused URLs and real failures are logged at ERROR and still show.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
# The board packet names at most this many groups of a check (the rest are only in the total).
PACKET_GROUPS = 24
REPORT_METRICS = BINARY_REPORT_TABLE
AUTHOR = "AI Oversight Registry"


def _pdf(html: str, *, title: str, subject: str) -> bytes:
    return render_pdf(html, static_root=Path(current_app.static_folder), title=title, author=AUTHOR,
                      lang="en", subject=subject)


def _print_charts(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each bias check's charts replaced by their lean print copies."""
    return {**data, "bias_checks": [{**check, "charts": {metric: print_svg(svg) for metric, svg in check["charts"].items()}}
                                    for check in data["bias_checks"]]}


def pilot_report_html(pilot: Pilot, *, preview: bool) -> tuple[str, dict[str, Any]]:
    data = report_data.pilot_report(pilot)
    verification = report_data.verification(data)  # over the stored charts, as record.json
    if not preview:
        data = _print_charts(data)
    html = render_template(
        "reports/pilot_report.html", data=data, verification=verification, preview=preview,
        metric_labels=METRIC_NAMES, report_metrics=REPORT_METRICS,
        doc_title=f"Accountability report: {pilot.name}", doc_author=AUTHOR,
        doc_subject=f"AI accountability report for {pilot.name} ({pilot.agency})",
        back_url=url_for("catalog.pilot_detail", pilot_id=pilot.id),
        pdf_url=url_for("reports.pilot_report_pdf", pilot_id=pilot.id),
    )
    return html, verification


def pilot_report_pdf(pilot: Pilot) -> bytes:
    html, _ = pilot_report_html(pilot, preview=False)
    return _pdf(html, title=f"Accountability report: {pilot.name}",
                subject=f"AI accountability report for {pilot.name}")


def _charts(pf: dict[str, Any]) -> list[dict[str, Any]]:
    specs = [
        ("tier", "Pilots by risk tier", "Risk tier",
         [(f"Tier {r['value']}" if r["value"] else "Not assessed", r["count"]) for r in pf["by_tier"]],
         [TIER_STYLES[r["value"]] for r in pf["by_tier"]]),
        ("stage", "Pilots by stage", "Stage", [(STAGE_LABELS[r["value"]], r["count"]) for r in pf["by_stage"]],
         [DEFAULT_STYLE for _ in pf["by_stage"]]),
        ("status", "Pilots by review status", "Review status",
         [(REVIEW_STATUS_LABELS[r["value"]], r["count"]) for r in pf["by_status"]],
         [STATUS_STYLES[r["value"]] for r in pf["by_status"]]),
    ]
    return [{"key": key, "title": title, "label": label, "rows": rows,
             "svg": bar_chart_svg(key, title, [r[0] for r in rows], [r[1] for r in rows], styles)}
            for key, title, label, rows, styles in specs]


def dashboard_kpis(pf: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures at the top of the dashboard, each with where it is explained or listed;
    `attention` marks a figure that is a problem when it is not zero."""
    by_status = {r["value"]: r["count"] for r in pf["by_status"]}
    approved = sum(by_status.get(s.value, 0) for s in APPROVED_STATUSES)
    return [
        {"key": "total", "label": "AI use cases", "value": pf["total"], "attention": False,
         "url": url_for("catalog.pilot_list")},
        {"key": "approved", "label": "Approved", "value": approved, "attention": False,
         "url": "#status-heading"},
        {"key": "awaiting_decision", "label": "Awaiting a decision",
         "value": by_status.get(ReviewStatus.SUBMITTED.value, 0), "attention": False,
         "url": url_for("catalog.pilot_list", review_status=ReviewStatus.SUBMITTED.value)},
        {"key": "in_use_without_approval", "label": "In use without approval",
         "value": len(pf["in_use_without_approval"]), "attention": True, "url": "#unapproved-heading"},
        {"key": "serious_incidents", "label": "Open serious incidents",
         "value": len(pf["serious_incidents"]), "attention": True, "url": "#incidents-heading"},
        {"key": "overdue_conditions", "label": "Overdue conditions",
         "value": len(pf["overdue_conditions"]), "attention": True, "url": "#conditions-heading"},
    ]


def dashboard_blocks(pf: dict[str, Any]) -> list[dict[str, Any]]:
    """Charts whose every count links to the filtered pilot list."""
    blocks = []
    filters = {"tier": ("risk_tier", [r["value"] for r in pf["by_tier"]]),
               "stage": ("stage", [r["value"] for r in pf["by_stage"]]),
               "status": ("review_status", [r["value"] for r in pf["by_status"]])}
    for chart in _charts(pf):
        field, values = filters[chart["key"]]
        rows = []
        for (label, count), value in zip(chart["rows"], values, strict=True):
            url = url_for("catalog.pilot_list", **{field: value}) if value else url_for("catalog.pilot_list")
            rows.append({"label": label, "count": count, "url": url})
        blocks.append({**chart, "rows": rows})
    return blocks


def group_sizes(results: dict[str, Any] | None, minimum: int) -> str | None:
    """A check's group counts as the board packet shows them: small-cell protected.

    Counts below ``minimum`` read "fewer than N", and others are hidden where the total would
    give a small one away (:mod:`assessments.suppression`).
    """
    groups = (results or {}).get("by_group") or []
    if not groups:
        return None
    cells, total, _ = protect_groups(groups, minimum=minimum)
    named = [
        f"{' · '.join(str(v) for v in g['group'].values())}: {shown.text}"
        for g, shown in zip(groups, cells, strict=True)
    ][:PACKET_GROUPS]
    more = len(groups) - len(named)
    text = "; ".join(named) + (f"; and {more} more groups" if more > 0 else "")
    note = f" (counts below {minimum} are not shown exactly)" if minimum > 1 else ""
    return f"{text}. All groups: {total.text}{note}."


def _summaries(pf: dict[str, Any]) -> dict[int, dict[str, Any]]:
    summaries = {}
    today = workflow.today()
    _, policy = policy_store.active_policy()
    minimum = small_cell_min(policy)
    for pilot in pf["pilots_by_priority"]:
        snapshot = compliance.stored_or_evaluated(pilot)
        check = pf["latest_checks"].get(pilot.id)
        decisions = workflow.decisions_for(pilot)
        summaries[pilot.id] = {
            "summary": snapshot["summary"], "policy": snapshot["policy_version_label"],
            "blocking": compliance.blocking_titles(snapshot),
            "check": check,
            "group_sizes": group_sizes(check.results, minimum) if check else None,
            "findings": [f for f in (check.findings or []) if f.get("verdict") in ("fail", "inconclusive")][:3]
            if check else [],
            "decision": decisions[0] if decisions else None,
            "open_conditions": sum(1 for c in workflow.conditions_for(pilot) if c.state(today) != "met"),
        }
    return summaries


def agency_name() -> str:
    """Whose packet this is: AGENCY_NAME when configured, else the root organisation's name."""
    from registry.auth.organizations import root

    return (current_app.config.get("AGENCY_NAME") or "").strip() or root().name


def board_packet_html(since: dt.date | None, *, preview: bool,
                      organization_ids: set[int] | None = None) -> str:
    pf = report_data.portfolio(since=since, organization_ids=organization_ids)
    summaries = _summaries(pf)
    charts = _charts(pf)
    if not preview:
        charts = [{**chart, "svg": print_svg(chart["svg"])} for chart in charts]
    digest_input = {
        "since": pf["since"], "counts": [pf["by_tier"], pf["by_stage"], pf["by_status"]],
        "pilots": [{"id": p.id, "version": p.version, "summary": summaries[p.id]["summary"],
                    "check": summaries[p.id]["check"].id if summaries[p.id]["check"] else None}
                   for p in pf["pilots_by_priority"]],
        "decisions": [row["decision"].id for row in pf["decisions"]],
    }
    by_status = {r["value"]: r["count"] for r in pf["by_status"]}
    return render_template(
        "reports/board_packet.html", portfolio=pf, summaries=summaries, charts=charts, task_labels=TASK_LABELS,
        agency=agency_name(), prepared=workflow.today(), awaiting_decision=by_status.get(ReviewStatus.SUBMITTED.value, 0),
        status_labels=REVIEW_STATUS_LABELS,
        verification=report_data.verification(digest_input), preview=preview,
        doc_title="AI portfolio board packet", doc_author=AUTHOR,
        doc_subject=f"Governance board packet, decisions since {pf['since']}",
        back_url=url_for("reports.dashboard"), pdf_url=url_for("reports.board_packet_pdf"),
    )


def board_packet_pdf(since: dt.date | None, organization_ids: set[int] | None = None) -> bytes:
    return _pdf(board_packet_html(since, preview=False, organization_ids=organization_ids), title="AI portfolio board packet",
                subject="Governance board packet")


def board_packet_csv(since: dt.date | None, organization_ids: set[int] | None = None) -> str:
    """The packet's per-pilot table as CSV, neutralised against formula injection."""
    pf = report_data.portfolio(since=since, organization_ids=organization_ids)
    summaries = _summaries(pf)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["pilot_id", "use_case_id", "name", "agency", "owner_email", "risk_tier", "risk_tier_source",
                     "stage", "review_status", "is_high_impact", "next_review_at", "review_due_since",
                     "checklist_met", "checklist_unmet", "checklist_waived", "latest_bias_verdict",
                     "open_conditions", "overdue_conditions", "last_decision", "last_decision_at"])
    for p in pf["pilots_by_priority"]:
        s = summaries[p.id]
        writer.writerow(safe_row([
            p.id, p.use_case_id or "", p.name, p.agency, p.owner_email, p.risk_tier or "", p.risk_tier_source or "",
            p.stage, p.review_status, p.is_high_impact or "", p.next_review_at or "", p.review_due_since or "",
            s["summary"]["met"], s["summary"]["unmet"], s["summary"]["waived"],
            s["check"].verdict if s["check"] else "", s["open_conditions"], pf["overdue_by_pilot"].get(p.id, 0),
            s["decision"].decision if s["decision"] else "",
            s["decision"].decided_at.date().isoformat() if s["decision"] else "",
        ]))
    return out.getvalue()


def full_record(pilot: Pilot) -> dict[str, Any]:
    """A pilot's full record as JSON-ready data, with the verification block."""
    data = report_data.pilot_report(pilot)
    verification = report_data.verification(data)
    for check in data["bias_checks"]:
        # The charts are renderings of the numbers kept here; they are not part of the record.
        check.pop("charts", None)
        check.pop("tables", None)
    return jsonable({**data, "verification": verification})


def model_card(pilot: Pilot) -> dict[str, Any]:
    """A model-card-style summary (after Mitchell et al., 2019) of a pilot."""
    latest = bias_checks.latest_succeeded(pilot)
    assessment = service.latest_assessment(pilot)
    version, checklist = service.compliance(pilot)
    return jsonable({
        "model_details": {"name": pilot.name, "agency": pilot.agency, "owner": pilot.owner_email,
                          "vendor": pilot.vendor_name, "technique": pilot.classification,
                          "development": pilot.contracting_usage, "stage": pilot.stage,
                          "inventory_id": pilot.use_case_id},
        "intended_use": {"purpose": pilot.purpose, "benefits": pilot.benefits, "outputs": pilot.system_outputs,
                         "high_impact": pilot.is_high_impact, "high_impact_justification": pilot.hi_justification},
        "factors": {"demographic_features": pilot.demographic_features,
                    "sensitive_features_evaluated": latest.sensitive_features if latest else []},
        "metrics": {"bias_check_id": latest.id if latest else None,
                    "overall": (latest.results or {}).get("overall") if latest else None,
                    "disparities": (latest.results or {}).get("disparities") if latest else None},
        "evaluation_data": {"file": latest.filename if latest else None, "sha256": latest.sha256 if latest else None,
                            "rows": latest.n_rows if latest else None},
        "quantitative_analyses": {"verdict": latest.verdict if latest else None,
                                  "findings": latest.findings if latest else []},
        "ethical_considerations": {"risk_tier": pilot.risk_tier, "risk_tier_source": pilot.risk_tier_source,
                                   "impact_level": assessment.impact_level if assessment else None,
                                   "data_sources": [{"name": s.name, "flags": s.sensitivity_flags}
                                                    for s in pilot.data_sources]},
        "caveats_and_recommendations": {"policy_version": version.label,
                                        "unmet_requirements": [i.title for i in checklist.blocking()],
                                        "review_status": pilot.review_status,
                                        "next_review_at": pilot.next_review_at},
        "tiers": list(RISK_TIERS),
    })
