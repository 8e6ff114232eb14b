"""Retention and erasure as jobs: a real rq worker on a real Redis carries them out, and its
sweeper finds them from the database alone (Redis never told about them)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.clock import FixedClock, isoformat
from crisis.config import Config
from crisis.erasure import service
from crisis.ingest.store import store_events
from crisis.ingest.validate import validate_batch
from crisis.jobs import sweeper
from crisis.models import Community, Erasure, EventBatch, RetentionState
from crisis.response import drain
from tests.conftest import Factory
from tests.live import WorkerProcess, wait_for


def _events(session: Session, community: Community, clock: FixedClock, tag: str) -> None:
    raw = [{"id": f"{tag}{i}", "type": "message.create", "ts": isoformat(clock.now()),
            "actor": {"id": "@mallory:hs.test" if i % 2 else "@bob:hs.test"}, "channel": "general",
            "content": f"note {i}"} for i in range(4)]
    valid, _ = validate_batch(raw, community.slug, clock.now())
    store_events(session, community, valid, clock=clock)
    session.commit()
    drain.drain(session, community.id, clock=clock)
    session.commit()


@pytest.mark.redis
def test_a_worker_s_sweeper_runs_retention_and_erasures_it_was_never_rung_for(
        redis_config: Config, factory: Factory, session: Session) -> None:
    tenant = factory.community("lantern")
    now = datetime.now(timezone.utc)  # the worker runs on the real clock
    _events(session, tenant.community, FixedClock(now - timedelta(days=40)), "old")
    _events(session, tenant.community, FixedClock(now), "new")
    row = service.request(session, tenant.community, member="@mallory:hs.test", actor="test", actor_user_id=None,
                          remote_addr=None, clock=FixedClock(now))
    session.commit()
    rt = runtime.configure(redis_config)
    with WorkerProcess(redis_config, CRISIS_SWEEP_INTERVAL="1") as worker:

        def finished() -> bool:
            with rt.sessions() as s:
                erasure = s.get(Erasure, row.id)
                state = s.get(RetentionState, tenant.community.id)
                return bool(erasure and erasure.status == "done" and state and state.last_run_at)

        wait_for(finished, timeout=40, message=f"retention and the erasure to run; worker log:\n{worker.log()}")
    with rt.sessions() as s:
        state = s.get(RetentionState, tenant.community.id)
        assert state is not None and (state.batches_deleted, state.events_deleted) == (1, 4)
        assert len(s.scalars(select(EventBatch)).all()) == 1
    runtime.reset()


def test_the_sweeper_gives_back_an_erasure_whose_worker_died(rt: runtime.Runtime, factory: Factory,
                                                             session: Session, clock: FixedClock) -> None:
    tenant = factory.community("lantern")
    _events(session, tenant.community, clock, "e")
    row = service.request(session, tenant.community, member="@mallory:hs.test", actor="test", actor_user_id=None,
                          remote_addr=None, clock=clock)
    row.status, row.claimed_at = "running", clock.now()  # a worker claimed it, then died
    session.commit()
    first = sweeper.sweep(rt)
    assert first["erasures_revived"] == 0  # its claim is fresh: maybe it is still working
    assert first["retention_due"] == 1  # never run: due (and run inline here)
    clock.advance(service.STALE_CLAIM + timedelta(seconds=1))
    counts = sweeper.sweep(rt)
    assert (counts["erasures_revived"], counts["erasures_waiting"]) == (1, 1)
    session.expire_all()
    assert session.get(Erasure, row.id).status == "done"  # type: ignore[union-attr]
    assert counts["retention_due"] == 0  # ran an hour ago at most: not due
