"""Postmortems and their action items.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:15:26.000186
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('postmortems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('playbook_name', sa.String(length=100), nullable=True),
    sa.Column('playbook_version', sa.Integer(), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_postmortems_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_postmortems_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['incidents.id'], name=op.f('fk_postmortems_duplicate_of_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_postmortems_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_postmortems_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortems')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_postmortems_incident_id'))
    )
    with op.batch_alter_table('postmortems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postmortems_community_id'), ['community_id'], unique=False)

    op.create_table('postmortem_action_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('overdue_notified_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_postmortem_action_items_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_postmortem_action_items_postmortem_id_postmortems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem_action_items'))
    )
    with op.batch_alter_table('postmortem_action_items', schema=None) as batch_op:
        batch_op.create_index('ix_postmortem_action_items_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_postmortem_action_items_postmortem_id'), ['postmortem_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('postmortem_action_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postmortem_action_items_postmortem_id'))
        batch_op.drop_index('ix_postmortem_action_items_due')

    op.drop_table('postmortem_action_items')
    with op.batch_alter_table('postmortems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postmortems_community_id'))

    op.drop_table('postmortems')
