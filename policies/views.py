"""Policy administration pages: list versions, upload a draft, read its diff, publish."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from policies import store
from registry.auth.permissions import authorize
from registry.errors import ValidationFailed
from registry.request_limits import upload_route
from registry.web import Confirmation, render_confirmation

bp = Blueprint("policies", __name__, template_folder="templates")


@bp.get("/admin/policies")
@login_required
def policy_list():
    """List policy versions."""
    authorize(current_user, "policy.read")
    active = store.active_version()
    return render_template("policies/list.html", versions=store.list_versions(), active=active)


def _posted_body() -> str:
    upload = request.files.get("file")
    if upload and upload.filename:
        raw = upload.read(1_000_001)
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(
                "The file is not UTF-8 text.", {"body": ["The file is not UTF-8 text."]}
            ) from None
    return request.form.get("body", "")


@bp.route("/admin/policies/new", methods=["GET", "POST"])
@upload_route("MAX_POLICY_BYTES", action="policy.manage")
@login_required
def policy_new():
    """Upload a draft policy version."""
    authorize(current_user, "policy.manage")
    body = request.form.get("body") or (
        store.active_version().body if request.method == "GET" else ""
    )
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            body = _posted_body()
            draft = store.create_draft(body, current_user, notes=request.form.get("notes") or None)
        except ValidationFailed as error:
            errors = error.errors
        else:
            flash(f"Saved draft {draft.label}. Review the changes, then publish.", "success")
            return redirect(url_for("policies.policy_detail", version_id=draft.id))
    problems = store.located_errors(body, errors)
    return render_template(
        "policies/new.html",
        body=body,
        notes=request.form.get("notes", ""),
        problems=problems,
        error_lines=sorted({p["line"] for p in problems if p["line"]}),
    ), (422 if errors else 200)


def _diff_lines(text: str) -> list[dict[str, str]]:
    return [
        {
            "text": line,
            "css": "diff-add"
            if line.startswith("+") and not line.startswith("+++")
            else "diff-del"
            if line.startswith("-") and not line.startswith("---")
            else "",
        }
        for line in text.splitlines()
    ]


@bp.get("/admin/policies/<int:version_id>")
@login_required
def policy_detail(version_id: int):
    """Show a version in words (thresholds, checklist, questionnaire) and its changes against
    the previous version when there is one; a draft can be published from here."""
    authorize(current_user, "policy.read")
    version = store.get_version(version_id)
    diff = store.diff_against_previous(version)
    return render_template(
        "policies/detail.html",
        version=version,
        outline=store.summary(version),
        diff=diff,
        lines=_diff_lines(diff["diff"]) if diff else [],
    )


@bp.route("/admin/policies/<int:version_id>/publish", methods=["GET", "POST"])
@login_required
def policy_publish(version_id: int):
    """Publish a draft, after a confirmation page (GET); it becomes the active policy and can
    never change again."""
    if request.method == "GET":
        authorize(current_user, "policy.manage")
        draft = store.get_version(version_id)
        if draft.status != "draft":
            flash(f"{draft.label} is already published.", "info")
            return redirect(url_for("policies.policy_detail", version_id=draft.id))
        return render_confirmation(
            Confirmation(
                title=f"Publish {draft.label}?",
                lead="It becomes the active policy: every pilot's checklist is judged against it "
                "from now on.",
                details=(
                    "A published version can never be changed; to change it, upload a new draft.",
                ),
                action=url_for("policies.policy_publish", version_id=draft.id),
                button="Yes, publish this version",
                cancel=url_for("policies.policy_detail", version_id=draft.id),
                cancel_text="No, keep it as a draft",
            )
        )
    version = store.publish(store.get_version(version_id), current_user)
    flash(f"Published {version.label}; it is now the active policy.", "success")
    return redirect(url_for("policies.policy_detail", version_id=version.id))
