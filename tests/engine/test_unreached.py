"""Escalation that reaches nobody: the incident is marked once, says so on its page, counts
in the metrics, and its community's admins get a fallback page through the outbox; an
escalation that delivered a page, or an incident someone took, is left alone."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.jobs import entrypoints
from crisis.models import ContactMethod, EscalationTimer, Incident, Notification, User
from crisis.notify import unreached
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus
from crisis.runtime import Runtime
from tests.conftest import Factory
from tests.engine.conftest import World, add_contact
from tests.engine.helpers import HttpReceiver
from tests.engine.test_escalation import open_raid, timeline
from tests.ops.test_metrics import _sample
from tests.web.conftest import PASSWORD, login


@pytest.fixture
def ada(session: Session, factory: Factory, world: World, receiver: HttpReceiver, clock: FixedClock) -> User:
    """The community's admin, with a contact method of her own."""
    user = factory.staff("ada@example.test", world.community, "admin", password=PASSWORD).user
    user.display_name = "Ada"
    add_contact(session, user, receiver.url("ada"), clock)
    return user


@pytest.fixture(autouse=True)
def primary_only(session: Session, world: World, clock: FixedClock) -> None:
    """A raid playbook that pages the primary on-call and nobody else, once: the admins are
    not in its escalation, so the fallback is the only way they hear."""
    spec = dict(playbooks.latest(session, "raid").spec)  # type: ignore[union-attr]
    spec["escalation"] = {"levels": [{"after": "0m", "notify": [{"schedule": "primary"}]}],
                          "repeat": {"times": 0, "after": "0m"}}
    playbooks.create_version(session, "raid", spec, clock=clock, user_id=None)
    session.commit()


def _staff_unreachable(session: Session, world: World) -> None:
    session.execute(delete(ContactMethod).where(ContactMethod.user_id == world.alice.id))
    session.commit()


def _timer(session: Session, incident: Incident) -> EscalationTimer:
    session.expire_all()
    timer = session.scalar(select(EscalationTimer).where(EscalationTimer.incident_id == incident.id))
    assert timer is not None
    return timer


def test_nobody_at_any_level_pages_the_admins_at_once(session: Session, world: World, ada: User,
                                                      clock: FixedClock, receiver: HttpReceiver,
                                                      client: FlaskClient) -> None:
    _staff_unreachable(session, world)
    incident = open_raid(session, world, clock)
    timer = _timer(session, incident)
    assert timer.status == "exhausted" and timer.unreached_at == clock.now() and timer.unreached_count == 1
    messages = timeline(session, incident)
    assert "Escalation finished: nobody to notify at any level" in messages
    assert "Nobody was reached: escalation ended and no level resolved to anyone with a contact method" in messages
    assert "Fallback to the community's admins: Ada (webhook)" in messages
    [page] = receiver.to("ada")
    assert page.body["title"] == "[SEV2] Nobody was reached: Join surge"
    assert "you are an admin of Lantern" in page.body["message"] and "/ack/" in page.body["message"]
    login(client, ada.email)
    html = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert 'id="unreached"' in html and "Nobody was reached" in html and "1 of 1 delivered so far" in html


def test_when_every_page_fails_the_last_failure_pages_the_admins(session: Session, rt: Runtime, world: World,
                                                                ada: User, clock: FixedClock,
                                                                receiver: HttpReceiver) -> None:
    receiver.statuses["/alice"] = 404  # permanent: the page fails at its first attempt
    incident = open_raid(session, world, clock)
    timer = _timer(session, incident)
    assert timer.status == "exhausted" and timer.unreached_count == 1
    pages = session.scalars(select(Notification.status).where(
        Notification.incident_id == incident.id, Notification.cause.startswith(f"inc{incident.id}:esc:"))).all()
    assert pages and set(pages) == {"failed"}
    assert any(m.startswith(f"Nobody was reached: escalation ended and all {len(pages)} page(s) failed")
               for m in timeline(session, incident))
    assert [m.body["title"] for m in receiver.to("ada")] == ["[SEV2] Nobody was reached: Join surge"]


def test_a_delivered_page_or_a_taken_incident_is_not_unreached(session: Session, rt: Runtime, world: World,
                                                              ada: User, clock: FixedClock,
                                                              receiver: HttpReceiver) -> None:
    reached = open_raid(session, world, clock, key="raid:reached")
    assert _timer(session, reached).status == "exhausted" and _timer(session, reached).unreached_at is None
    _staff_unreachable(session, world)
    taken = open_raid(session, world, clock, key="raid:taken")  # exhausts at once, marked at once...
    assert _timer(session, taken).unreached_at is not None
    lifecycle.transition(session, taken.id, IncidentStatus.ACKNOWLEDGED, actor=lifecycle.Actor(ada.id, "Ada"),
                         clock=clock)
    session.commit()
    # ...and a check after someone took it (the sweeper's, say) does nothing more.
    assert not unreached.check(session, session.get_one(Incident, taken.id), now=clock.now())
    assert len([m for m in receiver.to("ada") if "Nobody was reached" in m.body["title"]]) == 1


def test_the_sweeper_marks_one_that_two_racing_deliveries_missed(session: Session, rt: Runtime, world: World,
                                                                 ada: User, clock: FixedClock,
                                                                 receiver: HttpReceiver,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.statuses["/alice"] = 404
    # Each failing delivery saw the other still sending: neither noticed the end.
    monkeypatch.setattr("crisis.notify.deliver.unreached.check", lambda *a, **k: False)
    incident = open_raid(session, world, clock)
    assert _timer(session, incident).unreached_at is None
    monkeypatch.undo()
    assert entrypoints.sweep()["unreached_marked"] == 1
    assert entrypoints.sweep()["unreached_marked"] == 0, "marked once"
    assert _timer(session, incident).unreached_count == 1
    assert len(receiver.to("ada")) == 1


def test_reopening_arms_a_new_round_and_the_counter_keeps_counting(session: Session, rt: Runtime, world: World,
                                                                   ada: User, clock: FixedClock,
                                                                   client: FlaskClient) -> None:
    _staff_unreachable(session, world)
    incident = open_raid(session, world, clock)
    actor = lifecycle.Actor(ada.id, "Ada")
    # Resolved a moment after the raid's signal, so the responder confirms over the detector.
    lifecycle.transition(session, incident.id, IncidentStatus.RESOLVED, actor=actor, clock=clock, confirm=True)
    session.commit()
    clock.advance(timedelta(minutes=1))
    lifecycle.transition(session, incident.id, IncidentStatus.TRIGGERED, actor=actor, clock=clock)
    session.commit()
    timer = _timer(session, incident)
    assert timer.unreached_count == 2 and timer.unreached_at == clock.now(), "the reopened round reached nobody too"
    assert session.query(Notification).filter_by(incident_id=incident.id, event="unreached").count() == 2
    metrics = client.get("/metrics").get_data(as_text=True)
    assert _sample(metrics, "crisis_escalations_unreached_total") == 2
    assert _sample(metrics, "crisis_incidents_unreached", community="lantern", severity="sev2") == 1


def test_without_an_admin_to_reach_the_banner_says_nobody_will_be_paged(session: Session, world: World,
                                                                       clock: FixedClock,
                                                                       client: FlaskClient) -> None:
    _staff_unreachable(session, world)
    incident = open_raid(session, world, clock)
    assert "Fallback to the community's admins: nobody (nobody has the role admin or above)" \
        in timeline(session, incident), "the world's lantern has no admin"
    login(client, world.carol.email)
    html = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    assert "No admin of this community has a contact method either" in html
