"""A member may withdraw a request still waiting for a director.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 08:00:00

"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_access_requests_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('pending', 'approved', 'denied', 'withdrawn')")


def downgrade():
    op.execute("DELETE FROM access_requests WHERE status = 'withdrawn'")
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_access_requests_status_known'), type_='check')
        batch_op.create_check_constraint('status_known', "status IN ('pending', 'approved', 'denied')")
