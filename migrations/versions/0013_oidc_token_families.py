"""OpenID Connect refresh tokens keep their family, and when they were turned over, so a refresh
token that comes back after it was turned over revokes the whole family.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('rotated_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_oidc_tokens_family'), ['family'], unique=False)


def downgrade():
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_tokens_family'))
        batch_op.drop_column('rotated_at')
        batch_op.drop_column('family')
