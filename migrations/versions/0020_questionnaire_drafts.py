"""questionnaire drafts: the impact questionnaire's answers saved step by step

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 19:55:00

A new table only; existing data is untouched.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "questionnaire_drafts",
        sa.Column(
            "pilot_id",
            sa.Integer(),
            sa.ForeignKey("pilots.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("questionnaire_drafts")
