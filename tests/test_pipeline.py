"""Stored events → detectors → incidents, through the ingest API, with restarts."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from crisis import runtime
from crisis.app import create_app
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.demo import DemoStream
from crisis.models import DetectorState, Incident
from tests.conftest import CURRENT_TIME, Factory


def demo_stream() -> list[dict[str, Any]]:
    stream = DemoStream("lantern", seed=3)
    start = CURRENT_TIME - timedelta(hours=4)
    history = list(stream.span(start, start + timedelta(hours=3), per_minute=60))
    raid_at = start + timedelta(hours=3, minutes=5)
    tail = list(stream.span(start + timedelta(hours=3), start + timedelta(hours=3, minutes=30), per_minute=60))
    return sorted(history + tail + stream.raid(raid_at, size=60), key=lambda e: e["ts"])


def post_in_batches(client: FlaskClient, token: str, events: list[dict[str, Any]], batch: int = 400) -> None:
    for i in range(0, len(events), batch):
        resp = client.post("/api/v1/communities/lantern/events", json=events[i:i + batch],
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 202, resp.get_json()


def incidents(app_config: Config) -> list[tuple[str, str]]:
    app = create_app(app_config, clock=FixedClock(CURRENT_TIME))
    with app.extensions["crisis"].sessions() as s:
        rows = s.scalars(select(Incident).order_by(Incident.opened_at)).all()
        result = [(i.kind, i.opened_at.isoformat()) for i in rows]
    runtime.reset()
    return result


def test_it_opens_one_raid_incident_from_posted_events(client: FlaskClient, factory: Factory,
                                                       config: Config) -> None:
    tenant = factory.community("lantern")
    post_in_batches(client, tenant.token, demo_stream())
    found = incidents(config)
    assert [kind for kind, _ in found] == ["raid"]


def test_it_resumes_from_the_checkpoint_after_a_restart(tmp_path: Path, migrated_template: Path,
                                                        config: Config, factory: Factory) -> None:
    """Half the stream, a new process (new app, new runtime), the other half: same incidents
    as one uninterrupted run, because the detectors' baselines come back from the checkpoint."""
    events = demo_stream()
    tenant = factory.community("lantern")
    whole = create_app(config, clock=FixedClock(CURRENT_TIME)).test_client()
    post_in_batches(whole, tenant.token, events)
    runtime.reset()
    uninterrupted = incidents(config)

    import shutil

    other_path = tmp_path / "restarted.db"
    shutil.copy(migrated_template, other_path)
    other = replace(config, database_url=f"sqlite:///{other_path}")
    first = create_app(other, clock=FixedClock(CURRENT_TIME))
    with first.extensions["crisis"].sessions() as s:
        other_tenant = Factory(s, FixedClock(CURRENT_TIME)).community("lantern")
    half = len(events) // 2
    post_in_batches(first.test_client(), other_tenant.token, events[:half])
    with first.extensions["crisis"].sessions() as s:
        assert s.scalar(select(DetectorState)) is not None
    runtime.reset()
    second = create_app(other, clock=FixedClock(CURRENT_TIME))
    post_in_batches(second.test_client(), other_tenant.token, events[half:])
    runtime.reset()
    assert incidents(other) == uninterrupted
    assert uninterrupted, "the stream must open an incident for this test to mean anything"


def _stored_demo(session: Any, factory: Factory) -> int:
    from crisis.ingest.store import store_events
    from crisis.ingest.validate import validate_batch

    tenant = factory.community("lantern")
    valid, errors = validate_batch(demo_stream(), "lantern", CURRENT_TIME)
    assert not errors
    for start in range(0, len(valid), 100):  # as ingest requests of 100 events would
        store_events(session, tenant.community, valid[start:start + 100], clock=FixedClock(CURRENT_TIME))
    session.commit()
    return tenant.community.id


def test_a_drain_checkpoints_once_for_many_batches_and_opens_what_batch_by_batch_opens(
        session: Any, factory: Factory) -> None:
    from crisis.ingest import backlog
    from crisis.response import drain

    cid = _stored_demo(session, factory)
    clock = FixedClock(CURRENT_TIME)
    transactions = 0
    while True:  # the reference: one batch, one checkpoint per transaction
        outcome = drain.process_pending(session, cid, clock=clock, limit=4)  # 400 events
        session.commit()
        if outcome.events == 0:
            break
        transactions += 1
    reference = [(i.kind, i.opened_at) for i in session.scalars(select(Incident).order_by(Incident.id))]
    assert reference and transactions > 3
    state = session.get(DetectorState, cid)
    assert state is not None and state.version == transactions

    # Same stream again, drained: far fewer checkpoints, the same incidents.
    session.execute(Incident.__table__.delete())
    session.execute(DetectorState.__table__.delete())
    session.commit()
    session.expunge_all()
    drains = 0
    while True:
        outcome = drain.drain(session, cid, clock=clock, limit=4, max_seconds=60)
        session.commit()
        if outcome.events == 0:
            break
        drains += 1
    assert [(i.kind, i.opened_at) for i in session.scalars(select(Incident).order_by(Incident.id))] == reference
    assert backlog.pending_count(session) == 0
    # A drain ends early only after a batch that wrote incidents (opened or updated one).
    assert 1 < drains and drains * 2 < transactions
    session.expire_all()
    assert session.get(DetectorState, cid).version == drains
