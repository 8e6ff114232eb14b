"""What a platform pushes, stored through ingest's own path: translated by the platform's
bridge, each event validated like an API event (one bad event is counted and named, it does
not sink the rest), stored idempotently by event id, and the transaction recorded so the
platform's retry of it stores nothing twice. The detectors are rung after commit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from crisis.bridges import health
from crisis.bridges.base import AccountLookup, Bridge
from crisis.bridges.links import record_error
from crisis.clock import Clock
from crisis.ingest.store import store_events
from crisis.ingest.validate import validate_batch
from crisis.jobs import ringer
from crisis.models import BridgeTransaction, Community, PlatformLink


@dataclass
class Received:
    repeated: bool = False  # the platform sent this transaction before: nothing stored again
    stored: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)


def seen(session: Session, link: PlatformLink, txn_id: str) -> bool:
    return session.get(BridgeTransaction, (link.id, txn_id)) is not None


@dataclass
class Stored:
    stored: int = 0
    duplicates: int = 0
    invalid: list[str] = field(default_factory=list)


def store(session: Session, link: PlatformLink, community: Community, events: list[dict[str, Any]], *,
          clock: Clock) -> Stored:
    """Validate a bridge's crisis events like API events and store the valid ones: one bad
    event is named in `invalid` and does not sink the rest. Rings the detectors after commit."""
    now = clock.now()
    out = Stored()
    valid, errors = validate_batch(events, community.slug, now)
    if errors:  # rare: find each bad event, keep the good ones
        valid = []
        for event in events:
            ok, errors = validate_batch([event], community.slug, now)
            if errors:
                out.invalid.append(f"{event.get('id')}: {errors[0].field} {errors[0].message}"[:300])
            valid.extend(ok)
    if valid:
        result = store_events(session, community, valid, clock=clock)
        out.stored, out.duplicates = result.accepted, result.duplicates
        link.events_received += result.accepted
        if result.accepted:
            ringer.note_detect(session, community.id)
    return out


def receive(session: Session, link: PlatformLink, txn_id: str, pushed: list[Any], *, bridge: Bridge,
            accounts: AccountLookup, clock: Clock) -> Received:
    """Store one pushed transaction in the caller's transaction (the caller commits)."""
    if seen(session, link, txn_id):
        return Received(repeated=True)
    community = session.get(Community, link.community_id)
    assert community is not None
    now = clock.now()
    translation = bridge.translate(pushed, rooms=link.rooms, accounts=accounts)
    stored = store(session, link, community, translation.events, clock=clock)
    out = Received(stored=stored.stored, duplicates=stored.duplicates, skipped=translation.skipped,
                   invalid=stored.invalid)
    if stored.stored or stored.duplicates:
        link.last_event_at = now
        if stored.stored and link.silent_since is not None:
            health.resumed(session, link, clock=clock)
    session.add(BridgeTransaction(link_id=link.id, txn_id=txn_id[:255], received_at=now, events=len(pushed),
                                  stored=out.stored, summary={"skipped": out.skipped, "invalid": out.invalid[:20],
                                                              "duplicates": out.duplicates}))
    link.last_transaction_at = now
    link.events_skipped += sum(out.skipped.values()) + len(out.invalid)
    if out.invalid:
        record_error(link, f"{len(out.invalid)} event(s) refused: {out.invalid[0]}", now)
    malformed = [reason for reason in out.skipped if reason.startswith("malformed")]
    if malformed:
        record_error(link, f"skipped {malformed[0]}", now)
    session.flush()
    return out
