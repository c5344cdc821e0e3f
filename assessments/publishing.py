"""The publishing workflow for a use case's public record, and the plain-language checks of
its public text.

The record goes draft -> ready -> published and can be retracted with a public reason; the
lifecycle (`registry.catalog.lifecycle`) stores each published version. This module gathers
what the lifecycle needs as facts: the record as it would be published now (the 36 inventory
columns, with the public inquiry address as contact), the waivers in force, and who may
publish (the policy's ``publishing.publishers``). Each public function owns its transaction.

Plain-language checks warn and never block: reading grade (``textstat``), sentence length,
acronyms used without being spelled out, and links that do not answer. Links are checked by a
background job (`check_links`, queued through `assessments.jobs`), never while a page is
served; the checks read the job's stored results.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select

from assessments import compliance, jobs
from assessments.models import Evidence, ImpactAssessment
from assessments.trust_models import PublicLinkCheck
from policies import store
from policies.schema import DEFAULT_PUBLISHING
from registry.auth.permissions import authorize
from registry.catalog import lifecycle, public_record
from registry.catalog.models import Pilot, PilotRevision, PublishedVersion
from registry.catalog.vocabulary import PublicationState
from registry.errors import Forbidden
from registry.extensions import db

log = logging.getLogger(__name__)

# The public texts the checks read, by inventory column.
TEXT_COLUMNS = ("problem_solved", "benefits", "system_outputs", "data_description")
LINK_COLUMNS = ("link_to_data", "pia_url", "code_url")
# Acronyms every reader of an AI inventory knows; any other is spelled out once.
KNOWN_ACRONYMS = frozenset({"AI", "US", "USA", "OMB", "ID"})
_URL = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,9}s?\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def settings() -> dict[str, Any]:
    """The active policy's publishing settings."""
    _, document = store.active_policy()
    return document.get("publishing") or dict(DEFAULT_PUBLISHING)


def may_publish(actor: Any) -> bool:
    return (
        bool(getattr(actor, "is_authenticated", False)) and actor.role in settings()["publishers"]
    )


def check_may_publish(actor: Any) -> None:
    """401 for nobody, 403 for anyone the policy does not name as a publisher."""
    authorize(actor, "pilot.read")
    roles = settings()["publishers"]
    if actor.role not in roles:
        raise Forbidden(
            "Only a "
            + " or ".join(role.upper() if role == "caio" else role for role in roles)
            + " may publish or retract a use case's public record (the policy says so)."
        )


# ---- the record as it would be published now ----------------------------------------------------


def inquiry_address(pilot: Pilot) -> str | None:
    """The public inquiry address that replaces personal emails, for the pilot's agency.

    ``PUBLIC_INQUIRY_EMAILS`` maps agency codes to addresses; ``PUBLIC_INQUIRY_EMAIL`` is the
    address for every other agency. None when neither is configured.
    """
    config = current_app.config
    by_agency = config.get("PUBLIC_INQUIRY_EMAILS") or {}
    return by_agency.get(pilot.agency) or config.get("PUBLIC_INQUIRY_EMAIL") or None


def _assessed(pilot: Pilot) -> bool:
    for model in (ImpactAssessment, Evidence):
        if db.session.scalar(select(model.id).where(model.pilot_id == pilot.id).limit(1)):
            return True
    return False


def public_row(pilot: Pilot) -> dict[str, str]:
    """The pilot's 36 inventory columns as they would be published now (before withholding)."""
    names = (
        "id",
        "use_case_id",
        "name",
        "purpose",
        "agency",
        "stage",
        "demographic_features",
        "inventory_extra",
        "compliance",
        "unreviewed_changes",
        *public_record.TEXT_COLUMNS.values(),
    )
    values = {name: getattr(pilot, name) for name in dict.fromkeys(names)}
    values["approved_fields"] = None
    if pilot.unreviewed_changes and pilot.approved_revision is not None:
        values["approved_fields"] = db.session.scalar(
            select(PilotRevision.fields).where(
                PilotRevision.pilot_id == pilot.id,
                PilotRevision.number == pilot.approved_revision,
            )
        )
    contact = inquiry_address(pilot) or pilot.owner.email
    return public_record.row_for(values, contact, assessed=_assessed(pilot))


def public_waivers(pilot: Pilot) -> list[dict[str, str]]:
    """The waivers in force, as the inventory publishes them: the item and the justification."""
    approval = compliance.standing_approval(pilot)
    if approval is None:
        return []
    titles = {item["id"]: item["title"] for item in (pilot.compliance or {}).get("items", [])}
    return [
        {
            "item_id": w.item_id,
            "title": titles.get(w.item_id, w.item_id),
            "justification": w.justification,
        }
        for w in approval.waivers
    ]


# ---- the workflow ---------------------------------------------------------------------------------


def mark_ready(pilot: Pilot, actor: Any) -> dict[str, Any]:
    """An editor puts the record forward for publication; the links are queued for checking."""
    lifecycle.mark_ready(pilot, actor, row=public_row(pilot))
    db.session.commit()
    queue_link_check(pilot)
    return checks(pilot)


def publish(pilot: Pilot, actor: Any, *, reason: str | None = None) -> PublishedVersion:
    """A publisher publishes the ready record as a new version."""
    check_may_publish(actor)
    version = lifecycle.publish(
        pilot, actor, row=public_row(pilot), waivers=public_waivers(pilot), reason=reason
    )
    db.session.commit()
    return version


def retract(pilot: Pilot, actor: Any, reason: str) -> PublishedVersion:
    """A publisher takes the record out of the inventory, with a public reason."""
    check_may_publish(actor)
    version = lifecycle.retract(pilot, actor, reason)
    db.session.commit()
    return version


def publish_on_submission(pilot: Pilot, actor: Any) -> PublishedVersion | None:
    """The first submission publishes the record as it stands, when the policy says so (in the
    caller's transaction)."""
    if not settings()["publish_on_submission"] or lifecycle.current_version(pilot) is not None:
        return None
    return lifecycle.publish(
        pilot,
        actor,
        row=public_row(pilot),
        waivers=public_waivers(pilot),
        reason="Published when first submitted for review.",
        automatic=True,
    )


def publish_on_approval(pilot: Pilot, actor: Any, revision: int) -> PublishedVersion | None:
    """An approval updates a published record with what was approved (in the caller's
    transaction); a record that is not published waits for its publisher."""
    if pilot.publication_state != PublicationState.PUBLISHED:
        return None
    return lifecycle.publish(
        pilot,
        actor,
        row=public_row(pilot),
        waivers=public_waivers(pilot),
        reason=f"Updated when revision {revision} was approved.",
        automatic=True,
    )


def versions_for(pilot: Pilot) -> list[PublishedVersion]:
    """Every published version of the record, newest first."""
    return list(
        db.session.scalars(
            select(PublishedVersion)
            .where(PublishedVersion.pilot_id == pilot.id)
            .order_by(PublishedVersion.number.desc())
        )
    )


def unpublished_changes(pilot: Pilot) -> list[str]:
    """Inventory columns whose value now differs from the published version's."""
    current = lifecycle.current_version(pilot)
    if current is None:
        return []
    withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    now = public_record.withhold(public_row(pilot), withheld)
    return [column for column in public_record.COLUMNS if now[column] != current.row.get(column)]


# ---- plain-language checks ----------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE.split(text.strip()) if part.strip()]


def _defined_acronyms(texts: list[str]) -> set[str]:
    """Acronyms spelled out somewhere: "Supplemental Nutrition ... (SNAP)" or "SNAP (...)"."""
    defined = set()
    joined = " ".join(texts)
    for match in re.finditer(r"\(([A-Z][A-Z0-9]{1,9})s?\)", joined):
        defined.add(match.group(1))
    for match in re.finditer(r"\b([A-Z][A-Z0-9]{1,9})s?\s+\((?:[A-Za-z][^)]*\s[^)]*)\)", joined):
        defined.add(match.group(1))
    return defined


def text_warnings(row: Mapping[str, str], policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Warnings on the row's public text: reading grade, long sentences, undefined acronyms."""
    import textstat

    texts = {
        column: row.get(column) or ""
        for column in TEXT_COLUMNS
        if (row.get(column) or "").strip() and row.get(column) != public_record.WITHHELD
    }
    warnings: list[dict[str, Any]] = []
    max_grade = policy["max_reading_grade"]
    max_words = policy["max_sentence_words"]
    defined = _defined_acronyms(list(texts.values())) | KNOWN_ACRONYMS
    for column, text in texts.items():
        label = lifecycle.public_record_label(column)
        words = len(text.split())
        if words >= 12:
            grade = float(textstat.flesch_kincaid_grade(text))
            if grade > max_grade:
                warnings.append(
                    {
                        "field": column,
                        "check": "reading_grade",
                        "value": round(grade, 1),
                        "message": f"“{label}” reads at grade {grade:.0f}; aim for grade "
                        f"{max_grade} or below: shorter sentences and everyday words.",
                    }
                )
        long = [s for s in _sentences(text) if len(s.split()) > max_words]
        if long:
            warnings.append(
                {
                    "field": column,
                    "check": "sentence_length",
                    "value": max(len(s.split()) for s in long),
                    "message": f"“{label}” has {len(long)} sentence(s) longer than {max_words} "
                    f"words; the longest starts “{long[0][:60]}”.",
                }
            )
        undefined = sorted(
            {m.group(0).rstrip("s") for m in _ACRONYM.finditer(text)} - defined,
        )
        undefined = [a for a in undefined if a not in defined and len(a) > 1]
        if undefined:
            warnings.append(
                {
                    "field": column,
                    "check": "undefined_acronym",
                    "value": undefined,
                    "message": f"“{label}” uses {', '.join(undefined)} without spelling "
                    "it out: write the full name once, with the acronym in brackets.",
                }
            )
    return warnings


def links_in(row: Mapping[str, str]) -> list[str]:
    """Every link in the row's public text and link columns, once each, in order."""
    found: list[str] = []
    for column in (*TEXT_COLUMNS, *LINK_COLUMNS):
        value = row.get(column) or ""
        if column in LINK_COLUMNS and value.startswith(("http://", "https://")):
            found.append(value.strip())
        found.extend(match.group(0).rstrip(".,;:") for match in _URL.finditer(value))
    return list(dict.fromkeys(found))


def checks(pilot: Pilot) -> dict[str, Any]:
    """The plain-language warnings on the record as it would be published, and the link
    results the background job stored (links not yet checked are "pending")."""
    withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    row = public_record.withhold(public_row(pilot), withheld)
    policy = settings()
    warnings = text_warnings(row, policy)
    stored = {
        check.url: check
        for check in db.session.scalars(
            select(PublicLinkCheck).where(PublicLinkCheck.pilot_id == pilot.id)
        )
    }
    links = []
    for url in links_in(row):
        check = stored.get(url)
        state = "pending" if check is None or check.ok is None else ("ok" if check.ok else "broken")
        links.append(
            {
                "url": url,
                "state": state,
                "status_code": check.status_code if check else None,
                "error": check.error if check else None,
                "checked_at": check.checked_at if check else None,
            }
        )
        if state == "broken":
            warnings.append(
                {
                    "field": "links",
                    "check": "broken_link",
                    "value": url,
                    "message": f"The link {url} does not answer"
                    + (
                        f" (HTTP {check.status_code})."
                        if check.status_code
                        else f": {check.error}."
                    ),
                }
            )
    return {
        "warnings": warnings,
        "links": links,
        "required_missing": list(lifecycle.publication_problems(row)),
    }


# ---- the link check (a background job) ----------------------------------------------------------


def queue_link_check(pilot: Pilot) -> None:
    """Queue `check_links` for the pilot's public links (after the caller's commit)."""
    withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    if links_in(public_record.withhold(public_row(pilot), withheld)):
        jobs.enqueue(check_links, pilot.id)


def _refuse_private(url: str) -> str | None:
    """Why the job will not fetch this URL (a private or loopback address), or None."""
    if current_app.config.get("LINK_CHECK_ALLOW_PRIVATE"):
        return None
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as error:
        return f"the name does not resolve ({error.strerror or error})"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return "it points at a private network address, which the registry does not fetch"
    return None


def _fetch_status(url: str, timeout: float) -> tuple[int | None, str | None]:
    refused = _refuse_private(url)
    if refused:
        return None, refused
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(
            url, method=method, headers={"User-Agent": "ai-oversight-registry link check"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return int(response.status), None
        except urllib.error.HTTPError as error:
            if method == "HEAD" and error.code in (403, 405, 501):
                continue  # some servers refuse HEAD only
            return int(error.code), None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return None, str(reason)[:300]
    return None, "no answer"


def check_links(pilot_id: int) -> None:
    """The job: fetch each public link of the pilot and store whether it answered."""
    pilot = db.session.get(Pilot, pilot_id)
    if pilot is None:
        return
    withheld = public_record.withheld_columns(pilot.withheld_fields, pilot.withheld_reasons)
    urls = links_in(public_record.withhold(public_row(pilot), withheld))
    timeout = float(current_app.config.get("LINK_CHECK_TIMEOUT_SECONDS", 5))
    results = []
    for url in urls:
        status, error = _fetch_status(url, timeout)
        results.append(
            PublicLinkCheck(
                pilot_id=pilot.id,
                url=url,
                ok=status is not None and status < 400,
                status_code=status,
                error=error,
                checked_at=dt.datetime.now(dt.UTC),
            )
        )
        log.info("link check for pilot %s: %s -> %s %s", pilot_id, url, status, error or "")
    db.session.execute(delete(PublicLinkCheck).where(PublicLinkCheck.pilot_id == pilot.id))
    db.session.add_all(results)
    db.session.commit()
