"""The audit log names its targets: what the user, key, grant or service was called at the time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_name', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('target_name')
