from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import EscalationTimer, Incident, Notification, Task, TimelineEntry
from crisis.response import escalation, lifecycle, signals
from crisis.response.states import ACTIONS, TRANSITIONS, IncidentStatus, InvalidTransition, check_transition
from crisis.runtime import Runtime
from tests.engine.conftest import World
from tests.engine.helpers import HttpReceiver

S = IncidentStatus
ALL = list(IncidentStatus)


def open_raid(session: Session, world: World, clock: FixedClock, severity: str = "sev2") -> Incident:
    incident = signals.open_detected(session, world.community, episode_key=f"raid:{clock.now().isoformat()}",
                                       kind="raid", severity=severity, title="Join surge with spam",
                                       opened_at=clock.now(), evidence={"joins": 40}, score=9.0, scope="#general",
                                       clock=clock)
    assert incident is not None
    session.commit()
    return incident


@pytest.mark.parametrize("old,new", [(o, n) for o in ALL for n in ALL])
def test_it_checks_every_transition_against_the_table(old: S, new: S) -> None:
    if new in TRANSITIONS[old]:
        assert check_transition(old, new) == new
    else:
        with pytest.raises(InvalidTransition, match=f"from {old.value} to {new.value}"):
            check_transition(old, new)


def test_it_maps_every_action_to_a_status() -> None:
    assert ACTIONS == {"acknowledge": S.ACKNOWLEDGED, "mitigate": S.MITIGATED, "resolve": S.RESOLVED,
                       "reopen": S.TRIGGERED}


def test_it_starts_the_pinned_playbook_when_a_detector_opens(session: Session, world: World, clock: FixedClock,
                                                             receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    assert (incident.playbook_name, incident.playbook_version) == ("raid", 2)
    assert incident.owner_id == world.alice.id  # commander: on call in the primary schedule
    steps = session.scalars(select(Task.step_id).where(Task.incident_id == incident.id).order_by(Task.position))
    assert list(steps) == ["contain", "preserve-evidence", "ban-raiders", "clean-up", "tell-members", "report-platform",
                           "restore"]
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    assert timer is not None and timer.level == 1 and timer.due_at == clock.now() + timedelta(minutes=5)
    # sync_jobs delivers inline after commit: level 1 (alice) got the opened message with a link.
    [message] = receiver.to("alice")
    assert message.body["title"] == "[SEV2] Lantern: Join surge with spam"
    assert "/ack/" in message.body["message"]
    kinds = [e.kind for e in session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id)
                                             .order_by(TimelineEntry.id))]
    assert kinds[:7] == ["opened", "playbook", "assign", "containment", "containment", "escalation", "escalation"]
    assert "notification" in kinds


def test_it_fires_level_two_when_nobody_acknowledges(session: Session, rt: Runtime, world: World,
                                                     clock: FixedClock, receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    assert escalation.fire_due(rt.sessions, clock=clock) == 0  # not due yet
    clock.advance(timedelta(minutes=5))
    assert escalation.fire_due(rt.sessions, clock=clock) == 1
    assert [m.body["title"] for m in receiver.to("bob")] == ["[SEV2] Escalated (level 2): Join surge with spam"]
    assert escalation.fire_due(rt.sessions, clock=clock) == 0  # exactly once
    session.expire_all()
    assert session.get(Incident, incident.id) is not None


def test_it_stops_escalating_on_acknowledge(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                            receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    lifecycle.transition(session, incident.id, S.ACKNOWLEDGED, actor=lifecycle.Actor.of(world.bob), clock=clock)
    session.commit()
    clock.advance(timedelta(hours=2))
    assert escalation.fire_due(rt.sessions, clock=clock) == 0
    assert receiver.to("bob") == []
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    assert timer is not None and timer.status == "stopped"
    assert incident.acknowledged_at == clock.now() - timedelta(hours=2)


def test_it_rearms_escalation_on_reopen(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                        receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock)
    lifecycle.transition(session, incident.id, S.RESOLVED, actor=lifecycle.Actor.of(world.alice), clock=clock,
                         confirm=True)  # its detector episode is still open
    session.commit()
    clock.advance(timedelta(hours=1))
    lifecycle.transition(session, incident.id, S.TRIGGERED, actor=lifecycle.Actor.of(world.alice), clock=clock)
    session.commit()
    assert [m.body["title"] for m in receiver.to("alice")][-1] == "[SEV2] Reopened: Join surge with spam"
    assert incident.resolved_at is None
    clock.advance(timedelta(minutes=5))
    assert escalation.fire_due(rt.sessions, clock=clock) == 1


def test_it_refuses_an_illegal_move_and_changes_nothing(session: Session, world: World, clock: FixedClock) -> None:
    incident = open_raid(session, world, clock)
    lifecycle.transition(session, incident.id, S.ACKNOWLEDGED, actor=lifecycle.Actor.of(world.bob), clock=clock)
    session.commit()
    before = session.scalar(select(TimelineEntry.id).order_by(TimelineEntry.id.desc()).limit(1))
    with pytest.raises(InvalidTransition):
        lifecycle.transition(session, incident.id, S.TRIGGERED, actor=lifecycle.Actor.of(world.bob), clock=clock)
    session.rollback()
    assert session.get(Incident, incident.id).status == "acknowledged"  # type: ignore[union-attr]
    assert session.scalar(select(TimelineEntry.id).order_by(TimelineEntry.id.desc()).limit(1)) == before


def test_it_requires_a_postmortem_for_serious_incidents(session: Session, world: World, clock: FixedClock,
                                                        receiver: HttpReceiver) -> None:
    incident = open_raid(session, world, clock, severity="sev1")
    lifecycle.transition(session, incident.id, S.RESOLVED, actor=lifecycle.Actor.of(world.alice), clock=clock,
                         confirm=True)  # its detector episode is still open
    session.commit()
    task = session.scalar(select(Task).where(Task.incident_id == incident.id, Task.step_id == "postmortem"))
    assert task is not None and "## Impact on members" in task.instructions
    assert receiver.to("alice")[-1].body["title"] == "Postmortem needed: Join surge with spam"


def test_it_writes_notifications_in_the_same_transaction(session: Session, world: World, clock: FixedClock) -> None:
    incident = signals.open_detected(session, world.community, episode_key="raid:x", kind="raid", severity="sev2",
                                       title="t", opened_at=clock.now(), evidence={}, score=1.0, scope="",
                                       clock=clock)
    assert incident is not None
    pending = session.scalars(select(Notification).where(Notification.incident_id == incident.id)).all()
    assert [n.status for n in pending] == ["pending"]
    session.rollback()  # nothing of it survives, and nothing was sent
    assert session.scalar(select(Notification.id)) is None
