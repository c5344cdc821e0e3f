"""The public AI use-case inventory as CSV and JSON, in the OMB M-25-21 (2025) format.

Both answer without authentication (their paths are in `api_auth.PUBLIC_API_PATHS`).
"""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Response
from marshmallow import fields

from registry.api_base import RegistryBlueprint as Blueprint
from registry.errors import ValidationFailed
from reports import inventory, public_inventory

blp = Blueprint(
    "inventory_api",
    __name__,
    url_prefix="/api/v1",
    description="The public AI use-case inventory (OMB M-25-21), no authentication needed",
)

FILENAME = "ai_use_case_inventory.csv"


class AgencyQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    agency = fields.String(
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "Only this agency: an organisation's code (its bureaus and offices "
            "included) or the agency abbreviation as published."
        },
    )


@blp.route("/inventory.csv")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "The 36 columns of the OMB 2025 data dictionary, in order.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
@blp.arguments(AgencyQuerySchema, location="query")
def inventory_csv(args):
    """The published use cases as CSV (UTF-8 with a BOM).

    Withheld use cases are left out. A cell starting with =, +, -, @, tab or carriage return
    is prefixed with a single quote so that spreadsheets never run it as a formula.
    """
    rows = inventory.export_rows(args) if args.get("agency") else None
    body = "\ufeff" + inventory.export_csv(rows)
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{FILENAME}"',
            "Cache-Control": "no-cache",
        },
    )


@blp.route("/inventory.json")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "A list of objects with exactly the 36 inventory keys, in order.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                column: {"type": "string"} for column in inventory.COLUMNS
                            },
                            "required": list(inventory.COLUMNS),
                            "additionalProperties": False,
                        },
                    }
                }
            },
        }
    },
)
@blp.arguments(AgencyQuerySchema, location="query")
def inventory_json(args):
    """The published use cases as JSON: one object per use case, every value a string."""
    body = json.dumps(list(inventory.export_rows(args)), ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})


@blp.route("/inventory/history.csv")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "Every published version of every use case ever published, oldest "
            "first per use case: use_case_key, version, published_at, action (published | "
            "imported | withheld | retired | retracted), the public reason, then the 36 "
            "inventory columns. A field withheld now reads “withheld” in every version.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def inventory_history_csv():
    """The full published history of the inventory (UTF-8 with a BOM)."""
    body = "\ufeff" + public_inventory.history_csv()
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="ai_use_case_inventory_history.csv"',
            "Cache-Control": "no-cache",
        },
    )


class DiffQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    from_ = fields.Date(
        data_key="from", required=True, metadata={"description": "The earlier date, YYYY-MM-DD."}
    )
    to = fields.Date(required=True, metadata={"description": "The later date, YYYY-MM-DD."})


def _dates(args) -> tuple:
    if args["from_"] > args["to"]:
        raise ValidationFailed(
            "The dates are the wrong way round.",
            {"from": ["Choose a date on or before the “to” date."]},
        )
    return args["from_"], args["to"]


@blp.route("/inventory/diff.csv")
@blp.arguments(DiffQuerySchema, location="query")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "Each use case added, changed, retired, retracted or withheld "
            "between the two dates, with the date and the public reason.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def inventory_diff_csv(args):
    """What changed in the inventory between two dates, as CSV."""
    day_from, day_to = _dates(args)
    body = "\ufeff" + public_inventory.diff_csv(day_from, day_to)
    name = f"ai_use_case_inventory_changes_{day_from}_{day_to}.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blp.route("/inventory/diff.json")
@blp.arguments(DiffQuerySchema, location="query")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "What changed between the two dates.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "from": {"type": "string", "format": "date"},
                            "to": {"type": "string", "format": "date"},
                            "changes": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                }
            },
        }
    },
)
def inventory_diff_json(args):
    """What changed in the inventory between two dates: {from, to, changes: [...]}."""
    day_from, day_to = _dates(args)
    body = {
        "from": day_from.isoformat(),
        "to": day_to.isoformat(),
        "changes": public_inventory.diff(day_from, day_to),
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


@blp.route("/inventory/waivers.json")
@blp.doc(
    security=[],
    responses={
        200: {
            "description": "The active waivers of published use cases, and the counts OMB "
            "asks for about wholly withheld ones.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def inventory_waivers_json():
    """Each active waiver of a published use case (item and justification), and how many
    wholly withheld use cases there are and how many of them have waivers."""
    return Response(
        json.dumps(public_inventory.waivers(), ensure_ascii=False), mimetype="application/json"
    )
