from __future__ import annotations

import re
import threading
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.jobs import entrypoints
from crisis.models import Incident, Notification, Schedule, TimelineEntry
from crisis.notify.deliver import deliver
from crisis.response import escalation, signals, steps
from crisis.runtime import Runtime
from tests.engine.conftest import World
from tests.engine.helpers import HttpReceiver


def open_raid(session: Session, world: World, clock: FixedClock, key: str = "raid:1") -> Incident:
    incident = signals.open_detected(session, world.community, episode_key=key, kind="raid", severity="sev2",
                                       title="Join surge", opened_at=clock.now(), evidence={}, score=5.0, scope="",
                                       clock=clock)
    assert incident is not None
    session.commit()
    return incident


def timeline(session: Session, incident: Incident) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(TimelineEntry.message).where(TimelineEntry.incident_id == incident.id)
                                .order_by(TimelineEntry.id)))


def drop_schedule(session: Session, name: str) -> None:
    session.delete(session.scalar(select(Schedule).where(Schedule.name == name)))
    session.commit()


def test_it_skips_an_empty_level_instead_of_waiting_it_out(session: Session, rt: Runtime, world: World,
                                                          clock: FixedClock, receiver: HttpReceiver) -> None:
    drop_schedule(session, "secondary")  # level 2 = secondary schedule + team channels: nobody
    incident = open_raid(session, world, clock)
    clock.advance(timedelta(minutes=5))
    assert escalation.fire_due(rt.sessions, clock=clock) == 1
    messages = timeline(session, incident)
    assert any(m.startswith("Escalation level 2 skipped: nobody to notify (no schedule named 'secondary'; "
                            "no enabled channel for 'team')") for m in messages)
    assert "Escalation level 3 fired: notifying Alice (webhook)" in messages
    # Level 3 fired at +5m, not at +5m+10m.
    assert [m.body["title"] for m in receiver.to("alice")][-1] == "[SEV2] Escalated (level 3): Join surge"


def test_it_skips_an_empty_first_level_at_open(session: Session, world: World, clock: FixedClock,
                                               receiver: HttpReceiver) -> None:
    drop_schedule(session, "primary")
    incident = open_raid(session, world, clock)
    messages = timeline(session, incident)
    assert any(m.startswith("Escalation level 1 skipped: nobody to notify (no schedule named 'primary')")
               for m in messages)
    assert [m.body["title"] for m in receiver.to("bob")] == ["[SEV2] Escalated (level 2): Join surge"]


def test_it_repeats_then_finishes(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                  receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    for minutes in (5, 10, 15, 5, 10):  # levels 2, 3, repeat → level 1, 2, 3
        clock.advance(timedelta(minutes=minutes))
        assert escalation.fire_due(rt.sessions, clock=clock) == 1
    assert "Escalation finished: every level has fired" in timeline(session, incident)
    clock.advance(timedelta(hours=1))
    assert escalation.fire_due(rt.sessions, clock=clock) == 0


def test_it_fires_each_step_exactly_once_when_two_sweepers_race(session: Session, rt: Runtime, world: World,
                                                                clock: FixedClock) -> None:
    opened = [open_raid(session, world, clock, key=f"raid:{i}").id for i in range(12)]
    clock.advance(timedelta(minutes=5))
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def sweeper() -> None:
        barrier.wait()
        fired.append(escalation.fire_due(rt.sessions, clock=clock))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a sweeper did not finish"
    assert sum(fired) == len(opened)
    per_incident = dict(session.execute(
        select(Notification.incident_id, func.count()).where(Notification.event == "escalated")
        .group_by(Notification.incident_id)).all())
    assert per_incident == {incident_id: 1 for incident_id in opened}


def test_it_retries_transient_failures_with_backoff(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                                    receiver: HttpReceiver) -> None:
    receiver.fail("alice", 2)
    incident = open_raid(session, world, clock)  # attempt 1 inline: 503
    row = session.scalar(select(Notification).where(Notification.incident_id == incident.id))
    assert row is not None and (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=2)
    assert deliver(rt.sessions, row.id, clock=clock).outcome == "skipped"  # not due yet
    clock.advance(timedelta(seconds=2))
    assert deliver(rt.sessions, row.id, clock=clock).outcome == "retry"
    clock.advance(timedelta(seconds=5))
    assert entrypoints.sweep()["notifications_due"] == 1  # the sweeper delivers what is due
    session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert len(receiver.to("alice")) == 1
    assert deliver(rt.sessions, row.id, clock=clock).outcome == "skipped"  # sent once, never again
    messages = timeline(session, incident)
    assert any(m.startswith("Attempt 1 of opened notification to Alice (webhook) failed: ") and
               m.endswith("retrying in 2s") for m in messages)
    assert "Sent opened notification to Alice (webhook)" in messages


def test_it_fails_permanent_errors_at_once(session: Session, world: World, clock: FixedClock,
                                           receiver: HttpReceiver) -> None:
    receiver.statuses["/alice"] = 404
    incident = open_raid(session, world, clock)
    row = session.scalar(select(Notification).where(Notification.incident_id == incident.id))
    assert row is not None and (row.status, row.attempts) == ("failed", 1)
    assert "error=404" in row.last_error
    assert any(m.startswith("Failed opened notification to Alice (webhook) (permanent error)")
               for m in timeline(session, incident))


def test_it_acknowledges_from_the_link_on_post_only(client: FlaskClient, session: Session, world: World,
                                                    clock: FixedClock, receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    link = re.search(r"https?://\S+/ack/\S+", receiver.to("alice")[0].body["message"])
    assert link is not None
    path = "/ack/" + link.group(0).split("/ack/", 1)[1]
    page = client.get(path)  # what a mail scanner or link preview does
    assert page.status_code == 200 and b"Acknowledge as Alice" in page.data
    session.expire_all()
    assert session.get(Incident, incident.id).status == "triggered"  # type: ignore[union-attr]
    done = client.post(path)
    assert done.status_code == 200 and b"Thank you, Alice" in done.data
    session.expire_all()
    assert session.get(Incident, incident.id).status == "acknowledged"  # type: ignore[union-attr]
    entry = session.scalar(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                       TimelineEntry.kind == "status"))
    assert entry is not None and entry.actor == "Alice" and entry.actor_user_id == world.alice.id
    assert entry.data["via"] == "link"
    assert client.post(path).status_code == 409
    assert client.get(path[:-3] + "xyz").status_code == 404
    clock.advance(timedelta(hours=25))
    assert client.get(path).status_code == 410


def test_it_notifies_an_overdue_task_once(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                          receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    clock.advance(timedelta(minutes=6))  # "contain" is due at +5m
    assert steps.notify_overdue(rt.sessions, clock=clock) == 1
    assert steps.notify_overdue(rt.sessions, clock=clock) == 0
    overdue = [m.body["title"] for m in receiver.to("alice") if m.body["title"].startswith("Overdue")]
    assert overdue == ["Overdue task on Join surge: Close the door (reversible)"]
    assert "Task 'Close the door (reversible)' is overdue; notified Alice (webhook)" in timeline(session, incident)
