"""Mumble logins compare names case-folded in Python (username_folded), alike on SQLite and
PostgreSQL; a member's display name is their (unique) login.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 10:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mumble_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_folded', sa.String(length=128), nullable=False, server_default=''))
        batch_op.create_index('ix_mumble_accounts_service_folded', ['service_id', 'username_folded'], unique=False)
    conn = op.get_bind()
    accounts = sa.table('mumble_accounts', sa.column('id', sa.Integer), sa.column('username', sa.String),
                        sa.column('username_folded', sa.String), sa.column('display_name', sa.String))
    for row in conn.execute(sa.select(accounts.c.id, accounts.c.username)).all():
        conn.execute(
            accounts.update().where(accounts.c.id == row.id).values(
                username_folded=row.username.strip().casefold(), display_name=row.username
            )
        )


def downgrade():
    with op.batch_alter_table('mumble_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_mumble_accounts_service_folded')
        batch_op.drop_column('username_folded')
