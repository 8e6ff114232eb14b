"""event_ids without a foreign key; a trigger deletes them with their community.

The foreign key from event_ids to communities was checked once per inserted row: a
hundred `SELECT ... FOR KEY SHARE` on the community's row per 100-event request, and
with concurrent writers those row locks become multixacts. In a bare psycopg loop with
two writers, 100 ids cost PostgreSQL 1.25 ms of CPU with the key and 0.57 ms without.
The ids are only ever written in the same statement as their batch row, whose foreign
key still guards the community; ON DELETE CASCADE becomes a trigger on communities.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:20:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_FK = 'fk_event_ids_community_id_communities'
_TRIGGER = 'communities_delete_event_ids'


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_FK, 'event_ids', type_='foreignkey')
        op.execute(f"""CREATE FUNCTION {_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_ids WHERE community_id = OLD.id;
    RETURN OLD;
END $$""")
        op.execute(f"CREATE TRIGGER {_TRIGGER} AFTER DELETE ON communities "
                   f"FOR EACH ROW EXECUTE FUNCTION {_TRIGGER}()")
        return
    with op.batch_alter_table('event_ids', schema=None) as batch_op:
        batch_op.drop_constraint(_FK, type_='foreignkey')
    op.execute(f"CREATE TRIGGER {_TRIGGER} AFTER DELETE ON communities "
               f"BEGIN DELETE FROM event_ids WHERE community_id = OLD.id; END")


def downgrade() -> None:
    op.execute(f"DROP TRIGGER {_TRIGGER}" + (" ON communities" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_TRIGGER}()")
        op.create_foreign_key(_FK, 'event_ids', 'communities', ['community_id'], ['id'], ondelete='CASCADE')
        return
    with op.batch_alter_table('event_ids', schema=None) as batch_op:
        batch_op.create_foreign_key(_FK, 'communities', ['community_id'], ['id'], ondelete='CASCADE')
