"""no stuck bias checks: why a failed check failed

Adds `bias_checks.failure_reason`: "error" (the check's own error) or "interrupted" (its worker
stopped sending heartbeats). Checks failed before this revision get the reason their error
message gives: the old reaper's "stopped responding" is an interruption.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bias_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure_reason', sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE bias_checks SET failure_reason = CASE WHEN error LIKE '%stopped responding%' "
        "THEN 'interrupted' ELSE 'error' END WHERE status = 'failed'"
    )


def downgrade():
    with op.batch_alter_table('bias_checks', schema=None) as batch_op:
        batch_op.drop_column('failure_reason')
