"""The risk register (risks and their change log) and telling members: member channels,
status pages, incidents' public faces and updates, the member-update cadence timers, and
notifications that go to a member channel.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 15:40:53.532759
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('likelihood', sa.Integer(), nullable=False),
    sa.Column('impact', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('detectors', sa.JSON(), nullable=False),
    sa.Column('playbooks', sa.JSON(), nullable=False),
    sa.Column('review_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_risks_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_risks_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risks'))
    )
    with op.batch_alter_table('risks', schema=None) as batch_op:
        batch_op.create_index('ix_risks_community_status', ['community_id', 'status'], unique=False)

    op.create_table('status_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('about', sa.String(length=1000), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_status_pages_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_pages')),
    sa.UniqueConstraint('community_id', name=op.f('uq_status_pages_community_id'))
    )
    op.create_table('member_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_member_channels_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['platform_links.id'], name=op.f('fk_member_channels_link_id_platform_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_channels')),
    sa.UniqueConstraint('community_id', 'name', name=op.f('uq_member_channels_community_id_name'))
    )
    with op.batch_alter_table('member_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_channels_community_id'), ['community_id'], unique=False)

    op.create_table('member_update_timers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('every_s', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_member_update_timers_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_update_timers')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_member_update_timers_incident_id'))
    )
    with op.batch_alter_table('member_update_timers', schema=None) as batch_op:
        batch_op.create_index('ix_member_update_timers_due', ['status', 'due_at'], unique=False)

    op.create_table('public_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_update_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_public_incidents_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_public_incidents_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_incidents')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_public_incidents_incident_id'))
    )
    with op.batch_alter_table('public_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_incidents_community_id'), ['community_id'], unique=False)

    op.create_table('public_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('posted_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('posted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_public_updates_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_public_updates_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['posted_by_id'], ['users.id'], name=op.f('fk_public_updates_posted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_updates'))
    )
    with op.batch_alter_table('public_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_updates_community_id'), ['community_id'], unique=False)
        batch_op.create_index('ix_public_updates_incident', ['incident_id', 'posted_at'], unique=False)

    op.create_table('risk_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('risk_id', sa.Integer(), nullable=False),
    sa.Column('at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_risk_changes_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_risk_changes_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_risk_changes_postmortem_id_postmortems'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['risk_id'], ['risks.id'], name=op.f('fk_risk_changes_risk_id_risks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_changes'))
    )
    with op.batch_alter_table('risk_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_changes_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_changes_postmortem_id'), ['postmortem_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_changes_risk_id'), ['risk_id'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_channel_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_member_channel_id_member_channels'), 'member_channels', ['member_channel_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_member_channel_id_member_channels'), type_='foreignkey')
        batch_op.drop_column('member_channel_id')

    with op.batch_alter_table('risk_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_changes_risk_id'))
        batch_op.drop_index(batch_op.f('ix_risk_changes_postmortem_id'))
        batch_op.drop_index(batch_op.f('ix_risk_changes_incident_id'))

    op.drop_table('risk_changes')
    with op.batch_alter_table('public_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_public_updates_incident')
        batch_op.drop_index(batch_op.f('ix_public_updates_community_id'))

    op.drop_table('public_updates')
    with op.batch_alter_table('public_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_incidents_community_id'))

    op.drop_table('public_incidents')
    with op.batch_alter_table('member_update_timers', schema=None) as batch_op:
        batch_op.drop_index('ix_member_update_timers_due')

    op.drop_table('member_update_timers')
    with op.batch_alter_table('member_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_channels_community_id'))

    op.drop_table('member_channels')
    op.drop_table('status_pages')
    with op.batch_alter_table('risks', schema=None) as batch_op:
        batch_op.drop_index('ix_risks_community_status')

    op.drop_table('risks')
