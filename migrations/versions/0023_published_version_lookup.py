"""published versions: one index finds a use case's current version

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 00:30:00

Looking a use case up by its ID (a permalink, a concern about it) asks for
``use_case_id = ? AND is_current AND listed``. With an index on ``use_case_id`` alone and one on
``(is_current, listed, pilot_id)``, SQLite's planner took the second, which matches nearly every
row, and scanned the whole inventory (6 ms per lookup with 3,611 use cases, four lookups per
concern sent). One index on ``(use_case_id, is_current, listed)`` replaces the single-column one;
it serves every lookup by ID as well. Existing data is untouched.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_published_versions_use_case_current",
        "published_versions",
        ["use_case_id", "is_current", "listed"],
    )
    op.drop_index("ix_published_versions_use_case_id", table_name="published_versions")


def downgrade():
    op.create_index("ix_published_versions_use_case_id", "published_versions", ["use_case_id"])
    op.drop_index("ix_published_versions_use_case_current", table_name="published_versions")
