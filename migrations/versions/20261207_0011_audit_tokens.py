"""Audit log (append-only: a trigger refuses UPDATE and DELETE), token scopes and expiry,
and the escalation timer's "reached nobody" mark.

Existing tokens keep today's rights: a personal token gets every scope (it could do
whatever its user's role allows), an ingest token events:write (all it could do).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisis.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Written out, not imported: a later change to crisis.tenancy.tokens must not change what
# this migration did.
PERSONAL_SCOPES = ["incidents:read", "incidents:write", "oncall:read", "oncall:write", "settings:read", "admin"]
INGEST_SCOPES = ["events:write"]
REFUSAL = "audit_log is append-only: rows cannot be changed or deleted"


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', crisis.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('subject_user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_log_community_at', ['community_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_log_subject_at', ['subject_user_id', 'at'], unique=False)
    _refuse_changes()

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('expires_at', crisis.db.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('kind', sa.String), sa.column('scopes', sa.JSON))
    for kind, scopes in (("personal", PERSONAL_SCOPES), ("ingest", INGEST_SCOPES)):
        op.execute(tokens.update().where(tokens.c.kind == kind).values(scopes=scopes))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('scopes', server_default=None)

    with op.batch_alter_table('escalation_timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreached_at', crisis.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unreached_count', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('escalation_timers', schema=None) as batch_op:
        batch_op.alter_column('unreached_count', server_default=None)


def _refuse_changes() -> None:
    """The product has no route that edits or deletes audit rows; these triggers make the
    database refuse too, so a bug or a stray script cannot rewrite history either."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$""")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def downgrade() -> None:
    with op.batch_alter_table('escalation_timers', schema=None) as batch_op:
        batch_op.drop_column('unreached_count')
        batch_op.drop_column('unreached_at')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse()")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_subject_at')
        batch_op.drop_index('ix_audit_log_community_at')
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))
    op.drop_table('audit_log')
