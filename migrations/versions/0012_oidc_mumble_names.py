"""Name templates, OpenID Connect clients, codes, tokens and signing keys, and Mumble accounts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('webhook', 'forward_auth', 'discord')"
NEW_KINDS = "kind IN ('webhook', 'forward_auth', 'discord', 'oidc', 'mumble')"


def upgrade():
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_template', sa.String(length=128), nullable=True))
        batch_op.drop_constraint(op.f('ck_services_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', NEW_KINDS)
    op.create_table(
        'oidc_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('redirect_uris', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('secret_set_at', sa.DateTime(), nullable=False),
        sa.Column('require_pkce', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_oidc_clients_service_id_services'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_clients')),
        sa.UniqueConstraint('client_id', name=op.f('uq_oidc_clients_client_id')),
        sa.UniqueConstraint('service_id', name=op.f('uq_oidc_clients_service_id')),
    )
    op.create_table(
        'oidc_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('redirect_uri', sa.Text(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('nonce', sa.String(length=255), nullable=True),
        sa.Column('code_challenge', sa.String(length=128), nullable=True),
        sa.Column('code_challenge_method', sa.String(length=16), nullable=True),
        sa.Column('auth_time', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oidc_codes_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_codes')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_oidc_codes_code_hash')),
    )
    op.create_table(
        'oidc_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('access_hash', sa.String(length=64), nullable=False),
        sa.Column('refresh_hash', sa.String(length=64), nullable=True),
        sa.Column('issued_at', sa.Integer(), nullable=False),
        sa.Column('expires_in', sa.Integer(), nullable=False),
        sa.Column('refresh_expires_at', sa.DateTime(), nullable=True),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oidc_tokens_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_tokens')),
        sa.UniqueConstraint('access_hash', name=op.f('uq_oidc_tokens_access_hash')),
        sa.UniqueConstraint('refresh_hash', name=op.f('uq_oidc_tokens_refresh_hash')),
    )
    op.create_index(op.f('ix_oidc_tokens_client_id'), 'oidc_tokens', ['client_id'], unique=False)
    op.create_index(op.f('ix_oidc_tokens_user_id'), 'oidc_tokens', ['user_id'], unique=False)
    op.create_table(
        'oidc_signing_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('private_encrypted', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('retired_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_signing_keys')),
        sa.UniqueConstraint('kid', name=op.f('uq_oidc_signing_keys_kid')),
    )
    op.create_table(
        'mumble_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=128), nullable=False),
        sa.Column('display_name', sa.String(length=128), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('password_set_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_mumble_accounts_service_id_services'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mumble_accounts_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mumble_accounts')),
        sa.UniqueConstraint('service_id', 'user_id', name='uq_mumble_accounts_service_user'),
        sa.UniqueConstraint('service_id', 'username', name='uq_mumble_accounts_service_username'),
    )


def downgrade():
    op.drop_table('mumble_accounts')
    op.drop_table('oidc_signing_keys')
    op.drop_index(op.f('ix_oidc_tokens_user_id'), table_name='oidc_tokens')
    op.drop_index(op.f('ix_oidc_tokens_client_id'), table_name='oidc_tokens')
    op.drop_table('oidc_tokens')
    op.drop_table('oidc_codes')
    op.drop_table('oidc_clients')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_services_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', OLD_KINDS)
        batch_op.drop_column('name_template')
