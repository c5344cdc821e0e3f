"""The assessments API: questionnaire, impact assessments, compliance, evidence, tier overrides."""

from __future__ import annotations

from flask import request, send_file, url_for
from flask.views import MethodView

from assessments import bias_checks, schemas, service
from registry.api_base import RegistryBlueprint as Blueprint
from registry.auth.api_auth import api_user
from registry.auth.permissions import authorize
from registry.catalog import service as catalog
from registry.catalog.schemas import PilotSchema
from registry.request_limits import upload_route

blp = Blueprint(
    "assessments_api",
    __name__,
    url_prefix="/api/v1",
    description="Impact assessment, compliance and evidence",
)


@blp.route("/questionnaire")
class Questionnaire(MethodView):
    @blp.response(200, schemas.QuestionnaireSchema)
    def get(self):
        """The active impact questionnaire."""
        authorize(api_user(), "pilot.read")
        version, questionnaire = service.questionnaire()
        return {**questionnaire, "policy_version": version.label}


@blp.route("/pilots/<int:pilot_id>/impact-assessments")
class ImpactAssessments(MethodView):
    @blp.response(200, schemas.ImpactAssessmentSchema(many=True))
    def get(self, pilot_id):
        """A pilot's impact assessments, newest first (need-to-know: they hold the answers)."""
        pilot = catalog.get_pilot(pilot_id)
        authorize(api_user(), "pilot.read_restricted", pilot)
        return service.assessments_for(pilot)

    @blp.arguments(schemas.AnswersSchema)
    @blp.response(201, schemas.ImpactAssessmentSchema)
    @blp.alt_response(422, description="`errors` names each unknown, invalid or missing answer.")
    def post(self, data, pilot_id):
        """Answer the questionnaire; the pilot's risk tier follows unless a CAIO override stands."""
        return service.assess(catalog.get_pilot(pilot_id), data["answers"], api_user())


@blp.route("/impact-assessments/<int:assessment_id>")
class ImpactAssessmentById(MethodView):
    @blp.response(200, schemas.ImpactAssessmentSchema)
    def get(self, assessment_id):
        """One impact assessment (need-to-know: it holds the answers)."""
        assessment = service.get_assessment(assessment_id)
        authorize(api_user(), "pilot.read_restricted", catalog.get_pilot(assessment.pilot_id))
        return assessment


@blp.route("/pilots/<int:pilot_id>/risk-tier-override")
class RiskTierOverride(MethodView):
    @blp.arguments(schemas.TierOverrideSchema)
    @blp.response(200, PilotSchema)
    def post(self, data, pilot_id):
        """A CAIO overrides the risk tier with a written justification (null clears it)."""
        return service.override_tier(
            catalog.get_pilot(pilot_id), data["risk_tier"], data["justification"], api_user()
        )


@blp.route("/pilots/<int:pilot_id>/compliance")
class Compliance(MethodView):
    @blp.response(200, schemas.ComplianceSchema)
    def get(self, pilot_id):
        """The pilot's compliance checklist under the active policy."""
        authorize(api_user(), "pilot.read")
        pilot = catalog.get_pilot(pilot_id)
        version, checklist = service.compliance(pilot)
        return {
            "pilot_id": pilot.id,
            "policy_version": version.label,
            "policy_version_id": version.id,
            "tier": checklist.tier,
            "evaluated_on": checklist.evaluated_on,
            "summary": checklist.summary(),
            "items": checklist.items,
        }


@blp.route("/pilots/<int:pilot_id>/evidence")
class PilotEvidence(MethodView):
    @blp.response(200, schemas.EvidenceSchema(many=True))
    def get(self, pilot_id):
        """A pilot's evidence files."""
        authorize(api_user(), "pilot.read")
        return service.evidence_for(catalog.get_pilot(pilot_id))

    @upload_route("MAX_EVIDENCE_BYTES", action="pilot.upload", pilot_arg="pilot_id")
    @blp.arguments(schemas.EvidenceUploadSchema, location="form")
    @blp.arguments(schemas.EvidenceFileSchema, location="files")
    @blp.response(201, schemas.EvidenceSchema)
    @blp.alt_response(413, description="The file is larger than MAX_EVIDENCE_BYTES.")
    @blp.alt_response(422, description="The file is empty, disguised, or not an accepted type.")
    def post(self, form, files, pilot_id):
        """Attach an evidence file (PDF, DOCX, XLSX, PNG, JPEG or plain text) to a pilot."""
        return service.add_evidence(
            catalog.get_pilot(pilot_id),
            files.get("file") or request.files.get("file"),
            kind=form["kind"],
            item_id=form.get("item_id"),
            title=form.get("title"),
            actor=api_user(),
        )


@blp.route("/evidence/<int:evidence_id>/download")
class EvidenceDownload(MethodView):
    @blp.response(200, description="The file, byte for byte, as an attachment.")
    def get(self, evidence_id):
        """Download an evidence file exactly as uploaded (need-to-know)."""
        evidence = service.get_evidence(evidence_id)
        authorize(api_user(), "pilot.read_restricted", catalog.get_pilot(evidence.pilot_id))
        return evidence_response(evidence)


def evidence_response(evidence):
    """Send evidence as a download: never rendered inline, never sniffed by the browser."""
    response = send_file(
        service.evidence_file(evidence),
        mimetype=evidence.media_type,
        as_attachment=True,
        download_name=evidence.filename,
        etag=evidence.sha256,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blp.route("/pilots/<int:pilot_id>/bias-checks")
class PilotBiasChecks(MethodView):
    @blp.response(200, schemas.BiasCheckSchema(many=True))
    def get(self, pilot_id):
        """A pilot's bias checks, newest first (need-to-know: they hold the results)."""
        pilot = catalog.get_pilot(pilot_id)
        authorize(api_user(), "pilot.read_restricted", pilot)
        return bias_checks.for_pilot(pilot)

    @upload_route("MAX_UPLOAD_BYTES", action="pilot.upload", pilot_arg="pilot_id")
    @blp.arguments(schemas.BiasCheckFormSchema, location="form")
    @blp.arguments(schemas.BiasCheckFileSchema, location="files")
    @blp.response(201, schemas.BiasCheckSchema)
    @blp.alt_response(202, schema=schemas.BiasCheckSchema, description="Queued; poll the Location.")
    @blp.alt_response(413, description="The file is larger than MAX_UPLOAD_BYTES.")
    @blp.alt_response(422, description="`errors` names the column, line or row at fault.")
    def post(self, form, files, pilot_id):
        """Upload model outputs (CSV or Parquet) and check them for bias against the policy."""
        form["sensitive_features"] = request.form.getlist("sensitive_features")
        form["outcomes"] = request.form.getlist("outcomes")
        check = bias_checks.create(
            catalog.get_pilot(pilot_id),
            files.get("file") or request.files.get("file"),
            form,
            api_user(),
        )
        if check.status in ("queued", "running"):
            location = url_for("assessments_api.BiasCheckById", check_id=check.id)
            return check, 202, {"Location": location}
        return check


@blp.route("/bias-checks/limits")
class BiasCheckLimits(MethodView):
    @blp.response(200, schemas.BiasCheckLimitsSchema)
    def get(self):
        """The server's limits for a bias check, so that a client can refuse work early."""
        authorize(api_user(), "pilot.read")
        return bias_checks.limits()


@blp.route("/bias-checks/<int:check_id>")
class BiasCheckById(MethodView):
    @blp.response(200, schemas.BiasCheckSchema)
    def get(self, check_id):
        """One bias check: its state, its results and its verdict (need-to-know)."""
        check = bias_checks.get(check_id)
        authorize(api_user(), "pilot.read_restricted", catalog.get_pilot(check.pilot_id))
        return check


@blp.route("/bias-checks/<int:check_id>/rerun")
class BiasCheckRerun(MethodView):
    @blp.response(202, schemas.BiasCheckSchema)
    @blp.alt_response(409, description="The check is still queued or running.")
    def post(self, check_id):
        """Run a check that has ended again (a succeeded one as a new check of the same upload)."""
        return bias_checks.rerun(bias_checks.get(check_id), api_user())
