"""the pilot lifecycle: revisions, stage gates, separation of duties, conditions, public ids

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:00:00

Carries existing data over:
- every approved pilot becomes revision 1 (its current fields), approved for its current stage
  (a pilot phase when it records pre-deployment); its latest approving decision names them;
- a submitted pilot gets revision 1 as its submission;
- a pilot recorded in use beyond what any approval covers is flagged in use without approval;
- pilots that were submitted, decided or imported become eligible for the public inventory;
- a pilot without a use-case id keeps the id the inventory has published for it
  (``{agency}-REG-{id:04d}``) when it was public, so ids stay stable from year to year; one
  that was withheld gets a random id (new pilots always get random ids);
- the current owner and team are recorded as involved since the last decision.
"""

import datetime as dt
import json
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MATERIAL_AND_OWN = (
    # (API key, column) of the pilot fields a revision freezes.
    ("name", "name"),
    ("purpose", "purpose"),
    ("benefits", "benefits"),
    ("system_outputs", "system_outputs"),
    ("stage", "stage"),
    ("retired_reason", "retired_reason"),
    ("topic_area", "topic_area"),
    ("classification", "classification"),
    ("agency", "agency"),
    ("agency_name", "agency_name"),
    ("agency_bureau", "agency_bureau"),
    ("use_case_id", "use_case_id"),
    ("contracting_usage", "contracting_usage"),
    ("vendor_name", "vendor_name"),
    ("has_pii", "has_pii"),
    ("demographic_features", "demographic_features"),
    ("data_description", "data_description"),
    ("link_to_data", "link_to_data"),
    ("pia_url", "pia_url"),
    ("have_ato", "have_ato"),
    ("system_name_ato", "system_name_ato"),
    ("has_custom_code", "has_custom_code"),
    ("code_url", "code_url"),
    ("operational_date", "operational_date"),
    ("is_high_impact", "is_high_impact"),
    ("HI_justification", "hi_justification"),
    ("hi_potential_impacts", "hi_potential_impacts"),
    ("is_withheld", "is_withheld"),
)


def upgrade():
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_stage", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "in_use_without_approval",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch_op.add_column(sa.Column("unreviewed_changes", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("decision_epoch", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("public_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("compliance", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_pilots_in_use_without_approval"), ["in_use_without_approval"]
        )
        batch_op.create_index(batch_op.f("ix_pilots_public_since"), ["public_since"])

    op.create_table(
        "pilot_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("requested_stage", sa.String(length=20), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["frozen_by_id"],
            ["users.id"],
            name=op.f("fk_pilot_revisions_frozen_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pilot_id"],
            ["pilots.id"],
            name=op.f("fk_pilot_revisions_pilot_id_pilots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_revisions")),
        sa.UniqueConstraint("pilot_id", "number", name="uq_pilot_revisions_pilot_id_number"),
    )
    op.create_table(
        "pilot_involvement",
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["pilot_id"],
            ["pilots.id"],
            name=op.f("fk_pilot_involvement_pilot_id_pilots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pilot_involvement_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pilot_id", "epoch", "user_id", name=op.f("pk_pilot_involvement")),
    )
    with op.batch_alter_table("pilot_involvement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pilot_involvement_user_id"), ["user_id"])

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.String(length=20), nullable=True))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("requested_stage", sa.String(length=20), nullable=True))
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_id", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reported_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("report_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("met_how", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("overdue_since", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_conditions_reported_by_id_users"),
            "users",
            ["reported_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_conditions_status"), ["status"])

    _carry_data_over()
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.alter_column("unreviewed_changes", existing_type=sa.JSON(), nullable=False)


def _json(value):
    if value is None or isinstance(value, list | dict):
        return value
    return json.loads(value)


def _carry_data_over():
    bind = op.get_bind()
    meta = sa.MetaData()
    pilots = sa.Table("pilots", meta, autoload_with=bind)
    users = sa.Table("users", meta, autoload_with=bind)
    team = sa.Table("pilot_team_members", meta, autoload_with=bind)
    links = sa.Table("pilot_data_sources", meta, autoload_with=bind)
    sources = sa.Table("data_sources", meta, autoload_with=bind)
    revisions = sa.Table("pilot_revisions", meta, autoload_with=bind)
    involvement = sa.Table("pilot_involvement", meta, autoload_with=bind)
    decisions = sa.Table("decisions", meta, autoload_with=bind)
    submissions = sa.Table("submissions", meta, autoload_with=bind)

    owner_emails = dict(bind.execute(sa.select(users.c.id, users.c.email)).all())
    members: dict[int, list[int]] = {}
    for pilot_id, user_id in bind.execute(sa.select(team.c.pilot_id, team.c.user_id)):
        members.setdefault(pilot_id, []).append(user_id)
    source_rows: dict[int, list[dict]] = {}
    flag_names = [c.name for c in sources.c if c.name.startswith("contains_")]
    stmt = sa.select(links.c.pilot_id, sources).join(
        sources, sources.c.id == links.c.data_source_id
    )
    for row in bind.execute(stmt).mappings():
        source_rows.setdefault(row["pilot_id"], []).append(
            {
                "id": row["id"],
                "name": row["name"],
                "sensitivity_flags": [f for f in flag_names if row[f]],
            }
        )
    decided = {row[0] for row in bind.execute(sa.select(decisions.c.pilot_id).distinct())}
    submitted = {row[0] for row in bind.execute(sa.select(submissions.c.pilot_id).distinct())}
    taken = {row[0] for row in bind.execute(sa.select(pilots.c.use_case_id)) if row[0]}
    now = dt.datetime.now(dt.UTC)

    for row in bind.execute(sa.select(pilots)).mappings().all():
        pilot_id = row["id"]
        status = row["review_status"]
        stage = row["stage"]
        values: dict = {"unreviewed_changes": []}
        approved = status in ("approved", "approved_with_conditions")
        if approved:
            values["approved_revision"] = 1
            values["approved_stage"] = stage if stage in ("pilot", "deployed") else "pilot"
        covered = approved and (
            stage not in ("pilot", "deployed")
            or values["approved_stage"] == "deployed"
            or stage == "pilot"
        )
        values["in_use_without_approval"] = stage in ("pilot", "deployed") and not covered
        extra = _json(row["inventory_extra"]) or {}
        withheld = (row["is_withheld"] or "").startswith(("Yes", "Other"))
        if pilot_id in decided or pilot_id in submitted or status != "draft" or extra.get("raw"):
            values["public_since"] = row["created_at"] or now
        if not row["use_case_id"]:
            legacy = f"{row['agency']}-REG-{pilot_id:04d}"
            if not withheld and legacy not in taken:
                new_id = legacy
            else:
                prefix = "".join(ch for ch in row["agency"].upper() if ch.isalnum())[:20] or "AI"
                new_id = prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))
                while new_id in taken:
                    new_id = prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))
            taken.add(new_id)
            values["use_case_id"] = new_id
        bind.execute(sa.update(pilots).where(pilots.c.id == pilot_id).values(**values))

        involved = [(row["owner_id"], "owner")] + [
            (user_id, "member")
            for user_id in members.get(pilot_id, [])
            if user_id != row["owner_id"]
        ]
        bind.execute(
            sa.insert(involvement),
            [
                {"pilot_id": pilot_id, "epoch": 0, "user_id": user_id, "role": role}
                for user_id, role in involved
            ],
        )

        if approved or status == "submitted":
            fields = {key: row[column] for key, column in _MATERIAL_AND_OWN}
            fields["use_case_id"] = values.get("use_case_id", row["use_case_id"])
            fields["demographic_features"] = _json(row["demographic_features"]) or []
            fields["owner_email"] = owner_emails.get(row["owner_id"])
            fields["team_member_emails"] = sorted(
                owner_emails[user_id] for user_id in members.get(pilot_id, [])
            )
            linked = sorted(source_rows.get(pilot_id, []), key=lambda s: s["id"])
            fields["data_source_ids"] = [s["id"] for s in linked]
            fields["data_sources"] = linked
            fields["risk_tier"] = row["risk_tier"]
            fields["risk_tier_source"] = row["risk_tier_source"]
            last_submission = bind.execute(
                sa.select(submissions.c.submitted_by_id, submissions.c.submitted_at)
                .where(submissions.c.pilot_id == pilot_id)
                .order_by(submissions.c.id.desc())
                .limit(1)
            ).first()
            bind.execute(
                sa.insert(revisions).values(
                    pilot_id=pilot_id,
                    number=1,
                    frozen_at=last_submission[1] if last_submission else now,
                    frozen_by_id=last_submission[0] if last_submission else None,
                    reason="migrated approval" if approved else "submission",
                    fields=fields,
                )
            )
            bind.execute(
                sa.update(submissions).where(submissions.c.pilot_id == pilot_id).values(revision=1)
            )
            if approved:
                latest = bind.execute(
                    sa.select(decisions.c.id)
                    .where(
                        decisions.c.pilot_id == pilot_id,
                        decisions.c.decision.in_(("approve", "approve_with_conditions")),
                    )
                    .order_by(decisions.c.decided_at.desc(), decisions.c.id.desc())
                    .limit(1)
                ).scalar()
                if latest is not None:
                    bind.execute(
                        sa.update(decisions)
                        .where(decisions.c.id == latest)
                        .values(revision=1, stage=values["approved_stage"])
                    )
                if decided:
                    bind.execute(
                        sa.update(pilots).where(pilots.c.id == pilot_id).values(decision_epoch=1)
                    )
                    bind.execute(
                        sa.insert(involvement),
                        [
                            {"pilot_id": pilot_id, "epoch": 1, "user_id": user_id, "role": role}
                            for user_id, role in involved
                        ],
                    )


def downgrade():
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conditions_status"))
        batch_op.drop_constraint(
            batch_op.f("fk_conditions_reported_by_id_users"), type_="foreignkey"
        )
        for name in (
            "overdue_since",
            "met_how",
            "report_note",
            "reported_by_id",
            "reported_at",
            "item_id",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("requested_stage")
        batch_op.drop_column("revision")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("stage")
        batch_op.drop_column("revision")
    with op.batch_alter_table("pilot_involvement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pilot_involvement_user_id"))
    op.drop_table("pilot_involvement")
    op.drop_table("pilot_revisions")
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pilots_public_since"))
        batch_op.drop_index(batch_op.f("ix_pilots_in_use_without_approval"))
        for name in (
            "compliance",
            "public_since",
            "decision_epoch",
            "unreviewed_changes",
            "in_use_without_approval",
            "approved_stage",
            "approved_revision",
        ):
            batch_op.drop_column(name)
