"""Why a grant's pending sync waits is a column (sync_wait: 'service' or 'member'), no longer the
first words of its message; existing messages are read once to fill it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_wait', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f('ck_grants_sync_wait_known'), "sync_wait IN ('service', 'member')")
    op.execute(
        "UPDATE grants SET sync_wait = 'service' WHERE sync_status = 'pending' AND sync_error LIKE 'Held back%'"
    )
    op.execute(
        "UPDATE grants SET sync_wait = 'member' WHERE sync_status = 'pending' AND sync_error LIKE 'Waiting%'"
    )


def downgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_grants_sync_wait_known'), type_='check')
        batch_op.drop_column('sync_wait')
