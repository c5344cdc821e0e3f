"""public trust: concerns, incidents, risk register, published versions, field withholding

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-01 10:00:00

Carries existing data over: every use case that was public (submitted, decided or imported:
``public_since`` is set) gets its first published version, dated ``public_since``, holding
the 36 inventory columns exactly as the inventory showed them, and its record is
"published"; a use case withheld as a whole keeps only its agency, id and reason. Other
pilots' records are drafts. Nothing is withheld field by field yet.
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "pilots",
        sa.Column(
            "publication_state", sa.String(length=12), nullable=False, server_default="draft"
        ),
    )
    op.add_column(
        "pilots", sa.Column("withheld_fields", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column(
        "pilots", sa.Column("withheld_reasons", sa.JSON(), nullable=False, server_default="{}")
    )
    op.create_index("ix_pilots_publication_state", "pilots", ["publication_state"])

    op.create_table(
        "published_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pilot_id", sa.Integer(), sa.ForeignKey("pilots.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("use_case_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "published_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("withheld", sa.JSON(), nullable=False),
        sa.Column("waivers", sa.JSON(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("wholly_withheld", sa.Boolean(), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("topic_area", sa.String(length=100), nullable=True),
        sa.Column("development_stage", sa.String(length=100), nullable=True),
        sa.Column("is_high_impact", sa.String(length=60), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.UniqueConstraint("use_case_id", "number", name="uq_published_versions_use_case_number"),
    )
    op.create_index("ix_published_versions_pilot_id", "published_versions", ["pilot_id"])
    op.create_index("ix_published_versions_use_case_id", "published_versions", ["use_case_id"])
    op.create_index("ix_published_versions_published_at", "published_versions", ["published_at"])
    op.create_index(
        "ix_published_versions_current_listed",
        "published_versions",
        ["is_current", "listed", "pilot_id"],
    )

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pilot_id", sa.Integer(), sa.ForeignKey("pilots.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("harm_categories", sa.JSON(), nullable=False),
        sa.Column("affected_groups", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bias_check_ids", sa.JSON(), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("revision_numbers", sa.JSON(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("acceptance_justification", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "closed_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "reported_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_incidents_pilot_id", "incidents", ["pilot_id"])
    op.create_index("ix_incidents_severity", "incidents", ["severity"])
    op.create_index("ix_incidents_status", "incidents", ["status"])

    op.create_table(
        "incident_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_incident_actions_incident_id", "incident_actions", ["incident_id"])

    op.create_table(
        "concerns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(length=20), nullable=False, unique=True),
        sa.Column(
            "pilot_id", sa.Integer(), sa.ForeignKey("pilots.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("use_case_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_due", sa.Date(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("public_response", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "responded_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "merged_into_id",
            sa.Integer(),
            sa.ForeignKey("concerns.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_concerns_pilot_id", "concerns", ["pilot_id"])
    op.create_index("ix_concerns_status", "concerns", ["status"])
    op.create_index("ix_concerns_received_at", "concerns", ["received_at"])
    op.create_index("ix_concerns_first_response_due", "concerns", ["first_response_due"])

    op.create_table(
        "risks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pilot_id", sa.Integer(), sa.ForeignKey("pilots.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("likelihood", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("mitigation", sa.Text(), nullable=True),
        sa.Column("mitigation_evidence_ids", sa.JSON(), nullable=False),
        sa.Column("mitigation_condition_ids", sa.JSON(), nullable=False),
        sa.Column("residual_likelihood", sa.Integer(), nullable=True),
        sa.Column("residual_severity", sa.Integer(), nullable=True),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_risks_pilot_id", "risks", ["pilot_id"])

    op.create_table(
        "public_link_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pilot_id", sa.Integer(), sa.ForeignKey("pilots.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_public_link_checks_pilot_id", "public_link_checks", ["pilot_id"])

    _first_published_versions()


_STAGE_LABELS = {
    "pre_deployment": "Pre-deployment",
    "pilot": "Pilot",
    "deployed": "Deployed",
    "retired": "Retired",
}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _first_published_versions():
    """The record every public use case already had, as its first published version."""
    from registry.catalog import public_record

    bind = op.get_bind()
    text_attrs = sorted(set(public_record.TEXT_COLUMNS.values()))
    columns = [
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
        "approved_revision",
        "public_since",
        "is_withheld",
        "owner_id",
        *text_attrs,
    ]
    columns = list(dict.fromkeys(columns))
    pilots = (
        bind.execute(
            sa.text(
                "SELECT " + ", ".join(f"p.{c}" for c in columns) + ", u.email AS owner_email "
                "FROM pilots p JOIN users u ON u.id = p.owner_id "
                "WHERE p.public_since IS NOT NULL ORDER BY p.id"
            )
        )
        .mappings()
        .all()
    )
    if not pilots:
        return
    assessed = {
        row[0]
        for table in ("impact_assessments", "evidence")
        for row in bind.execute(sa.text(f"SELECT DISTINCT pilot_id FROM {table}"))
    }
    approved = {
        (row[0], row[1]): _json(row[2])
        for row in bind.execute(sa.text("SELECT pilot_id, number, fields FROM pilot_revisions"))
    }
    json_columns = ("row", "withheld", "waivers")
    names = (
        "pilot_id",
        "use_case_id",
        "number",
        "action",
        "reason",
        "published_at",
        "published_by_id",
        "row",
        "withheld",
        "waivers",
        "is_current",
        "listed",
        "wholly_withheld",
        "agency",
        "name",
        "topic_area",
        "development_stage",
        "is_high_impact",
        "search_text",
    )
    versions = sa.table(
        "published_versions",
        *(
            sa.column(
                name,
                sa.JSON()
                if name in json_columns
                else sa.DateTime(timezone=True)
                if name == "published_at"
                else sa.Boolean()
                if name in ("is_current", "listed", "wholly_withheld")
                else None,
            )
            for name in names
        ),
    )
    rows = []
    for pilot in pilots:
        values = {key: pilot[key] for key in columns}
        for key in ("demographic_features", "inventory_extra", "compliance", "unreviewed_changes"):
            values[key] = _json(values[key])
        values["approved_fields"] = approved.get((pilot["id"], pilot["approved_revision"]))
        row = public_record.row_for(values, pilot["owner_email"], assessed=pilot["id"] in assessed)
        wholly = public_record.is_wholly_withheld(pilot["is_withheld"])
        if wholly:
            row = public_record.withhold(
                row, [c for c in row if c not in ("agency", "agency_name", "id", "is_withheld")]
            )
        imported = (
            isinstance(values["inventory_extra"], dict) and "raw" in values["inventory_extra"]
        )
        at = pilot["public_since"]
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at)
        rows.append(
            {
                "pilot_id": pilot["id"],
                "use_case_id": pilot["use_case_id"] or row["id"] or f"pilot-{pilot['id']}",
                "number": 1,
                "action": "imported" if imported else "published",
                "reason": "In the public inventory before the publishing workflow.",
                "published_at": at,
                "published_by_id": None,
                "row": row,
                "withheld": {},
                "waivers": [],
                "is_current": True,
                "listed": not wholly,
                "wholly_withheld": wholly,
                "agency": row["agency"][:100],
                "name": row["use_case_name"][:300],
                "topic_area": row["topic_area"][:100] or None,
                "development_stage": None if wholly else _STAGE_LABELS.get(pilot["stage"]),
                "is_high_impact": None if wholly else pilot["is_high_impact"],
                "search_text": public_record.search_text(row),
            }
        )
    for start in range(0, len(rows), 500):
        op.bulk_insert(versions, rows[start : start + 500])
    bind.execute(
        sa.text("UPDATE pilots SET publication_state = 'published' WHERE public_since IS NOT NULL")
    )


def downgrade():
    op.drop_table("public_link_checks")
    op.drop_table("risks")
    op.drop_table("concerns")
    op.drop_table("incident_actions")
    op.drop_table("incidents")
    op.drop_table("published_versions")
    op.drop_index("ix_pilots_publication_state", table_name="pilots")
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.drop_column("withheld_reasons")
        batch_op.drop_column("withheld_fields")
        batch_op.drop_column("publication_state")
