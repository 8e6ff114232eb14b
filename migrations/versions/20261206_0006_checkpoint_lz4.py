"""Checkpoints compressed with lz4 instead of pglz on PostgreSQL.

The detectors' checkpoint (`detector_states.state`, every detector's state as JSON, about
half a MB for a busy community) is rewritten after every drain, many times a second
under load. PostgreSQL TOAST-compresses such a value with pglz by default, and that was
most of the write: about 22 ms of server CPU per 550 KiB checkpoint in a bare psycopg
loop, 18 of them pglz; with lz4 about 6 ms, for a value a little larger on disk. Rows
keep the compression they were written with until their next write (a drain away).

A server built without lz4 (its `default_toast_compression` offers no lz4) gets the
column stored uncompressed instead (STORAGE EXTERNAL), which is as cheap to write.
SQLite has no TOAST: nothing to do there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_COLUMN = "ALTER TABLE detector_states ALTER COLUMN state"


def _lz4_available() -> bool:
    offered = op.get_bind().execute(sa.text(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(offered) and "lz4" in offered


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if _lz4_available():
        op.execute(f"{_COLUMN} SET COMPRESSION lz4")
    else:
        op.execute(f"{_COLUMN} SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if _lz4_available():
        op.execute(f"{_COLUMN} SET COMPRESSION default")
    op.execute(f"{_COLUMN} SET STORAGE EXTENDED")
