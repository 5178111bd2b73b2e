"""Compliance: tracking tokens, in-game member lists, coverage history, and services that require
every in-game character to be registered.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 09:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tracking_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('corporation_id', sa.BigInteger(), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.Column('added_at', sa.DateTime(), nullable=False),
        sa.Column('tracks_members', sa.Boolean(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.String(length=255), nullable=True),
        sa.Column('error_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_tracking_tokens_added_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['corporation_id'], ['corporations.id'], name=op.f('fk_tracking_tokens_corporation_id_corporations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['key_id'], ['keys.id'], name=op.f('fk_tracking_tokens_key_id_keys'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_tokens')),
        sa.UniqueConstraint('key_id', name=op.f('uq_tracking_tokens_key_id')),
    )
    op.create_index(op.f('ix_tracking_tokens_corporation_id'), 'tracking_tokens', ['corporation_id'], unique=False)
    op.create_table(
        'rosters',
        sa.Column('corporation_id', sa.BigInteger(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('etag', sa.String(length=128), nullable=True),
        sa.Column('member_count', sa.Integer(), nullable=False),
        sa.Column('logons_at', sa.DateTime(), nullable=True),
        sa.Column('logons_note', sa.String(length=255), nullable=True),
        sa.Column('error', sa.String(length=255), nullable=True),
        sa.Column('error_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['corporation_id'], ['corporations.id'], name=op.f('fk_rosters_corporation_id_corporations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('corporation_id', name=op.f('pk_rosters')),
    )
    op.create_table(
        'roster_members',
        sa.Column('corporation_id', sa.BigInteger(), nullable=False),
        sa.Column('character_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('logon_at', sa.DateTime(), nullable=True),
        sa.Column('logoff_at', sa.DateTime(), nullable=True),
        sa.Column('joined_at', sa.DateTime(), nullable=True),
        sa.Column('first_seen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['corporation_id'], ['corporations.id'], name=op.f('fk_roster_members_corporation_id_corporations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('corporation_id', 'character_id', name=op.f('pk_roster_members')),
    )
    op.create_index(op.f('ix_roster_members_character_id'), 'roster_members', ['character_id'], unique=False)
    op.create_index('ix_roster_members_corporation_id_name', 'roster_members', ['corporation_id', 'name'], unique=False)
    op.create_table(
        'coverage_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('corporation_id', sa.BigInteger(), nullable=False),
        sa.Column('taken_at', sa.DateTime(), nullable=False),
        sa.Column('in_game', sa.Integer(), nullable=False),
        sa.Column('registered', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['corporation_id'], ['corporations.id'], name=op.f('fk_coverage_samples_corporation_id_corporations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_samples')),
    )
    op.create_index(op.f('ix_coverage_samples_corporation_id'), 'coverage_samples', ['corporation_id'], unique=False)
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_registered', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('require_registered')
    op.drop_index(op.f('ix_coverage_samples_corporation_id'), table_name='coverage_samples')
    op.drop_table('coverage_samples')
    op.drop_index('ix_roster_members_corporation_id_name', table_name='roster_members')
    op.drop_index(op.f('ix_roster_members_character_id'), table_name='roster_members')
    op.drop_table('roster_members')
    op.drop_table('rosters')
    op.drop_index(op.f('ix_tracking_tokens_corporation_id'), table_name='tracking_tokens')
    op.drop_table('tracking_tokens')
