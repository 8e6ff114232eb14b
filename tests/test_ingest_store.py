"""crisis.ingest.store_events on both stores: one statement per batch, idempotent on
(community, id), duplicates counted from what the database actually stored."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import migrate
from crisis.clock import FixedClock
from crisis.db import make_engine, make_sessionmaker
from crisis.detection import parse_event
from crisis.ingest.store import decode_batch, store_events
from crisis.ingest.validate import validate_batch
from crisis.models import Community, EventBatch, EventId
from crisis.tenancy import communities
from tests.servers import PostgresServer

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crisis.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"store_{abs(hash(request.node.name)) % 10**8}")
    migrate.upgrade(url)
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


def _events(slug: str, ids: list[str]) -> list:  # type: ignore[type-arg]
    raw = [{"id": i, "type": "message.create", "ts": "2026-10-05T13:59:58.123456789+02:00",
            "actor": {"id": f"u-{i}", "name": "Ünïcode \"quoted\" <b>"}, "content": "line\nbreak \\ back",
            "x-extra": {"n": 1}} for i in ids]
    valid, errors = validate_batch(raw, slug, NOW)
    assert not errors
    return valid


def _community(session: Session, slug: str) -> Community:
    community, _ = communities.create_community(session, slug, name=slug, clock=FixedClock(NOW))
    session.commit()
    return community


def test_it_stores_a_batch_and_reads_it_back_unchanged(store: Session) -> None:
    c = _community(store, "lantern")
    result = store_events(store, c, _events("lantern", ["a", "b", "c"]), clock=FixedClock(NOW))
    store.commit()
    assert (result.accepted, result.duplicates, result.types) == (3, 0, ["message.create"] * 3)
    (batch,) = store.scalars(select(EventBatch)).all()
    assert (batch.received_at, batch.count, batch.fresh) == (NOW, 3, None)
    events = decode_batch(batch.body, batch.fresh)
    assert [e["id"] for e in events] == ["a", "b", "c"]
    first = events[0]
    assert first["ts"] == "2026-10-05T13:59:58.123456789+02:00"  # as sent; the detectors parse it
    assert first["actor"] == {"id": "u-a", "name": "Ünïcode \"quoted\" <b>"}
    assert first["content"] == "line\nbreak \\ back" and first["x-extra"] == {"n": 1}
    assert first["community"] == "lantern"


def test_it_counts_repeats_across_and_inside_batches(store: Session) -> None:
    c = _community(store, "lantern")
    clock = FixedClock(NOW)
    store_events(store, c, _events("lantern", ["a", "b"]), clock=clock)
    store.commit()
    result = store_events(store, c, _events("lantern", ["b", "c", "c", "a", "d"]), clock=clock)
    store.commit()
    assert (result.accepted, result.duplicates) == (2, 3)
    assert sorted(store.scalars(select(EventId.event_id))) == ["a", "b", "c", "d"]
    first, second = store.scalars(select(EventBatch).order_by(EventBatch.seq)).all()
    assert [e["id"] for e in decode_batch(second.body, second.fresh)] == ["c", "d"]
    assert (first.count, second.count) == (2, 2)


def test_the_same_id_in_two_communities_is_two_events(store: Session) -> None:
    a, b = _community(store, "a"), _community(store, "b")
    clock = FixedClock(NOW + timedelta(seconds=1))
    assert store_events(store, a, _events("a", ["x"]), clock=clock).accepted == 1
    assert store_events(store, b, _events("b", ["x"]), clock=clock).accepted == 1
    store.commit()
    assert len(store.scalars(select(EventId.event_id)).all()) == 2
    assert sorted(store.scalars(select(EventBatch.count))) == [1, 1]


def test_an_empty_batch_stores_nothing(store: Session) -> None:
    c = _community(store, "lantern")
    result = store_events(store, c, [], clock=FixedClock(NOW))
    assert (result.accepted, result.duplicates) == (0, 0)


def test_a_batch_stored_as_sent_reads_back_once_per_id_and_named_for_its_community(store: Session) -> None:
    c = _community(store, "lantern")
    clock = FixedClock(NOW)
    store_events(store, c, _events("lantern", ["a"]), clock=clock)
    raw = [{"id": i, "type": "message.create", "ts": "2026-10-05T11:59:00Z", "actor": {"id": "u"}}
           for i in ["a", "b", "b", "c"]]
    valid, errors = validate_batch(raw, "lantern", NOW)
    assert not errors
    result = store_events(store, c, valid, clock=clock, raw=json.dumps(raw).encode())
    store.commit()
    assert (result.accepted, result.duplicates) == (2, 2)
    last = store.scalars(select(EventBatch).order_by(EventBatch.seq.desc())).first()
    assert last is not None
    events = [parse_event(wire, "lantern") for wire in decode_batch(last.body, last.fresh, last.count)]
    assert [(e.id, e.community) for e in events] == [("b", "lantern"), ("c", "lantern")]


def test_a_batch_that_repeats_an_id_reads_it_once_even_when_none_was_stored_before(store: Session) -> None:
    c = _community(store, "lantern")
    raw = [{"id": i, "type": "message.create", "ts": "2026-10-05T11:59:00Z", "actor": {"id": "u"}}
           for i in ["a", "b", "a"]]
    valid, _ = validate_batch(raw, "lantern", NOW)
    store_events(store, c, valid, clock=FixedClock(NOW), raw=json.dumps(raw).encode())
    store.commit()
    batch = store.scalars(select(EventBatch)).one()
    assert (batch.count, batch.fresh) == (2, None)
    assert [e["id"] for e in decode_batch(batch.body, batch.fresh, batch.count)] == ["a", "b"]
