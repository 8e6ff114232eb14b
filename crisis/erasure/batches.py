"""The member in the batch log: stored requests' bytes decoded, the member taken out, stored
again. Every event stays where it was, so counts, seq order and the detectors' checkpoint keep
their meaning; only what identifies the member changes.

The member's own events keep their type, time, channel and ids; their actor becomes the
tombstone (roles and the bot flag kept, name and account age dropped) and their text
(`content`, a report's `reason`) becomes "[erased]". Other members' events keep everything
but the member's id, names and quoted text (a report naming them, a reply quoting them).
Duplicates a request carried (not in `fresh`) are rewritten too: they are part of its bytes.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crisis.db import json_loads
from crisis.erasure.redact import ERASED, Redactor
from crisis.ingest.store import encode_body
from crisis.models import EventBatch, EventId

OWN_TEXT = ("content", "reason")
KEEP_ACTOR = ("roles", "bot")
# Batch rows per transaction: at 100-500 events a row, a few tens of thousands of events.
CHUNK_ROWS = 100
# The texts kept for finding quotes of the member elsewhere: beyond this many, their own
# events are still erased, but quotes of the rest inside others' messages are not looked for.
MAX_TEXTS = 20_000
MAX_TEXT_CHARS = 4000

_C = EventBatch.__table__.c


def _decode(body: bytes, redactor: Redactor, *, ids_only: bool = False) -> list[Any] | None:
    """The batch's events, or None when its text cannot hold the member (most rows)."""
    raw = zlib.decompress(body)
    if not redactor.may_be_in(raw.decode("utf-8", "replace"), ids_only=ids_only):
        return None
    events = json_loads(raw)
    return events if isinstance(events, list) else []


def _encode(events: list[Any]) -> bytes:
    # The standard library, not orjson: a stored request may hold NaN, which orjson writes as null.
    return encode_body([], json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode())


def max_seq(session: Session, community_id: int) -> int:
    return int(session.scalar(select(func.max(_C.seq)).where(_C.community_id == community_id)) or 0)


def _range(community_id: int, after: int, upto: int, limit: int) -> Any:
    return (select(_C.seq, _C.fresh, _C.body)
            .where(_C.community_id == community_id, _C.seq > after, _C.seq <= upto)
            .order_by(_C.seq).limit(limit))


@dataclass
class Found:
    names: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)


def _actor_id(event: Any) -> Any:
    actor = event.get("actor") if isinstance(event, dict) else None
    return actor.get("id") if isinstance(actor, dict) else None


def collect(event: Any, redactor: Redactor, found: Found) -> None:
    """Add the member's name and texts in this event, if it is theirs."""
    if not redactor.is_member(_actor_id(event)):
        return
    name = event["actor"].get("name")
    if isinstance(name, str) and name.strip():
        found.names.add(name.strip())
    for key in OWN_TEXT:
        value = event.get(key)
        if isinstance(value, str) and value.strip() and len(found.texts) < MAX_TEXTS:
            found.texts.add(value[:MAX_TEXT_CHARS])


def collect_chunk(session: Session, community_id: int, redactor: Redactor, found: Found, *, after: int,
                  upto: int, limit: int = CHUNK_ROWS) -> int:
    """Read the next rows after `after`; the last seq read (`after` when none was left)."""
    last = after
    for row in session.execute(_range(community_id, after, upto, limit)):
        for event in _decode(row.body, redactor, ids_only=True) or ():
            collect(event, redactor, found)
        last = row.seq
    return last


def redact_event(event: Any, redactor: Redactor) -> tuple[Any, bool]:
    """The event with the member taken out, and whether it was the member's own."""
    if not isinstance(event, dict):
        return redactor.value(event), False
    actor = event.get("actor")
    own = isinstance(actor, dict) and redactor.is_member(actor.get("id"))
    out: dict[str, Any] = {}
    for key, value in event.items():
        if own and key == "actor" and isinstance(actor, dict):
            out[key] = {"id": redactor.tombstone, **{k: actor[k] for k in KEEP_ACTOR if k in actor}}
        elif own and key in OWN_TEXT and isinstance(value, str):
            out[key] = ERASED
        else:
            out[key] = redactor.value(value)
    return out, own


@dataclass
class Rewritten:
    last: int
    rows: int = 0
    rows_changed: int = 0
    own_events: int = 0
    other_events: int = 0
    ids_renamed: int = 0


def rewrite_chunk(session: Session, community_id: int, redactor: Redactor, *, after: int, upto: int,
                  limit: int = CHUNK_ROWS) -> Rewritten:
    """Rewrite the next rows after `after` that mention the member. The caller commits.

    On PostgreSQL the rows are locked for the rewrite (FOR NO KEY UPDATE, which ingest's
    foreign-key checks do not wait for); retention skips locked rows."""
    postgres = session.get_bind().dialect.name == "postgresql"
    query = _range(community_id, after, upto, limit)
    if postgres:
        query = query.with_for_update(key_share=True)
    out = Rewritten(after)
    renames: dict[str, str] = {}
    for row in session.execute(query).all():
        out.last, out.rows = row.seq, out.rows + 1
        events = _decode(row.body, redactor)
        if events is None:
            continue
        changed = False
        new_events = []
        for event in events:
            new, own = redact_event(event, redactor)
            if new != event:
                changed = True
                out.own_events += own
                out.other_events += not own
                old_id, new_id = _event_id(event), _event_id(new)
                if old_id is not None and new_id is not None and old_id != new_id:
                    renames[old_id] = new_id
            new_events.append(new)
        if not changed:
            continue
        fresh = None if row.fresh is None else [renames.get(str(i), i) for i in row.fresh]
        session.execute(update(EventBatch).where(EventBatch.seq == row.seq)
                        .values(body=_encode(new_events), fresh=fresh),
                        execution_options={"synchronize_session": False})
        out.rows_changed += 1
    out.ids_renamed = rename_ids(session, community_id, renames)
    return out


def _event_id(event: Any) -> str | None:
    value = event.get("id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


def rename_ids(session: Session, community_id: int, renames: dict[str, str]) -> int:
    """Move idempotency keys that named the member to their redacted form."""
    if not renames:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stored = list(session.scalars(select(EventId.event_id).where(EventId.community_id == community_id,
                                                                 EventId.event_id.in_(list(renames)))))
    if not stored:
        return 0
    session.execute(delete(EventId).where(EventId.community_id == community_id, EventId.event_id.in_(stored)))
    session.execute(insert(EventId.__table__).values(  # type: ignore[arg-type]  # -- a declarative __table__
        [{"community_id": community_id, "event_id": new} for new in dict.fromkeys(renames[o] for o in stored)])
        .on_conflict_do_nothing())
    return len(stored)
