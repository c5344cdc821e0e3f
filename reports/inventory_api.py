"""The public AI use-case inventory as CSV and JSON, in the OMB M-25-21 (2025) format.

Both answer without authentication (their paths are in `api_auth.PUBLIC_API_PATHS`).
"""

from __future__ import annotations

import json

from flask import Response

from registry.api_base import RegistryBlueprint as Blueprint
from reports import inventory

blp = Blueprint(
    "inventory_api",
    __name__,
    url_prefix="/api/v1",
    description="The public AI use-case inventory (OMB M-25-21), no authentication needed",
)

FILENAME = "ai_use_case_inventory.csv"


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
def inventory_csv():
    """The published use cases as CSV (UTF-8 with a BOM).

    Withheld use cases are left out. A cell starting with =, +, -, @, tab or carriage return
    is prefixed with a single quote so that spreadsheets never run it as a formula.
    """
    body = "\ufeff" + inventory.export_csv()
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
def inventory_json():
    """The published use cases as JSON: one object per use case, every value a string."""
    body = json.dumps(list(inventory.export_rows()), ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
