"""A member is told when a director decides their request: notices of kind 'decided'.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:00:00

"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('ending', 'ended')"
NEW_KINDS = "kind IN ('ending', 'ended', 'decided')"


def upgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notices_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM notices WHERE kind = 'decided'")
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notices_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', OLD_KINDS)
