"""Two drains of one community interleaved on PostgreSQL: the events are applied once."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crisis import migrate
from crisis.clock import FixedClock, isoformat
from crisis.db import make_engine, make_sessionmaker
from crisis.ingest import backlog
from crisis.ingest.store import store_events
from crisis.ingest.validate import validate_batch
from crisis.models import DetectorState
from crisis.response import drain
from crisis.tenancy import communities
from tests.conftest import CURRENT_TIME
from tests.servers import PostgresServer

pytestmark = pytest.mark.postgres


def _events(start: int, n: int) -> list[dict[str, Any]]:
    return [{"id": f"e{i}", "type": "message.create", "ts": isoformat(CURRENT_TIME + timedelta(seconds=i)),
             "actor": {"id": f"u{i % 5}"}, "channel": "general", "content": f"hello {i}"}
            for i in range(start, start + n)]


def test_it_refuses_a_drain_whose_events_a_rival_committed_first(postgres_server: PostgresServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_server.create_database("drainrace")
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    clock = FixedClock(CURRENT_TIME)
    with sessions() as s:
        community, _ = communities.create_community(s, "lantern", name="Lantern", clock=clock)
        valid, errors = validate_batch(_events(0, 40), "lantern", clock.now())
        assert not errors
        store_events(s, community, valid, clock=clock)
        s.commit()
        community_id = community.id
    with sessions() as s:  # a first checkpoint exists, as in any running community
        drain.drain(s, community_id, clock=clock)
        s.commit()
    with sessions() as s:
        valid, _ = validate_batch(_events(40, 40), "lantern", clock.now())
        store_events(s, s.get(type(community), community_id), valid, clock=clock)
        s.commit()

    real_load = drain.load_detector
    rival_done: list[int] = []
    interleaved: list[bool] = []

    def load_after_rival(session: Any, c: Any, *args: Any) -> Any:
        # B has read the pending events; now A drains them and commits, then B loads the
        # checkpoint A just wrote.
        if not interleaved:
            interleaved.append(True)
            with sessions() as rival:
                rival_done.append(drain.drain(rival, community_id, clock=clock).events)
                rival.commit()
        return real_load(session, c, *args)

    monkeypatch.setattr(drain, "load_detector", load_after_rival)
    with sessions() as b:
        with pytest.raises(drain.LostRace):
            drain.drain(b, community_id, clock=clock)
        b.rollback()
    monkeypatch.setattr(drain, "load_detector", real_load)
    assert rival_done == [40]
    with sessions() as s:
        state = s.scalar(select(DetectorState).where(DetectorState.community_id == community_id))
        assert state is not None and state.version == 2  # the first drain, then A; B wrote nothing
        assert backlog.pending_count(s) == 0
    engine.dispose()
