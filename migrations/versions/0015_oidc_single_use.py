"""OpenID Connect codes are kept, used, until they expire (a code that comes back revokes what it
gave), with the family of the tokens they gave; token families end a fixed time after the
sign-in; a code's sign-in time may be unknown; each client says which groups it may see and where
members may go after signing out; a new signing key is published before it signs.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 10:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('family', sa.String(length=32), nullable=True))
        batch_op.alter_column('auth_time', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family_expires_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('oidc_signing_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signs_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('oidc_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visible_groups', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(
            sa.Column('post_logout_redirect_uris', sa.Text(), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('oidc_signing_keys', schema=None) as batch_op:
        batch_op.drop_column('signs_at')
    with op.batch_alter_table('oidc_clients', schema=None) as batch_op:
        batch_op.drop_column('post_logout_redirect_uris')
        batch_op.drop_column('visible_groups')
    with op.batch_alter_table('oidc_tokens', schema=None) as batch_op:
        batch_op.drop_column('family_expires_at')
    op.execute("UPDATE oidc_codes SET auth_time = 0 WHERE auth_time IS NULL")
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.alter_column('auth_time', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('family')
        batch_op.drop_column('used_at')
