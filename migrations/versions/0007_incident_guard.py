"""Incident guard: a key's definitive verdict and a grant's removal can be held (why, since when)
while the guard doubts them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('keys', 'grants'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('held_reason', sa.String(length=255), nullable=True))
            batch_op.add_column(sa.Column('held_at', sa.DateTime(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_held_at'), ['held_at'], unique=False)


def downgrade():
    for table in ('grants', 'keys'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_held_at'))
            batch_op.drop_column('held_at')
            batch_op.drop_column('held_reason')
