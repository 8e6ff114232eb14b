"""Related episodes and campaigns: episodes that joined an open incident (incident_episodes),
raids of several communities linked into campaigns (campaigns, campaign_incidents), the
campaign windows the detectors read (detector_boosts), and an index for raids by time.

New tables and one index only: nothing existing is rewritten, and the downgrade drops them.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-07 15:40:17.981714
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_signal_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_last_signal_at'), ['last_signal_at'], unique=False)

    op.create_table('detector_boosts',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('windows', sa.JSON(), nullable=False),
    sa.Column('updated_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_detector_boosts_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_detector_boosts'))
    )
    op.create_table('campaign_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('matched_incident_id', sa.Integer(), nullable=True),
    sa.Column('matched', sa.JSON(), nullable=False),
    sa.Column('linked_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_incidents_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_campaign_incidents_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_campaign_incidents_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['matched_incident_id'], ['incidents.id'], name=op.f('fk_campaign_incidents_matched_incident_id_incidents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_incidents')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_campaign_incidents_incident_id'))
    )
    with op.batch_alter_table('campaign_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_incidents_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_incidents_community_id'), ['community_id'], unique=False)

    op.create_table('incident_episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('episode_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('opened_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_signal_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_incident_episodes_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_episodes_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_episodes')),
    sa.UniqueConstraint('community_id', 'episode_key', name=op.f('uq_incident_episodes_community_id_episode_key'))
    )
    with op.batch_alter_table('incident_episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_episodes_incident_id'), ['incident_id'], unique=False)

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_kind_last_signal_at', ['kind', 'last_signal_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_kind_last_signal_at')

    with op.batch_alter_table('incident_episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_episodes_incident_id'))

    op.drop_table('incident_episodes')
    with op.batch_alter_table('campaign_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_incidents_community_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_incidents_campaign_id'))

    op.drop_table('campaign_incidents')
    op.drop_table('detector_boosts')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_last_signal_at'))

    op.drop_table('campaigns')
