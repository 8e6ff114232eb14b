"""Fault drills on the production topology: nothing accepted is lost, nothing is doubled."""
from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import func, select

from crisis.clock import SystemClock
from crisis.db import session_scope
from crisis.models import Channel, Community, EventBatch, EventId, Incident, Notification
from tests.engine.helpers import HttpReceiver
from tests.live import WorkerProcess, wait_for
from tests.ops import topology
from tests.ops.test_topology import _post_in_batches, _replayed

pytestmark = pytest.mark.redis


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _log_channel(topo: topology.Topology, slug: str, url: str) -> None:
    with session_scope(topo.sessions) as session:
        community = session.scalar(select(Community).where(Community.slug == slug))
        session.add(Channel(community_id=community.id, name="modlog", purpose="log", url=url,
                            created_at=SystemClock().now()))


def _log_rows(topo: topology.Topology) -> int:
    """Notification rows written for the log channel: what the receiver must get, once each."""
    with topo.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.channel_id.is_not(None))) or 0)


def _unique_incidents(topo: topology.Topology) -> None:
    with topo.sessions() as s:
        keys = s.scalars(select(Incident.episode_key)).all()
    assert len(keys) == len(set(keys))


def test_it_loses_and_doubles_nothing_when_a_worker_is_killed_mid_batch(
        start_topology: Callable[..., topology.Topology], tmp_path: Path) -> None:
    topo = start_topology(rq_workers=1)
    token = topo.community("harbor")
    events = topology.stream_events("harbor", hours=8)
    worker = topo.workers[0]
    assert worker.proc is not None
    os.kill(worker.proc.pid, signal.SIGSTOP)  # hold detection until the whole stream is stored
    try:
        _post_in_batches(topo, "harbor", token, events, size=1000)
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)
    # The worker runs detect jobs in its own process (crisis.jobs.worker.CrisisWorker): kill it
    # while rq says it is busy and the events are not all consumed.
    bus = redis_lib.Redis.from_url(topo.redis.url)
    wait_for(lambda: bus.hget(f"rq:worker:{worker.name}", "state") == b"busy", timeout=20, interval=0.005,
             message="the worker to start a detect job")
    time.sleep(0.05)
    assert topo.pending() > 0, "the batch finished before the kill; the drill needs a longer stream"
    for pid in [*_children(worker.proc.pid), worker.proc.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.proc.wait()
    replacement = WorkerProcess(topo.config, name="w9").start()
    topo.workers.append(replacement)
    topo.wait_processed()
    assert topo.stored() == len(events)
    assert sorted(topo.incidents()) == _replayed(tmp_path, events)
    _unique_incidents(topo)


def test_it_delivers_detection_and_notifications_once_across_a_redis_restart(
        start_topology: Callable[..., topology.Topology], receiver: HttpReceiver, tmp_path: Path) -> None:
    """Redis is the doorbell, not the record: events and notification rows stored while it is
    down are found by the sweeper once it is back (escalation timers are swept the same way)."""
    topo = start_topology(rq_workers=2)
    token = topo.community("harbor")
    _log_channel(topo, "harbor", receiver.url("modlog"))
    events = topology.stream_events("harbor", hours=2)
    half = len(events) // 2
    _post_in_batches(topo, "harbor", token, events[:half])
    topo.redis.stop()
    _post_in_batches(topo, "harbor", token, events[half:])  # accepted: the database is the record
    time.sleep(2)
    topo.redis.start()
    topo.wait_processed(timeout=120)
    expected = _replayed(tmp_path, events)
    assert sorted(topo.incidents()) == expected
    rows = _log_rows(topo)  # one per incident opened, plus one per severity raise
    assert rows >= len(expected)
    wait_for(lambda: len(receiver.to("modlog")) >= rows, timeout=60,
             message="every log-channel notification")
    time.sleep(3)  # a few more sweeps: nothing may be sent twice
    assert len(receiver.to("modlog")) == rows


def test_it_delivers_once_to_a_receiver_that_was_down(
        start_topology: Callable[..., topology.Topology], receiver: HttpReceiver) -> None:
    """The receiver answers 503 to the first two attempts (about 7 s with the shipped
    2 s, 5 s backoff), then recovers: the message arrives once."""
    topo = start_topology(rq_workers=2)
    token = topo.community("harbor")
    _log_channel(topo, "harbor", receiver.url("modlog"))
    receiver.fail("modlog", 2)
    events = topology.stream_events("harbor", hours=2)
    _post_in_batches(topo, "harbor", token, events)
    topo.wait_processed()
    opened = len(topo.incidents())
    assert opened >= 1
    rows = _log_rows(topo)
    assert rows >= opened
    wait_for(lambda: len(receiver.to("modlog")) >= rows, timeout=60, message="delivery after recovery")
    time.sleep(3)
    assert len(receiver.to("modlog")) == rows
    with topo.sessions() as s:
        attempts = s.scalars(select(Notification.attempts).where(Notification.status == "sent")).all()
    assert max(attempts) >= 2


def _set_connections(topo: topology.Topology, allowed: bool) -> None:
    url = topo.config.database_url.replace("postgresql+psycopg://", "postgresql://")
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')
        if not allowed:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def test_it_answers_503_with_retry_after_while_the_database_is_down(
        start_topology: Callable[..., topology.Topology]) -> None:
    topo = start_topology(rq_workers=1)
    token = topo.community("harbor")
    events = topology.stream_events("harbor", hours=0.5, raid=False)
    _set_connections(topo, False)
    try:
        down = topo.post("harbor", token, events)
    finally:
        _set_connections(topo, True)
    assert down.status == 503, down.body
    assert int(down.headers["Retry-After"]) >= 1
    assert down.body["error"] == "database_unavailable"
    retry = topo.post("harbor", token, events)
    assert retry.status == 202 and retry.body["accepted"] == len(events)
    again = topo.post("harbor", token, events)
    assert again.body == {"accepted": 0, "duplicates": len(events)}
    topo.wait_processed()
    assert topo.stored() == len(events)


def test_it_stores_and_detects_once_when_events_come_twice_and_out_of_order(
        start_topology: Callable[..., topology.Topology], tmp_path: Path) -> None:
    topo = start_topology(rq_workers=2)
    token = topo.community("harbor")
    events = topology.stream_events("harbor", hours=3)
    rng = random.Random(3)
    # Out of order within a few seconds of event time (what a client retrying in parallel
    # produces), and every batch sent twice, the second time overlapping the next one.
    jittered = sorted(events, key=lambda e: e["ts"][:18] + str(rng.random()))
    for start in range(0, len(jittered), 100):
        first = topo.post("harbor", token, jittered[start:start + 100])
        assert first.status == 202, first.body
        second = topo.post("harbor", token, jittered[max(0, start - 50):start + 100])
        assert second.status == 202 and second.body["accepted"] == 0
    topo.wait_processed()
    assert topo.stored() == len(events)
    with topo.sessions() as s:
        assert s.scalar(select(func.count()).select_from(EventId)) == len(events)
        assert s.scalar(select(func.sum(EventBatch.count))) == len(events)  # the log holds each once
    assert sorted(topo.incidents()) == _replayed(tmp_path, events)
    _unique_incidents(topo)


def _escalation_drill_staff(topo: topology.Topology, slug: str,
                            receiver: HttpReceiver) -> tuple[str, dict[str, int]]:
    """alice (admin) and bob (responder), each reachable at the receiver: alice's personal
    token and each one's contact method id."""
    from crisis.models import ContactMethod
    from crisis.tenancy import communities

    clock = SystemClock()
    with session_scope(topo.sessions) as session:
        community = session.scalar(select(Community).where(Community.slug == slug))
        ids = {}
        for name, role in (("alice", "admin"), ("bob", "responder")):
            user, _ = communities.create_user(session, f"{name}@example.test", password=None, clock=clock,
                                              display_name=name.title())
            communities.grant_role(session, user, community, role)
            method = ContactMethod(user_id=user.id, label="webhook", url=receiver.url(name), created_at=clock.now())
            session.add(method)
            session.flush()
            ids[name] = (user, method.id)
        token = communities.issue_personal_token(session, ids["alice"][0], clock=clock).token
    return token, {name: method_id for name, (_, method_id) in ids.items()}


def _scheduled_jobs(topo: topology.Topology) -> int:
    from redis import Redis
    from rq.registry import ScheduledJobRegistry

    from crisis.jobs import names

    with Redis.from_url(topo.redis.url) as redis:
        return len(ScheduledJobRegistry(names.DEFAULT_QUEUE, connection=redis))


def test_it_fires_a_pending_escalation_once_across_a_redis_restart(
        start_topology: Callable[..., topology.Topology], receiver: HttpReceiver) -> None:
    """Level 1 fires as the incident opens and schedules level 2 in rq, six seconds on.
    Redis restarts (without persistence) in between: the scheduled job is gone, and the
    sweeper fires level 2 from the timer row, once, with one delivery."""
    from crisis.models import EscalationTimer

    level2_after = 6.0
    topo = start_topology(rq_workers=2)
    topo.community("harbor")
    token, methods = _escalation_drill_staff(topo, "harbor", receiver)
    spec = topology.http("GET", f"{topo.web.url}/api/v1/playbooks/raid/versions/2", token=token).body["spec"]
    spec["escalation"] = {"levels": [{"after": "0s", "notify": [{"user": "alice@example.test"}]},
                                     {"after": f"{level2_after:.0f}s", "notify": [{"user": "bob@example.test"}]}],
                          "repeat": {"times": 0, "after": "0s"}}
    published = topology.http("POST", f"{topo.web.url}/api/v1/playbooks/raid/versions", token=token,
                              body={"spec": spec, "comment": "second-scale escalation for the Redis drill"})
    assert published.status == 201, published.body
    opened = topology.http("POST", f"{topo.web.url}/api/v1/incidents", token=token, body={
        "community": "harbor", "kind": "raid", "severity": "sev2", "title": "Raid during a Redis restart"})
    assert opened.status == 201, opened.body
    opened_at = time.monotonic()
    incident_id = opened.body["id"]
    assert opened.body["playbook"] == {"name": "raid", "version": published.body["version"]}

    wait_for(lambda: receiver.to("alice"), timeout=20, message="level 1 to alice")
    assert _scheduled_jobs(topo) >= 1, "level 2 should be waiting in rq's scheduled registry"
    with topo.sessions() as s:
        timer = s.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident_id))
        assert timer is not None and (timer.status, timer.level) == ("pending", 1), "level 2 is pending"
    assert time.monotonic() - opened_at < level2_after - 1.5, "too slow to restart Redis before level 2 is due"

    topo.redis.restart()
    assert _scheduled_jobs(topo) == 0, "the restart (no persistence) lost the scheduled job"
    assert not receiver.to("bob")

    [bob] = wait_for(lambda: receiver.to("bob"), timeout=30, message=f"level 2 to bob; logs:\n{topo.logs()}")
    assert bob.at - opened_at >= level2_after - 0.5, "level 2 may not fire before its delay"
    assert "Escalated (level 2)" in bob.body["title"]
    time.sleep(4)  # several sweeps by both workers: nothing may fire or send twice
    assert len(receiver.to("bob")) == 1 and len(receiver.to("alice")) == 1
    with topo.sessions() as s:
        rows = s.execute(select(Notification.destination, Notification.event, Notification.status)
                         .where(Notification.incident_id == incident_id)
                         .where(Notification.contact_method_id.is_not(None))).all()
        timer = s.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident_id))
    # One row per target and level: level 1 is alice's "opened" page, level 2 bob's "escalated".
    assert sorted(tuple(r) for r in rows) == sorted([(f"cm:{methods['alice']}", "opened", "sent"),
                                                     (f"cm:{methods['bob']}", "escalated", "sent")]), rows
    assert timer is not None and timer.status == "exhausted" and timer.fired_count == 2
    for worker in topo.workers:
        assert worker.proc is not None and worker.proc.poll() is None, topo.logs()
