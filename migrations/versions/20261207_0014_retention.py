"""Retention and erasure: each community's retention run, the erasures of members, and the
mark on incidents whose evidence text retention replaced by tombstones.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'retention_state',
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('next_run_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('cursor_seq', _SEQ, nullable=False),
        sa.Column('last_run_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('batches_deleted', _SEQ, nullable=False),
        sa.Column('events_deleted', _SEQ, nullable=False),
        sa.Column('evidence_expired', sa.Integer(), nullable=False),
        sa.Column('last_run', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                                name=op.f('fk_retention_state_community_id_communities'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('community_id', name=op.f('pk_retention_state')),
    )
    op.create_table(
        'erasures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('phase', sa.String(length=16), nullable=False),
        sa.Column('tombstone', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=True),
        sa.Column('needles', sa.JSON(), nullable=True),
        sa.Column('cursor_seq', _SEQ, nullable=False),
        sa.Column('high_seq', _SEQ, nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('requested_by', sa.String(length=200), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('remote_addr', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('created_at', crisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', crisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'],
                                name=op.f('fk_erasures_community_id_communities'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_erasures_requested_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.create_index('ix_erasures_status', ['status', 'claimed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasures_community_id'), ['community_id'], unique=False)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_expired_at', crisis.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('evidence_expired_at')
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasures_community_id'))
        batch_op.drop_index('ix_erasures_status')
    op.drop_table('erasures')
    op.drop_table('retention_state')
