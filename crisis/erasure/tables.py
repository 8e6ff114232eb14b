"""Every other table that may have copied the member: found from the schema, not listed.

A table belongs to the community when it has a community_id, or a foreign key to a table that
does (an incident's timeline, signals and tasks; a link's transactions and accounts; an
alert group's alerts; a postmortem's action items; a containment action's moves). Each of
its text and JSON columns goes through the redactor, so a table added later is covered the
day it is added. Not walked: staff tables without a community (users, their contact methods),
the shared playbooks, the audit log (append-only by design; erasure writes its own row there
naming only the tombstone), secrets and hashes (`*_hash`, `*_token`: never member data, and
rewriting a ciphertext would break it), and the tables erasure handles itself.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, MetaData, String, Table, delete, select, tuple_, update
from sqlalchemy.orm import Session

from crisis.erasure.redact import Redactor
from crisis.models import EventId

# Handled by crisis.erasure.batches and crisis.erasure.service (or holding no member data).
OWN = frozenset({"event_batches", "event_ids", "detector_states", "erasures", "retention_state", "alembic_version"})
CHUNK = 500


def walked(table: Table) -> bool:
    return table.name not in OWN and not table.name.startswith("audit")


def scrubbed_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(c.type, (String, JSON))
            and not c.name.endswith(("_hash", "_token"))]


def scope(table: Table, community_id: int, seen: frozenset[str] = frozenset()) -> ColumnElement[bool] | None:
    """The WHERE clause selecting this table's rows of the community, or None if it has none."""
    if table.name == "communities":
        return table.c.id == community_id
    if "community_id" in table.c:
        return table.c.community_id == community_id
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if parent.name in seen or parent.name == table.name:
            continue
        parent_scope = scope(parent, community_id, seen | {table.name})
        if parent_scope is not None:
            return fk.parent.in_(select(fk.column).where(parent_scope))
    return None


def community_tables(metadata: MetaData, community_id: int) -> Iterator[tuple[Table, ColumnElement[bool]]]:
    for table in metadata.sorted_tables:
        if not walked(table) or not scrubbed_columns(table):
            continue
        where = scope(table, community_id)
        if where is not None:
            yield table, where


def _chunks(session: Session, table: Table, where: ColumnElement[bool], columns: list[Column[Any]],
            postgres: bool) -> Iterator[Sequence[Any]]:
    keys = list(table.primary_key.columns)
    key = tuple_(*keys) if len(keys) > 1 else keys[0]
    last: Any = None
    while True:
        query = select(*keys, *columns).where(where)
        if last is not None:
            query = query.where(key > (tuple_(*last) if len(keys) > 1 else last[0]))
        query = query.order_by(*keys).limit(CHUNK)
        if postgres:
            query = query.with_for_update(key_share=True)
        rows = session.execute(query).all()
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][: len(keys)])
        session.commit()  # one short transaction per chunk


def scrub_table(session: Session, table: Table, where: ColumnElement[bool], redactor: Redactor) -> int:
    """Rewrite the rows of the community that mention the member; how many were changed."""
    postgres = session.get_bind().dialect.name == "postgresql"
    keys = list(table.primary_key.columns)
    columns = scrubbed_columns(table)
    changed = 0
    for rows in _chunks(session, table, where, columns, postgres):
        for row in rows:
            key_values = row[: len(keys)]
            old = dict(zip((c.name for c in columns), row[len(keys):], strict=True))
            if table.name == "platform_accounts" and redactor.is_member(old.get("user_id")):
                session.execute(delete(table).where(*(k == v for k, v in zip(keys, key_values, strict=True))))
                changed += 1
                continue
            values = {name: redactor.value(v) for name, v in old.items() if v is not None}
            values = {name: v for name, v in values.items() if v != old[name]}
            if values:
                session.execute(update(table).where(*(k == v for k, v in zip(keys, key_values, strict=True)))
                                .values(**values))
                changed += 1
    return changed


def scrub_all(session: Session, metadata: MetaData, community_id: int, redactor: Redactor) -> dict[str, int]:
    """Walk every community table; rows changed per table (only those with changes)."""
    counts: dict[str, int] = {}
    for table, where in community_tables(metadata, community_id):
        n = scrub_table(session, table, where, redactor)
        session.commit()
        if n:
            counts[table.name] = n
    return counts


def stale_event_ids(session: Session, community_id: int, redactor: Redactor, needles: list[str]) -> int:
    """Idempotency keys that name the member but whose batch retention already deleted (the
    batch rewrite renamed the others). Found with LIKE, not by reading every key."""
    from crisis.erasure.batches import rename_ids

    renames: dict[str, str] = {}
    for needle in needles:
        if len(needle) < 3:
            continue
        pattern = "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for (event_id,) in session.execute(select(EventId.event_id).where(
                EventId.community_id == community_id, EventId.event_id.ilike(pattern, escape="\\"))):
            new = redactor.text(event_id)
            if new != event_id:
                renames[event_id] = new
    return rename_ids(session, community_id, renames)
