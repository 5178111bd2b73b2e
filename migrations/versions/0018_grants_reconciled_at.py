"""Users remember when their grants were last reconciled, so that a reconciliation a changed state
still owes (its task lost with Redis) is found in the database and done.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 13:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grants_reconciled_at', sa.DateTime(), nullable=True))
    users = sa.table('users', sa.column('grants_reconciled_at', sa.DateTime),
                     sa.column('state_changed_at', sa.DateTime))
    op.get_bind().execute(users.update().values(grants_reconciled_at=users.c.state_changed_at))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('grants_reconciled_at')
