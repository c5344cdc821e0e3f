"""The reports API: PDF reports, the board packet, and JSON/CSV exports."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, jsonify
from flask.views import MethodView
from marshmallow import fields

from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize, oversight_scope
from registry.catalog import service as catalog
from reports import render
from reports.views import pdf_response

blp = Blueprint("reports_api", __name__, url_prefix="/api/v1", description="Reports and exports")


class SinceSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    since = fields.Date(metadata={"description": "Only decisions on or after this date (YYYY-MM-DD)"})


@blp.route("/pilots/<int:pilot_id>/report.pdf")
class PilotReport(MethodView):
    @blp.response(200, description="The accountability report (application/pdf).",
                  content_type="application/pdf")
    def get(self, pilot_id):
        """A pilot's accountability report as a tagged PDF."""
        authorize(api_user(), "pilot.read")
        pilot = catalog.get_pilot(pilot_id)
        return pdf_response(render.pilot_report_pdf(pilot), f"accountability-report-{pilot.id}.pdf")


@blp.route("/pilots/<int:pilot_id>/record.json")
class PilotRecord(MethodView):
    @blp.response(200, description="The pilot's full record.")
    def get(self, pilot_id):
        """Everything on record for a pilot, with the verification hash."""
        authorize(api_user(), "pilot.read")
        return jsonify(render.full_record(catalog.get_pilot(pilot_id)))


@blp.route("/pilots/<int:pilot_id>/model-card.json")
class PilotModelCard(MethodView):
    @blp.response(200, description="A model-card-style summary.")
    def get(self, pilot_id):
        """A model-card-style summary of the pilot."""
        authorize(api_user(), "pilot.read")
        return jsonify(render.model_card(catalog.get_pilot(pilot_id)))


@blp.route("/reports/board-packet.pdf")
class BoardPacket(MethodView):
    @blp.arguments(SinceSchema, location="query")
    @blp.response(200, description="The board packet (application/pdf).", content_type="application/pdf")
    def get(self, args):
        """The governance board packet as a tagged PDF."""
        user = api_user()
        authorize(user, "dashboard.read")
        return pdf_response(render.board_packet_pdf(args.get("since"), oversight_scope(user)),
                            "board-packet.pdf")


@blp.route("/reports/board-packet.csv")
class BoardPacketCsv(MethodView):
    @blp.arguments(SinceSchema, location="query")
    @blp.response(200, description="The packet's per-pilot table (text/csv).", content_type="text/csv")
    def get(self, args):
        """The board packet's per-pilot table as CSV."""
        user = api_user()
        authorize(user, "dashboard.read")
        return Response(render.board_packet_csv(args.get("since"), oversight_scope(user)), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="board-packet.csv"'})
