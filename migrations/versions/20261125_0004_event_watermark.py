"""Events are written once: progress is the detector checkpoint's last_seq, not a flag per row.

Marking each event processed rewrote every event row and all of its indexes after the
detectors consumed it (the events table was written twice). Events after a community's
DetectorState.last_seq are now the pending ones; ingest commits a community's events in
seq order, so nothing commits behind the watermark.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_pending')
        batch_op.create_index('ix_events_community_seq', ['community_id', 'seq'], unique=False)
        batch_op.drop_column('processed_at')
        batch_op.drop_column('processed')


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('processed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('processed_at', crisis.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_events_community_seq')
        batch_op.create_index('ix_events_pending', ['community_id', 'processed', 'seq'], unique=False)
    # What the detectors had consumed is what their checkpoints say.
    op.execute("UPDATE events SET processed = EXISTS (SELECT 1 FROM detector_states d "
               "WHERE d.community_id = events.community_id AND events.seq <= d.last_seq)")
