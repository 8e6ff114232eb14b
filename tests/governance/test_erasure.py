"""Erasing a member: gone from every table of the database (found by walking every text, JSON
and binary column of every table, on SQLite and on PostgreSQL), counts kept, other
communities untouched, the detectors still working on the rewritten events."""
from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crisis import migrate
from crisis.clock import FixedClock
from crisis.db import make_engine, make_sessionmaker
from crisis.erasure import service
from crisis.erasure.redact import ERASED
from crisis.ingest.store import decode_batch
from crisis.models import AuditEntry, Community, ContainmentAction, Erasure, EventBatch, Incident
from crisis.response import drain
from tests.conftest import CURRENT_TIME
from tests.governance import world
from tests.servers import PostgresServer


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'erase.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine, make_sessionmaker(engine)
    engine.dispose()


def _erase(sessions: sessionmaker[Session], clock: FixedClock, community_id: int, **kw: object) -> Erasure:
    with sessions() as s:
        community = s.get(Community, community_id)
        assert community is not None
        row = service.request(s, community, member=world.MEMBER, actor="test", actor_user_id=None,
                              remote_addr="127.0.0.1", clock=clock, **kw)  # type: ignore[arg-type]
        s.commit()
        erasure_id = row.id
    assert service.run_to_end(sessions, erasure_id, clock=clock) == "done"
    with sessions() as s:
        found = s.get(Erasure, erasure_id)
        assert found is not None
        return found


def _gone_everywhere(engine: Engine, sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(CURRENT_TIME)
    built = world.build(sessions, clock)
    before = world.find(engine, world.NEEDLES)
    # The walk can fail: before the erasure it finds the member in each kind of place.
    tables_before = {hit.split(".")[0] for hit in before}
    assert {"event_batches", "event_ids", "detector_states", "incidents", "signals", "timeline_entries",
            "incident_tasks", "notifications", "containment_actions", "containment_moves", "postmortems",
            "postmortem_action_items", "platform_accounts", "bridge_transactions", "communities",
            "cases", "case_events", "penalties", "appeals", "member_messages", "public_updates"} <= tables_before
    version, _ = world.detector_state(sessions, built.community_id)
    done = _erase(sessions, clock, built.community_id)
    assert world.find(engine, world.NEEDLES) == []
    assert done.subject is None and done.needles is None
    with sessions() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.community_id == built.community_id)
                            .order_by(AuditEntry.id)).all()
        by_action = {a.action: a for a in audited}
        assert by_action["settings.update"].after == {"allow_users": 2}  # how many, not who
        erased = by_action["member.erased"]
        assert audited[-1] is erased and erased.target == done.tombstone and erased.actor == "test"
        assert erased.remote_addr == "127.0.0.1" and erased.after["events_own"] == 10
    assert done.counts["events_own"] == 10 and done.counts["detector_state"] == 1
    after_version, state = world.detector_state(sessions, built.community_id)
    assert after_version == version + 1  # a drain holding the old checkpoint loses its compare-and-set
    assert done.tombstone in json.dumps(state)
    with sessions() as s:
        incident = s.get(Incident, built.incident_id)
        assert incident is not None
        assert incident.evidence["accounts"] == [done.tombstone, "@u1:hs.test"]  # the count is kept
        assert incident.evidence["reasons"] == {ERASED: 2, "spam": 1}
        assert incident.title == f"Dispute in #general: {done.tombstone} vs @u1:hs.test"
        action = s.get(ContainmentAction, built.action_id)
        assert action is not None and [t["account"] for t in action.targets] == [done.tombstone, "@u1:hs.test"]
        events = [e for row in s.scalars(select(EventBatch).where(EventBatch.community_id == built.community_id))
                  for e in decode_batch(row.body, row.fresh, row.count)]
    assert len(events) == 2 * 27 - 15  # every event is still there
    own = [e for e in events if e["actor"]["id"] == done.tombstone]
    assert len(own) == 10 and all(e.get("content", ERASED) == ERASED for e in own)
    assert all("name" not in e["actor"] and "created_at" not in e["actor"] for e in own)


def test_it_erases_the_member_from_every_table_on_sqlite(sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    _gone_everywhere(*sqlite_db)


@pytest.mark.postgres
def test_it_erases_the_member_from_every_table_on_postgresql(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("erasure")
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        _gone_everywhere(engine, make_sessionmaker(engine))
    finally:
        engine.dispose()


def test_it_leaves_the_member_in_other_communities(sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME)
    built = world.build(sessions, clock, with_member_elsewhere=True)
    _erase(sessions, clock, built.community_id)
    left = world.find(engine, world.NEEDLES)
    # Her events, the detectors' memory of them and the cases her reports opened there.
    assert left and all(hit.split(".")[0] in ("event_batches", "event_ids", "detector_states", "cases", "case_events")
                        for hit in left)
    with sessions() as s:
        other = [e for row in s.scalars(select(EventBatch).where(EventBatch.community_id == built.other_id))
                 for e in decode_batch(row.body, row.fresh, row.count)]
    assert sum(e["actor"]["id"] == world.MEMBER for e in other) == 5
    assert world.find(engine, world.NEEDLES, community_id=built.community_id) == []


def test_the_detectors_go_on_from_the_rewritten_events(sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME)
    built = world.build(sessions, clock)
    with sessions() as s:
        community = s.get(Community, built.community_id)
        assert community is not None
        row = service.request(s, community, member=world.MEMBER, actor="test", actor_user_id=None,
                              remote_addr=None, clock=clock)
        s.commit()
        erasure_id = row.id
    # The first budget ends after one step: the erasure is handed back, then finished by a later run.
    assert service.run(sessions, erasure_id, clock=clock, budget_s=0.0) == "requested"
    assert service.run_to_end(sessions, erasure_id, clock=clock) == "done"
    from tests.governance.world import _events, _store

    with sessions() as s:
        community = s.get(Community, built.community_id)
        assert community is not None
        _store(s, community, _events(500, clock.now()), clock)
        s.commit()
    with sessions() as s:
        assert drain.drain(s, built.community_id, clock=clock).events == 27
        s.commit()
    # Her new events are new data: erasure removes what was stored, it does not block ingest.
    assert world.find(engine, (world.MESSAGE,)) != []


def test_it_refuses_while_containment_still_acts_on_the_member(
        sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    _engine, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME)
    built = world.build(sessions, clock)
    with sessions() as s:
        action = s.get(ContainmentAction, built.action_id)
        assert action is not None
        action.status = "applied"
        s.commit()
    with sessions() as s:
        community = s.get(Community, built.community_id)
        assert community is not None
        with pytest.raises(service.ErasureBlocked, match=f"actions {built.action_id} \\(ban, applied\\)"):
            service.request(s, community, member=world.MEMBER, actor="t", actor_user_id=None, remote_addr=None,
                            clock=clock)
    assert _erase(sessions, clock, built.community_id, force=True).status == "done"


@pytest.mark.parametrize(("member", "also", "message"), [
    ("", None, "member: must be the member's platform id"),
    ("x" * 256, None, "member: must be the member's platform id"),
    (42, None, "member: must be"),
    ("@a:hs", "Al", "also: must be a list"),
    ("@a:hs", ["ok", ""], r"also\[1\]: must be a non-empty string"),
])
def test_it_says_which_field_of_a_request_is_wrong(sqlite_db: tuple[Engine, sessionmaker[Session]], member: object,
                                                  also: object, message: str) -> None:
    _engine, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME)
    with sessions() as s:
        community = Community(slug="x", name="X", created_at=clock.now())
        s.add(community)
        s.flush()
        with pytest.raises(service.ErasureRefused, match=message):
            service.request(s, community, member=member, also=also, actor="t", actor_user_id=None,
                            remote_addr=None, clock=clock)


def test_it_takes_the_member_out_of_a_packed_parent_memory_and_writes_it_plain(
        sqlite_db: tuple[Engine, sessionmaker[Session]]) -> None:
    from crisis.detection.dispute import expanded
    from crisis.erasure.redact import Redactor
    from crisis.models import DetectorState
    from crisis.tenancy.communities import create_community

    _, sessions = sqlite_db
    clock = FixedClock(CURRENT_TIME)
    memory = {"general": {"@mallory:hs.test": [1.7e9, "you will all regret this, every one of you"],
                          "@u1:hs.test": [1.7e9 + 1, "calm down please"]}}
    packed = base64.b64encode(zlib.compress(json.dumps(memory).encode(), 1)).decode("ascii")
    with sessions() as s:
        community, _ = create_community(s, "packed", name=None, clock=clock)
        s.add(DetectorState(community_id=community.id, state={"dispute": {"recent_z": packed, "logs": {}}},
                            last_seq=0, updated_at=CURRENT_TIME, version=3))
        s.commit()
        cid = community.id
    redactor = Redactor(ids=["@mallory:hs.test"], texts=["you will all regret this, every one of you"],
                        tombstone="erased-7")
    with sessions() as s:
        assert service.scrub_detectors(s, cid, redactor) is True
        s.commit()
    version, state = world.detector_state(sessions, cid)
    assert version == 4 and "recent_z" not in state["dispute"]
    assert state["dispute"]["recent"]["general"] == {"erased-7": [1.7e9, ERASED],
                                                     "@u1:hs.test": [1.7e9 + 1, "calm down please"]}
    assert expanded(state["dispute"]) is state["dispute"]
