"""Keys remember where they came from (sso, or allianceauth when imported); a Discord link imported
from Alliance Auth has no OAuth2 token of Bastion's (its member is in the server already).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='sso'))
        batch_op.create_index('ix_keys_source', ['source'], unique=False)
    with op.batch_alter_table('discord_links', schema=None) as batch_op:
        batch_op.alter_column('access_token_encrypted', existing_type=sa.Text(), nullable=True)


def downgrade():
    with op.batch_alter_table('discord_links', schema=None) as batch_op:
        batch_op.alter_column('access_token_encrypted', existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table('keys', schema=None) as batch_op:
        batch_op.drop_index('ix_keys_source')
        batch_op.drop_column('source')
