"""Grants remember whether, and about whom, the outside system has been told.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provisioned', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('synced_identity', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('synced_identity')
        batch_op.drop_column('provisioned')
