"""organisations, scoped role assignments, identity-provider links, SCIM tokens

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 19:15:00

Moves an existing single-agency installation into one root organisation: the root takes the
agency code most pilots carry (and its name, where one was recorded), or "ROOT" on an empty
installation. Every pilot and every user belongs to the root afterwards, and every user's
role becomes one role assignment scoped to it, so everything behaves as before.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _root_values(conn) -> tuple[str, str]:
    row = conn.execute(
        sa.text(
            "SELECT agency, MAX(agency_name) AS agency_name, COUNT(*) AS n FROM pilots "
            "GROUP BY agency ORDER BY n DESC, agency LIMIT 1"
        )
    ).first()
    if row is None or not (row.agency or "").strip():
        return "ROOT", "Agency"
    code = row.agency.strip()[:40]
    return code, (row.agency_name or code).strip()[:200]


def upgrade():
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["organizations.id"],
            name="fk_organizations_parent_id_organizations",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
        sa.UniqueConstraint("code", name="uq_organizations_code"),
    )
    op.create_index("ix_organizations_parent_id", "organizations", ["parent_id"])
    conn = op.get_bind()
    code, name = _root_values(conn)
    conn.execute(
        sa.text("INSERT INTO organizations (name, code, parent_id) VALUES (:name, :code, NULL)"),
        {"name": name, "code": code},
    )
    root_id = conn.execute(
        sa.text("SELECT id FROM organizations WHERE code = :code"), {"code": code}
    ).scalar_one()

    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_role_assignments_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_role_assignments_organization_id_organizations",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_role_assignments"),
        sa.UniqueConstraint(
            "user_id", "role", "organization_id", name="uq_role_assignments_user_id"
        ),
    )
    op.create_index("ix_role_assignments_user_id", "role_assignments", ["user_id"])
    op.create_index(
        "ix_role_assignments_organization_id", "role_assignments", ["organization_id"]
    )

    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scim_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_scim_tokens_token_hash"),
    )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("oidc_subject", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_users_organization_id_organizations",
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index("ix_users_organization_id", ["organization_id"])
        batch_op.create_unique_constraint("uq_users_oidc_subject", ["oidc_subject"])
        batch_op.create_unique_constraint("uq_users_external_id", ["external_id"])
    conn.execute(sa.text("UPDATE users SET organization_id = :root"), {"root": root_id})
    conn.execute(
        sa.text(
            "INSERT INTO role_assignments (user_id, role, organization_id) "
            "SELECT id, role, :root FROM users"
        ),
        {"root": root_id},
    )

    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
    conn.execute(sa.text("UPDATE pilots SET organization_id = :root"), {"root": root_id})
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.alter_column("organization_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_pilots_organization_id_organizations",
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index("ix_pilots_organization_id", ["organization_id"])


def downgrade():
    with op.batch_alter_table("pilots", schema=None) as batch_op:
        batch_op.drop_index("ix_pilots_organization_id")
        batch_op.drop_constraint("fk_pilots_organization_id_organizations", type_="foreignkey")
        batch_op.drop_column("organization_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_external_id", type_="unique")
        batch_op.drop_constraint("uq_users_oidc_subject", type_="unique")
        batch_op.drop_index("ix_users_organization_id")
        batch_op.drop_constraint("fk_users_organization_id_organizations", type_="foreignkey")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("external_id")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("organization_id")
    op.drop_table("scim_tokens")
    op.drop_index("ix_role_assignments_organization_id", table_name="role_assignments")
    op.drop_index("ix_role_assignments_user_id", table_name="role_assignments")
    op.drop_table("role_assignments")
    op.drop_index("ix_organizations_parent_id", table_name="organizations")
    op.drop_table("organizations")
