"""bias checks for every kind of model, and aggregated input

Adds the check's task, the outcome columns, binned score columns, the frequency column and
declared total of aggregated input, its provenance, and the guided choice of metrics; lets
y_true / y_pred be empty (outcome-rate checks, aggregated regression); widens the row counts
to BIGINT (an aggregated check can stand for billions of rows). Existing checks become binary
classification checks, as they were.

Revision ID: 0011
Revises: 0005
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bias_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task', sa.String(length=40), server_default='binary_classification', nullable=False))
        batch_op.add_column(sa.Column('y_score_low', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('y_score_high', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('outcomes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('frequency', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('total_rows', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('guidance', sa.JSON(), nullable=True))
        batch_op.alter_column('y_true', existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column('y_pred', existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column('n_rows', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)
        batch_op.alter_column('n_rows_dropped', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)


def downgrade():
    # Checks that have no y_true / y_pred (outcome rates, aggregated regression) cannot be
    # kept by the older schema.
    op.execute("DELETE FROM bias_checks WHERE y_true IS NULL OR y_pred IS NULL")
    with op.batch_alter_table('bias_checks', schema=None) as batch_op:
        batch_op.alter_column('n_rows_dropped', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
        batch_op.alter_column('n_rows', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
        batch_op.alter_column('y_pred', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('y_true', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column('guidance')
        batch_op.drop_column('provenance')
        batch_op.drop_column('total_rows')
        batch_op.drop_column('frequency')
        batch_op.drop_column('outcomes')
        batch_op.drop_column('y_score_high')
        batch_op.drop_column('y_score_low')
        batch_op.drop_column('task')
