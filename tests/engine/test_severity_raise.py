"""A detector raising an open incident's severity reaches whoever holds it, at once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.models import Incident, Notification
from crisis.response import escalation, lifecycle, signals
from crisis.response.states import IncidentStatus
from crisis.runtime import Runtime
from tests.engine.conftest import World
from tests.engine.test_escalation import open_raid, timeline


def raise_to(session: Session, incident: Incident, severity: str, clock: FixedClock) -> bool:
    raised = signals.update_detected(session, incident, severity=severity, title="Join surge, second wave",
                                       observed_at=clock.now(), evidence={}, score=9.0, scope="", clock=clock)
    session.commit()
    return raised


def raise_notices(session: Session, incident: Incident) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.incident_id == incident.id,
                                                            Notification.event == "severity_raised")
                                .order_by(Notification.id)))


def test_it_pages_the_level_being_paged_with_an_ack_link_when_nobody_has_acknowledged(
        session: Session, world: World, clock: FixedClock) -> None:
    incident = open_raid(session, world, clock)  # sev2; level 1 (primary: alice) paged at open
    clock.advance(timedelta(minutes=2))
    assert raise_to(session, incident, "sev1", clock)
    to_people = [n for n in raise_notices(session, incident) if n.recipient_user_id is not None]
    assert [n.recipient_user_id for n in to_people] == [world.alice.id]
    assert to_people[0].title == "[SEV1] Worse: Join surge, second wave"
    assert "/ack/" in to_people[0].body and "from sev2 to sev1" in to_people[0].body
    assert any(m.startswith("Severity raise sent to Alice") for m in timeline(session, incident))


def test_it_pages_the_level_that_escalated_last(session: Session, rt: Runtime, world: World,
                                                clock: FixedClock) -> None:
    incident = open_raid(session, world, clock)
    clock.advance(timedelta(minutes=5))
    assert escalation.fire_due(rt.sessions, clock=clock) == 1  # level 2: secondary (bob) + team
    assert raise_to(session, incident, "sev1", clock)
    assert [n.recipient_user_id for n in raise_notices(session, incident) if n.recipient_user_id] == [world.bob.id]


def test_it_tells_the_commander_once_the_incident_is_taken(session: Session, world: World,
                                                           clock: FixedClock) -> None:
    incident = open_raid(session, world, clock)
    lifecycle.transition(session, incident.id, IncidentStatus.ACKNOWLEDGED, actor=lifecycle.Actor.of(world.bob),
                         clock=clock)
    session.commit()
    commander = session.get(Incident, incident.id).owner_id  # type: ignore[union-attr]
    assert commander is not None
    assert raise_to(session, incident, "sev1", clock)
    notices = [n for n in raise_notices(session, incident) if n.recipient_user_id]
    assert [n.recipient_user_id for n in notices] == [commander]
    assert "/ack/" not in notices[0].body  # taken already: nothing to acknowledge


def test_it_stays_quiet_when_a_wave_is_no_worse(session: Session, world: World, clock: FixedClock) -> None:
    incident = open_raid(session, world, clock)
    assert not raise_to(session, incident, "sev2", clock)
    assert not raise_to(session, incident, "sev3", clock)
    assert raise_notices(session, incident) == []
