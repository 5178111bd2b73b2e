"""Sessions that can be revoked: each user's sessions and remember-me cookies carry a token that
rotates when they log out, change their password or role, or an admin signs them out everywhere.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:00:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update().where(users.c.id == user_id).values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f('ix_users_session_token'), ['session_token'], unique=True)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_session_token'))
        batch_op.drop_column('session_token')
