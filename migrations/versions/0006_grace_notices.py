"""Access ends with notice: a grant's grace period (ends at, why) and members' notices, with their
choice of Discord direct messages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ending_reason', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_grants_ends_at'), ['ends_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_by_dm', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('dismissed_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('dm_status', sa.String(length=255), nullable=True),
        sa.CheckConstraint("kind IN ('ending', 'ended')", name=op.f('ck_notices_kind_known')),
        sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_notices_grant_id_grants'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notices_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_grant_id'), ['grant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_grant_id'))
        batch_op.drop_index(batch_op.f('ix_notices_user_id'))
    op.drop_table('notices')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notify_by_dm')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_ends_at'))
        batch_op.drop_column('ending_reason')
        batch_op.drop_column('ends_at')
