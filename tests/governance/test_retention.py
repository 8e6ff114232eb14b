"""Retention: raw events past their time go in bounded batches with their ids; what the
detectors have not read, what incidents hold and the per-minute counts stay; evidence text
goes once the postmortem is published plus the grace period. SQLite and PostgreSQL."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from crisis import migrate
from crisis.clock import FixedClock, isoformat
from crisis.db import make_engine, make_sessionmaker
from crisis.ingest.store import decode_batch, store_events
from crisis.ingest.validate import validate_batch
from crisis.insight import activity
from crisis.models import ActivityCount, Community, EventBatch, EventId, Incident, RetentionState, Signal
from crisis.models.postmortem import Postmortem
from crisis.response import drain
from crisis.retention import enforce, evidence, policy
from crisis.tenancy import communities
from tests.conftest import CURRENT_TIME
from tests.servers import PostgresServer

DAY = timedelta(days=1)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'retention.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine, make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'retention.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"retention_{abs(hash(request.node.name)) % 10**8}")
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _batch(sessions: sessionmaker[Session], community_id: int, clock: FixedClock, tag: str, n: int = 5,
           *, content: str = "hello") -> None:
    raw = [{"id": f"{tag}-{i}", "type": "message.create", "ts": isoformat(clock.now() + timedelta(seconds=i)),
            "actor": {"id": f"u{i}"}, "channel": "general", "content": f"{content} {i}"} for i in range(n)]
    with sessions() as s:
        community = s.get(Community, community_id)
        assert community is not None
        valid, errors = validate_batch(raw, community.slug, clock.now())
        assert not errors
        store_events(s, community, valid, clock=clock)
        s.commit()


def _consume(sessions: sessionmaker[Session], community_id: int, clock: FixedClock) -> None:
    with sessions() as s:
        drain.drain(s, community_id, clock=clock, max_batches=1000)
        s.commit()


def _community(sessions: sessionmaker[Session], clock: FixedClock, settings: dict[str, Any] | None = None) -> int:
    with sessions() as s:
        community, _ = communities.create_community(s, "lantern", name="Lantern", clock=clock)
        community.settings = settings or {}
        s.commit()
        return community.id


def _tags(sessions: sessionmaker[Session], community_id: int) -> list[str]:
    with sessions() as s:
        rows = s.scalars(select(EventBatch).where(EventBatch.community_id == community_id).order_by(EventBatch.seq))
        return [decode_batch(r.body, r.fresh, r.count)[0]["id"].split("-")[0] for r in rows]


def _ids(sessions: sessionmaker[Session], community_id: int) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(EventId).where(EventId.community_id == community_id))
                   or 0)


def test_it_deletes_old_consumed_events_with_their_ids_and_keeps_the_rest(sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(CURRENT_TIME - 40 * DAY)
    cid = _community(sessions, clock)
    _batch(sessions, cid, clock, "old1")
    _batch(sessions, cid, clock, "old2")
    _consume(sessions, cid, clock)
    clock.advance(25 * DAY)
    _batch(sessions, cid, clock, "recent")
    _consume(sessions, cid, clock)
    clock.set(CURRENT_TIME - 31 * DAY)
    # Older than 30 days but the detectors never read it (their checkpoint is earlier): kept.
    _batch(sessions, cid, clock, "pending")
    clock.set(CURRENT_TIME)
    with sessions() as s:
        counted_before = activity.counts(s, cid, CURRENT_TIME - 60 * DAY, CURRENT_TIME)
    report = enforce.run(sessions, cid, clock=clock)
    assert report.claimed and report.finished and (report.batches, report.events) == (2, 10)
    assert _tags(sessions, cid) == ["recent", "pending"]
    assert _ids(sessions, cid) == 10
    with sessions() as s:
        assert activity.counts(s, cid, CURRENT_TIME - 60 * DAY, CURRENT_TIME) == counted_before  # charts keep theirs
        assert sum(n for _, _, n in counted_before) == 15
        state = s.get(RetentionState, cid)
        assert state is not None and (state.batches_deleted, state.events_deleted) == (2, 10)
        assert state.next_run_at == CURRENT_TIME + enforce.RUN_EVERY and state.cursor_seq == 0
    # An event id whose batch is gone is free again: a client resending it stores it anew.
    _batch(sessions, cid, clock, "old1", n=1)
    assert _tags(sessions, cid)[-1] == "old1"


def test_it_keeps_what_an_incident_cites_until_its_postmortem_is_published_plus_grace(
        sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(CURRENT_TIME - 100 * DAY)
    cid = _community(sessions, clock, {"retention_days": 7, "evidence_grace_days": 10})
    _batch(sessions, cid, clock, "before")  # three days before the incident: outside its 48 h look-back
    clock.advance(3 * DAY)
    _batch(sessions, cid, clock, "cited", content="buy pills at spam.example")
    _consume(sessions, cid, clock)
    now = clock.now()
    with sessions() as s:
        incident = Incident(community_id=cid, kind="raid", title="Raid", severity="sev2", status="triggered",
                            source="detector", opened_at=now, created_at=now + timedelta(minutes=1),
                            evidence={"accounts": ["u1", "u2"], "samples": ["buy pills at spam.example 1", "x"],
                                      "reasons": {"spam": 3, "scam": 2}, "accounts_total": 2})
        s.add(incident)
        s.flush()
        s.add(Signal(incident_id=incident.id, kind="raid", severity="sev2", observed_at=now, created_at=now,
                     evidence={"samples": ["buy pills at spam.example 1"]}))
        s.commit()
        incident_id = incident.id
    clock.set(CURRENT_TIME - 60 * DAY)
    enforce.run(sessions, cid, clock=clock)
    assert _tags(sessions, cid) == ["cited"]  # the open incident holds its window
    with sessions() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        incident.status, incident.resolved_at = "resolved", clock.now()
        s.add(Postmortem(incident_id=incident_id, community_id=cid, status="draft", created_at=clock.now(),
                         updated_at=clock.now()))
        s.commit()
    clock.advance(30 * DAY)
    enforce.run(sessions, cid, clock=clock, force=True)
    assert _tags(sessions, cid) == ["cited"]  # a postmortem being written holds it
    with sessions() as s:
        pm = s.scalar(select(Postmortem).where(Postmortem.incident_id == incident_id))
        assert pm is not None
        pm.status, pm.published_at = "published", clock.now()
        s.commit()
    clock.advance(9 * DAY)
    enforce.run(sessions, cid, clock=clock, force=True)
    assert _tags(sessions, cid) == ["cited"]  # within the grace period
    clock.advance(2 * DAY)
    report = enforce.run(sessions, cid, clock=clock, force=True)
    assert (report.batches, report.incidents) == (1, 1)
    assert _tags(sessions, cid) == []
    with sessions() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None and incident.evidence_expired_at == clock.now()
        assert incident.evidence["samples"] == [evidence.EXPIRED, evidence.EXPIRED]
        assert incident.evidence["reasons"] == {evidence.EXPIRED: 5}
        assert incident.evidence["accounts"] == ["u1", "u2"] and incident.evidence["accounts_total"] == 2
        signal = s.scalar(select(Signal).where(Signal.incident_id == incident_id))
        assert signal is not None and signal.evidence["samples"] == [evidence.EXPIRED]
    assert enforce.run(sessions, cid, clock=clock, force=True).incidents == 0  # once


def test_it_works_in_bounded_transactions_and_resumes_where_its_budget_ran_out(
        sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(CURRENT_TIME - 40 * DAY)
    cid = _community(sessions, clock)
    for i in range(7):
        _batch(sessions, cid, clock, f"b{i}", n=3)
    _consume(sessions, cid, clock)
    clock.set(CURRENT_TIME)
    report = enforce.run(sessions, cid, clock=clock, chunk_rows=2)
    # Four deletions of two rows at most, one look that found none, one for evidence text.
    assert (report.batches, report.transactions) == (7, 6)
    assert _tags(sessions, cid) == []
    for i in range(5):
        _batch(sessions, cid, clock, f"n{i}", n=1)
    clock.advance(31 * DAY)
    _consume(sessions, cid, clock)
    stopped = enforce.run(sessions, cid, clock=clock, chunk_rows=2, budget_s=0.0, force=True)
    assert stopped.claimed and not stopped.finished and stopped.batches == 0
    with sessions() as s:
        state = s.get(RetentionState, cid)
        assert state is not None and state.next_run_at == clock.now()  # due again at once
    resumed = enforce.run(sessions, cid, clock=clock, chunk_rows=2)
    assert resumed.finished and resumed.batches == 5


def test_one_worker_runs_a_community_at_a_time(sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(CURRENT_TIME)
    cid = _community(sessions, clock)
    with sessions() as s:
        assert enforce.claim(s, cid, clock.now())
        s.commit()
    assert not enforce.run(sessions, cid, clock=clock).claimed  # the first claim holds it
    clock.advance(enforce.CLAIM_FOR)
    assert enforce.run(sessions, cid, clock=clock).claimed  # ... until it lapses (its worker died)
    with sessions() as s:
        assert enforce.due(s, clock.now(), 10) == []
        clock.advance(enforce.RUN_EVERY)
        assert enforce.due(s, clock.now(), 10) == [cid]


def test_the_hold_rules() -> None:
    now, grace = CURRENT_TIME, 5 * DAY
    assert policy.hold_ends(status="acknowledged", resolved_at=None, postmortem_status=None, published_at=None,
                            grace=grace) is None
    assert policy.hold_ends(status="resolved", resolved_at=now, postmortem_status=None, published_at=None,
                            grace=grace) == now + grace
    assert policy.hold_ends(status="resolved", resolved_at=now, postmortem_status="in_review", published_at=None,
                            grace=grace) is None
    assert policy.hold_ends(status="resolved", resolved_at=now, postmortem_status="published",
                            published_at=now + DAY, grace=grace) == now + 6 * DAY
    hold = [policy.Hold(1, now, now + DAY), policy.Hold(2, now + DAY / 2, now + 2 * DAY),
            policy.Hold(3, now + 5 * DAY, None), policy.Hold(4, now + 9 * DAY, now + 10 * DAY)]
    assert policy.merged(hold) == [(now, now + 2 * DAY), (now + 5 * DAY, None)]


def test_activity_counts_are_not_retention_s_to_delete(sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    _engine, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME - 400 * DAY)
    cid = _community(sessions, clock, {"retention_days": 1})
    _batch(sessions, cid, clock, "ancient")
    _consume(sessions, cid, clock)
    clock.set(CURRENT_TIME)
    enforce.run(sessions, cid, clock=clock)
    with sessions() as s:
        assert s.scalar(select(func.sum(ActivityCount.count)).where(ActivityCount.community_id == cid)) == 5
        assert activity.latest_event_time(s, cid) is not None


@pytest.mark.postgres
def test_it_gives_up_on_a_lock_it_waits_for_and_goes_on_later(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("retention_lock")
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    clock = FixedClock(CURRENT_TIME - 40 * DAY)
    cid = _community(sessions, clock)
    _batch(sessions, cid, clock, "old")
    _consume(sessions, cid, clock)
    clock.set(CURRENT_TIME)
    holder = engine.connect()
    holder.execute(text("SELECT 1 FROM event_ids WHERE event_id = 'old-0' FOR UPDATE"))  # someone else's lock
    started = time.monotonic()
    stopped = enforce.run(sessions, cid, clock=clock)
    waited = time.monotonic() - started
    assert stopped.claimed and not stopped.finished and stopped.batches == 0
    assert 1.5 < waited < 10  # lock_timeout, not for ever
    assert _tags(sessions, cid) == ["old"]  # its transaction rolled back whole
    holder.rollback()
    holder.close()
    with sessions() as s:
        state = s.get(RetentionState, cid)
        assert state is not None and state.next_run_at == clock.now()  # due again at once
    assert enforce.run(sessions, cid, clock=clock).batches == 1
    engine.dispose()
