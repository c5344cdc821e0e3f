"""Where each unmet checklist item is fixed: the steps, in words, with a link to each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_login import current_user

from policies import store
from registry.auth.permissions import can


@dataclass(frozen=True)
class Fix:
    """One way to meet a checklist item: what to do, and the page where it is done (None when
    the person reading may not do it there: they see what needs doing, not a refused link)."""

    text: str
    url: str | None


def _item_definitions(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    items = {item["id"]: item for item in document["items"]}
    items.update({item["id"]: item for item in document["m_25_21"]["items"]})
    return items


def _kind_labels(document: Mapping[str, Any]) -> dict[str, str]:
    return {kind["id"]: kind["label"] for kind in document["evidence_kinds"]}


def fixes_for(item_id: str, pilot: Any, document: Mapping[str, Any]) -> list[Fix]:
    """The ways to meet one checklist item, each with the link to the page that does it."""

    def link(action: str, endpoint: str, **values: Any) -> str | None:
        return url_for(endpoint, **values) if can(current_user, action, pilot) else None

    definition = _item_definitions(document).get(item_id)
    if definition is None:
        return []
    means = definition["satisfied_by"]
    labels = _kind_labels(document)
    fixes: list[Fix] = []
    if means.get("impact_assessment"):
        fixes.append(
            Fix(
                "Answer the impact questionnaire",
                link("pilot.assess", "assessments.questionnaire", pilot_id=pilot.id),
            )
        )
    if means.get("bias_check"):
        fixes.append(
            Fix(
                "Run a bias check that passes",
                link("pilot.upload", "assessments.bias_check_new", pilot_id=pilot.id),
            )
        )
    if means.get("risk_register"):
        fixes.append(
            Fix(
                "Record a risk on the risk register, with a review date",
                link("risk.manage", "trust.risk_register", pilot_id=pilot.id),
            )
        )
    kinds = means.get("evidence_kinds") or []
    if kinds:
        names = " or ".join(labels.get(kind, kind).lower() for kind in kinds)
        fixes.append(
            Fix(
                f"Attach evidence: {names}",
                link(
                    "pilot.upload",
                    "catalog.pilot_detail",
                    pilot_id=pilot.id,
                    evidence_item=item_id,
                    _anchor="attach-evidence",
                ),
            )
        )
    return fixes


def unmet_items(pilot: Any, version: Any, checklist: Any) -> list[dict[str, Any]]:
    """The checklist's unmet items, each with its reason and the ways to fix it."""
    document = store.document(version)
    return [
        {
            "id": item.id,
            "title": item.title,
            "reason": item.reason,
            "fixes": fixes_for(item.id, pilot, document),
        }
        for item in checklist.blocking()
    ]
