"""Telling members: updates marked public reach member channels under the public title and
nothing internal; member channel URLs must reach a members' room; the playbook's cadence
reminds the liaison once per missed period, on the injected clock."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.jobs import entrypoints
from crisis.models import (
    Incident,
    MemberChannel,
    MemberUpdateTimer,
    Notification,
    PublicIncident,
    PublicUpdate,
    Responder,
    TimelineEntry,
)
from crisis.notify.deliver import deliver
from crisis.playbooks import PlaybookError
from crisis.publicstatus import cadence, channels, statuspage
from crisis.response import lifecycle
from crisis.runtime import Runtime
from tests.engine.conftest import World, add_channel
from tests.engine.helpers import HttpReceiver

INTERNAL = "Raid from the dramaboard, suspect @troll42 (IP 10.1.2.3)"
NOTE = "internal: the invite link was leaked by a moderator"
PUBLIC = "Spam in the general channel"


def _actor(world: World) -> lifecycle.Actor:
    return lifecycle.Actor(world.bob.id, "Bob")


def _open(session: Session, world: World, clock: FixedClock, severity: str = "sev2") -> Incident:
    incident = lifecycle.open_manual(session, world.community, kind="raid", severity=severity, title=INTERNAL,
                                     description="dramaboard thread", actor=_actor(world), clock=clock)
    session.commit()
    return incident


def _members(session: Session, world: World, receiver: HttpReceiver, clock: FixedClock,
             name: str = "announcements") -> MemberChannel:
    row = channels.add_apprise(session, world.community, name=name, url=receiver.url(name), now=clock.now())
    session.commit()
    return row


def _cadence_playbook(session: Session, clock: FixedClock, every: str = "30m",
                      severities: tuple[str, ...] = ("sev1",)) -> int:
    spec = playbooks.latest(session, "raid").spec  # type: ignore[union-attr]
    row = playbooks.create_version(session, "raid", {**spec, "member_updates": {"every": every,
                                                                                "severities": list(severities)}},
                                   clock=clock, user_id=None, comment="member cadence")
    session.commit()
    return row.version


def _timeline(session: Session, incident: Incident, kind: str | None = None) -> list[str]:
    session.expire_all()
    query = select(TimelineEntry.message).where(TimelineEntry.incident_id == incident.id)
    if kind:
        query = query.where(TimelineEntry.kind == kind)
    return list(session.scalars(query.order_by(TimelineEntry.id)))


def test_it_tells_member_channels_the_public_title_and_the_update_only(
        session: Session, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    _members(session, world, receiver, clock)
    add_channel(session, world.community, "stakeholders", "stakeholders", receiver.url("stakeholders"), clock)
    statuspage.configure(session, world.community, enabled=True, now=clock.now())
    incident = _open(session, world, clock)
    lifecycle.add_note(session, incident, NOTE, actor=_actor(world), clock=clock)
    lifecycle.post_update(session, incident, "Staff only: we are tracing the invite", actor=_actor(world), clock=clock)
    session.commit()
    assert receiver.to("announcements") == []  # not public: members hear nothing

    clock.advance(timedelta(minutes=3))
    lifecycle.post_update(session, incident, "We are removing the spam. Do not click links in DMs.",
                          actor=_actor(world), clock=clock, public=True, public_title=PUBLIC)
    session.commit()

    [message] = receiver.to("announcements")
    assert message.body["title"] == f"[Lantern] Investigating: {PUBLIC}"
    assert message.body["message"].startswith("We are removing the spam. Do not click links in DMs.")
    assert "Status: http://127.0.0.1:8000/status/lantern" in message.body["message"]
    for secret in (INTERNAL, "troll42", "dramaboard", NOTE, "Staff only", "sev2", "raid"):
        assert secret not in message.body["title"] + message.body["message"]
    # Staff still get the status update, under the internal title.
    assert any(INTERNAL in m.body["title"] for m in receiver.to("stakeholders"))
    public = session.scalar(select(PublicIncident).where(PublicIncident.incident_id == incident.id))
    assert public is not None and public.title == PUBLIC
    row = session.scalar(select(Notification).where(Notification.event == "public_update"))
    assert row is not None and (row.status, row.destination, row.channel_id) == ("sent", f"mc:{row.member_channel_id}",
                                                                                   None)
    entry = session.scalar(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                       TimelineEntry.kind == "status_update")
                           .order_by(TimelineEntry.id.desc()))
    assert entry is not None and entry.data["public"] is True and entry.data["members"] == ["members: announcements"]


def test_it_refuses_a_first_public_update_without_a_public_title_and_writes_nothing(
        session: Session, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    _members(session, world, receiver, clock)
    incident = _open(session, world, clock)
    before = session.scalar(select(TimelineEntry.id).order_by(TimelineEntry.id.desc()))
    with pytest.raises(lifecycle.LifecycleError, match="^public_title: the first update to members needs"):
        lifecycle.post_update(session, incident, "hello", actor=_actor(world), clock=clock, public=True)
    with pytest.raises(lifecycle.LifecycleError, match="^text: an update to members must be 1 to 2000"):
        lifecycle.post_update(session, incident, "x" * 2001, actor=_actor(world), clock=clock, public=True,
                              public_title=PUBLIC)
    session.rollback()
    assert session.scalar(select(PublicUpdate.id)) is None and session.scalar(select(PublicIncident.id)) is None
    assert session.scalar(select(TimelineEntry.id).order_by(TimelineEntry.id.desc())) == before
    assert receiver.to("announcements") == []


@pytest.mark.parametrize(("url", "problem"), [
    ("mailto://ops@example.test", "member channels take matrix://"),
    ("matrix://bot:pw@127.0.0.1:8008/", "must name the room"),
    ("tgram://123456789:ABCdefGhIJKlmnOPqrstUVwxyz0123456789/", "must name the chat"),
    ("discord://123", "apprise does not understand"),
    ("not a url", "is not an apprise URL"),
])
def test_it_refuses_member_urls_that_reach_no_members_room(session: Session, world: World, clock: FixedClock,
                                                           url: str, problem: str) -> None:
    with pytest.raises(channels.ChannelError, match=f"^url: .*{problem}") as caught:
        channels.add_apprise(session, world.community, name="x", url=url, now=clock.now())
    assert caught.value.field == "url" and "ABCdef" not in str(caught.value)


@pytest.mark.parametrize("url", [
    "matrix://bot:pw@127.0.0.1:8008/%23announcements:localhost",
    "matrixs://bot:pw@matrix.example.org/!abc:example.org",
    "discord://1234567890/abcdefTOKEN",
    "tgram://123456789:ABCdefGhIJKlmnOPqrstUVwxyz0123456789/-100123456",
])
def test_it_accepts_matrix_discord_and_telegram_member_urls(session: Session, world: World, clock: FixedClock,
                                                            url: str) -> None:
    row = channels.add_apprise(session, world.community, name="members", url=url, now=clock.now())
    assert row.kind == "apprise" and "pw" not in channels.masked(row) and "TOKEN" not in channels.masked(row)
    assert "ABCdef" not in channels.masked(row)


def test_it_retries_a_member_channel_and_records_its_permanent_failure(
        session: Session, rt: Runtime, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    channel = _members(session, world, receiver, clock)
    receiver.fail("announcements", 1)
    incident = _open(session, world, clock)
    lifecycle.post_update(session, incident, "First", actor=_actor(world), clock=clock, public=True,
                          public_title=PUBLIC)
    session.commit()
    row = session.scalar(select(Notification).where(Notification.event == "public_update"))
    assert row is not None and (row.status, row.attempts) == ("pending", 1)  # 503: retried
    clock.advance(timedelta(seconds=2))
    assert deliver(rt.sessions, row.id, clock=clock).outcome == "sent"
    receiver.statuses["/announcements"] = 404
    lifecycle.post_update(session, incident, "Second", actor=_actor(world), clock=clock, public=True)
    session.commit()
    session.expire_all()
    second = session.scalar(select(Notification).where(Notification.event == "public_update")
                            .order_by(Notification.id.desc()))
    assert second is not None and second.status == "failed" and "error=404" in second.last_error
    assert "error=404" in session.get(MemberChannel, channel.id).last_error  # type: ignore[union-attr]


def test_it_validates_member_updates_in_playbooks_naming_the_field(session: Session, world: World) -> None:
    spec = playbooks.latest(session, "raid").spec  # type: ignore[union-attr]
    cases: list[tuple[Any, str]] = [
        ({"every": "10s"}, "member_updates.every: must be from 1m to 24h"),
        ({"every": "2d"}, "member_updates.every: must be from 1m to 24h"),
        ({"every": "soon"}, "member_updates.every: 'soon' is not a duration"),
        ({"severities": ["sev1"]}, "member_updates.every: is required"),
        ({"every": "30m", "severities": ["sev9"]}, "member_updates.severities: must list some of sev1"),
        ({"every": "30m", "often": True}, "member_updates.often: unknown field"),
        ("every 30m", "member_updates: must be {every: 30m, severities: [sev1]}"),
    ]
    for raw, problem in cases:
        with pytest.raises(PlaybookError) as caught:
            playbooks.validate({**spec, "member_updates": raw})
        assert any(p.startswith(problem) for p in caught.value.problems), (raw, caught.value.problems)
    no_liaison = {**spec, "roles": {k: v for k, v in spec["roles"].items() if k != "liaison"},
                  "steps": [s for s in spec["steps"] if s["owner"] != "liaison"], "member_updates": {"every": "1h"}}
    with pytest.raises(PlaybookError, match="declare a liaison role under roles"):
        playbooks.validate(no_liaison)
    assert "member_updates" not in playbooks.validate(spec)  # older playbooks hash as before


def test_it_reminds_the_liaison_once_per_missed_period_and_a_public_update_resets_it(
        session: Session, rt: Runtime, world: World, clock: FixedClock, receiver: HttpReceiver) -> None:
    _cadence_playbook(session, clock)
    incident = _open(session, world, clock, severity="sev2")
    assert cadence.timer_for(session, incident.id) is None  # sev2 is outside the cadence
    lifecycle.set_severity(session, incident, "sev1", actor=_actor(world), clock=clock)
    session.commit()
    timer = cadence.timer_for(session, incident.id)
    assert timer is not None and timer.status == "pending" and timer.due_at == clock.now() + timedelta(minutes=30)

    def reminders() -> list[str]:
        return [m.body["title"] for m in receiver.to("alice") if m.body["title"].startswith("Members are waiting")]

    clock.advance(timedelta(minutes=29))
    assert cadence.remind_due(rt.sessions, clock=clock) == 0
    lifecycle.post_update(session, incident, "Still on it", actor=_actor(world), clock=clock, public=True,
                          public_title=PUBLIC)
    session.commit()
    clock.advance(timedelta(minutes=29))  # 29 minutes after the update: not due
    assert entrypoints.sweep()["member_updates_reminded"] == 0 and reminders() == []

    clock.advance(timedelta(minutes=2))
    assert entrypoints.remind_member_updates() == 1
    assert entrypoints.remind_member_updates() == 0  # once per missed period
    assert reminders() == [f"Members are waiting for an update: {INTERNAL}"]  # staff: the internal title is fine
    body = [m.body["message"] for m in receiver.to("alice") if m.body["title"].startswith("Members")][0]
    assert "no public update on this sev1 raid incident for 31 minute(s)" in body
    assert f"/c/lantern/incidents/{incident.id}" in body and "commander" not in body
    assert any(m.startswith("Members have had no update for 31m (the playbook asks every 30m); reminded the "
                            "liaison: Alice") for m in _timeline(session, incident, "members"))

    clock.advance(timedelta(minutes=30))  # still nothing posted: reminded again a period later
    assert cadence.remind_due(rt.sessions, clock=clock) == 1 and len(reminders()) == 2

    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=_actor(world), clock=clock)
    session.commit()
    clock.advance(timedelta(hours=3))
    assert cadence.remind_due(rt.sessions, clock=clock) == 0 and len(reminders()) == 2
    session.expire_all()
    assert cadence.timer_for(session, incident.id).status == "stopped"  # type: ignore[union-attr]
    assert "Member-update reminders stopped: the incident is resolved" in _timeline(session, incident, "members")


def test_it_reminds_the_commander_when_nobody_is_liaison(session: Session, rt: Runtime, world: World,
                                                         clock: FixedClock, receiver: HttpReceiver) -> None:
    _cadence_playbook(session, clock, severities=("sev2",))
    incident = _open(session, world, clock, severity="sev2")
    session.execute(delete(Responder).where(Responder.incident_id == incident.id, Responder.role == "liaison"))
    incident.owner_id = world.bob.id
    session.commit()
    clock.advance(timedelta(minutes=31))
    assert cadence.remind_due(rt.sessions, clock=clock) == 1
    [message] = [m for m in receiver.to("bob") if m.body["title"].startswith("Members are waiting")]
    assert "Nobody holds the liaison role on this incident" in message.body["message"]


def test_it_stops_when_the_severity_leaves_the_cadence_and_rearms_on_reopen(
        session: Session, rt: Runtime, world: World, clock: FixedClock) -> None:
    _cadence_playbook(session, clock, severities=("sev1", "sev2"))
    incident = _open(session, world, clock, severity="sev2")
    lifecycle.set_severity(session, incident, "sev3", actor=_actor(world), clock=clock)
    session.commit()
    assert cadence.timer_for(session, incident.id).status == "stopped"  # type: ignore[union-attr]
    lifecycle.set_severity(session, incident, "sev2", actor=_actor(world), clock=clock)
    lifecycle.transition(session, incident.id, lifecycle.S.RESOLVED, actor=_actor(world), clock=clock)
    clock.advance(timedelta(minutes=5))
    lifecycle.transition(session, incident.id, lifecycle.S.TRIGGERED, actor=_actor(world), clock=clock)
    session.commit()
    timer = cadence.timer_for(session, incident.id)
    assert timer is not None and timer.status == "pending" and timer.due_at == clock.now() + timedelta(minutes=30)


def test_it_reminds_once_when_two_sweepers_race(session: Session, rt: Runtime, world: World, clock: FixedClock,
                                                receiver: HttpReceiver) -> None:
    _cadence_playbook(session, clock, severities=("sev2",))
    opened = [_open(session, world, clock, severity="sev2").id for _ in range(3)]
    clock.advance(timedelta(minutes=31))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sweeper() -> None:
        barrier.wait()
        counts.append(cadence.remind_due(rt.sessions, clock=clock))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == len(opened)
    session.expire_all()
    assert [t.reminders for t in session.scalars(select(MemberUpdateTimer).order_by(MemberUpdateTimer.id))] == [1, 1, 1]
    assert len(session.scalars(select(Notification).where(Notification.event == "member_update_due")).all()) == 3
