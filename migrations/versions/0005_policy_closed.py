"""Access policy closed: hostile tracking, who may ask for a service, what directors may grant,
whether every character must qualify, requested grants and who revoked a grant.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 02:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TRACKED = "tracked_as IS NULL OR tracked_as IN ('member', 'blue', 'hostile')"
TRACKED_BEFORE = "tracked_as IS NULL OR tracked_as IN ('member', 'blue')"


def upgrade():
    for table in ('alliances', 'corporations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_tracked_known'), type_='check')
            batch_op.create_check_constraint('tracked_known', TRACKED)
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_states', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('directors_may_grant', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('qualify', sa.String(length=8), server_default='main', nullable=False))
        batch_op.create_check_constraint('qualify_known', "qualify IN ('main', 'every')")
    # Who could ask before: members and blues, for services that needed a director's approval (a
    # service without approval let anyone ask and handed it out, which was the hole).
    op.execute("UPDATE services SET request_states = 'member,blue' WHERE requires_approval")
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_grants_source_known'), type_='check')
        batch_op.create_check_constraint('source_known', "source IN ('policy', 'manual', 'request')")
        batch_op.add_column(sa.Column('revoked_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_grants_revoked_by_id_users'), 'users', ['revoked_by_id'], ['id'], ondelete='SET NULL'
        )


def downgrade():
    op.execute("UPDATE grants SET source = 'manual' WHERE source = 'request'")
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_grants_revoked_by_id_users'), type_='foreignkey')
        batch_op.drop_column('revoked_by_id')
        batch_op.drop_constraint(op.f('ck_grants_source_known'), type_='check')
        batch_op.create_check_constraint('source_known', "source IN ('policy', 'manual')")
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_services_qualify_known'), type_='check')
        batch_op.drop_column('qualify')
        batch_op.drop_column('directors_may_grant')
        batch_op.drop_column('request_states')
    op.execute("UPDATE corporations SET tracked_as = NULL WHERE tracked_as = 'hostile'")
    op.execute("UPDATE alliances SET tracked_as = NULL WHERE tracked_as = 'hostile'")
    for table in ('alliances', 'corporations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_tracked_known'), type_='check')
            batch_op.create_check_constraint('tracked_known', TRACKED_BEFORE)
