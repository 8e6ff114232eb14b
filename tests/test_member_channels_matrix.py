"""Updates to members in a real Matrix room on a local Synapse: through apprise's matrix://
(logged in as an announcer account, the room named by its alias), and through a linked
bridge room, posted as the bridge's own user with the appservice token (an m.notice, sent
once whatever the retries). The members read the public title and the update, never the
internal title; a room the bridge cannot enter fails permanently, saying what to do."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.bridges import links
from crisis.bridges.matrix.registration import registration, to_yaml
from crisis.clock import FixedClock
from crisis.models import Incident, MemberChannel, Notification, PlatformLink
from crisis.notify import rooms
from crisis.notify.deliver import deliver
from crisis.publicstatus import channels
from crisis.response import lifecycle
from crisis.runtime import Runtime
from tests.conftest import Factory
from tests.live import wait_for
from tests.synapse import MatrixUser, Synapse
from tests.test_matrix_bridge import synapse as synapse  # noqa: F401  -- the module's one Synapse

pytestmark = [pytest.mark.slow]
INTERNAL = "Raid organised on the dramaboard by troll42"
PUBLIC = "Spam in the announcements room"
_V3 = "/_matrix/client/v3"


def _messages(reader: MatrixUser, room: str) -> list[dict[str, Any]]:
    filt = quote(json.dumps({"types": ["m.room.message"]}), safe="")
    page = reader.call("GET", f"{_V3}/rooms/{quote(room, safe='')}/messages?dir=b&limit=50&filter={filt}")
    return list(reversed(page.get("chunk") or []))


def _incident(session: Session, factory: Factory, clock: FixedClock, slug: str) -> tuple[Any, Incident]:
    playbooks.sync(session, clock=clock)
    tenant = factory.community(slug)
    incident = lifecycle.open_manual(session, tenant.community, kind="raid", severity="sev2", title=INTERNAL,
                                     description="", actor=lifecycle.Actor(None, "test"), clock=clock)
    session.commit()
    return tenant.community, incident


def test_an_update_to_members_arrives_in_a_matrix_room_through_apprise(
        synapse: Synapse, app: Flask, session: Session, factory: Factory, clock: FixedClock) -> None:
    reader = synapse.register("reader1")
    synapse.register("announcer1", password="announcer-pw-1")
    room = reader.create_room(room_alias_name="announcements1", name="Announcements")
    community, incident = _incident(session, factory, clock, "lanternmx")
    port = synapse.url.rsplit(":", 1)[1]
    channels.add_apprise(session, community, name="announcements",
                         url=f"matrix://announcer1:announcer-pw-1@127.0.0.1:{port}/%23announcements1:localhost",
                         now=clock.now())
    session.commit()

    lifecycle.post_update(session, incident, "We are removing the spam; do not click links in DMs.",
                          actor=lifecycle.Actor(None, "Ray"), clock=clock, public=True, public_title=PUBLIC)
    session.commit()  # delivered inline (CRISIS_SYNC_JOBS) by apprise into Synapse

    found = wait_for(lambda: [e for e in _messages(reader, room) if PUBLIC in e["content"].get("body", "")],
                     timeout=20, message="the announcement in the room")
    body = found[0]["content"]["body"]
    assert found[0]["sender"] == "@announcer1:localhost"
    assert "We are removing the spam; do not click links in DMs." in body and "Investigating" in body
    assert INTERNAL not in body and "troll42" not in body
    row = session.scalar(select(Notification).where(Notification.event == "public_update"))
    assert row is not None and row.status == "sent"


def _bridge(synapse: Synapse, session: Session, community: Any, room: str, rt: Runtime, tmp: Path) -> int:
    issued = links.create_matrix_link(session, community, homeserver=synapse.url, server_name="localhost",
                                      rooms={room: "announcements"}, secret_key=rt.config.secret_key,
                                      clock=rt.clock, name="matrix")
    session.commit()
    path = tmp / "appservice.yaml"
    path.write_text(to_yaml(registration(issued, crisis_url="http://127.0.0.1:9")))  # pushes go nowhere here
    synapse.appservices = [path]
    synapse.restart()
    return issued.link.id


def test_an_update_to_members_is_posted_into_a_bridge_room_once(
        synapse: Synapse, app: Flask, rt: Runtime, session: Session, factory: Factory, clock: FixedClock,
        tmp_path: Path) -> None:
    reader = synapse.register("reader2")
    room = reader.create_room(name="General")  # public: the bridge's user joins by itself
    community, incident = _incident(session, factory, clock, "lanternbr")
    link_id = _bridge(synapse, session, community, room, rt, tmp_path)
    channels.add_bridge_room(session, community, name="general", link_id=link_id, room_id=room, now=clock.now())
    session.commit()

    lifecycle.post_update(session, incident, "Handled. Thanks for your reports.", actor=lifecycle.Actor(None, "Ray"),
                          clock=clock, public=True, public_title=PUBLIC)
    session.commit()
    row = session.scalar(select(Notification).where(Notification.event == "public_update"))
    assert row is not None and row.status == "sent", row.last_error if row else None
    events = [e for e in _messages(reader, room) if PUBLIC in e["content"].get("body", "")]
    assert len(events) == 1 and events[0]["sender"] == "@crisis_lanternbr:localhost"
    assert events[0]["content"]["msgtype"] == "m.notice" and INTERNAL not in events[0]["content"]["body"]

    # A retry after a lost answer sends the same transaction: Synapse keeps one event.
    link = session.get(PlatformLink, link_id)
    assert link is not None
    target = rooms.RoomTarget.of(link, room, f"crisis-n{row.id}")
    rooms.sender(rt.config.secret_key)(target, row.title, row.body)
    assert len([e for e in _messages(reader, room) if PUBLIC in e["content"].get("body", "")]) == 1


def test_a_bridge_room_the_bot_cannot_enter_fails_permanently_saying_what_to_do(
        synapse: Synapse, app: Flask, rt: Runtime, session: Session, factory: Factory, clock: FixedClock,
        tmp_path: Path) -> None:
    owner = synapse.register("owner3")
    room = owner.create_room(preset="private_chat", name="Staff only")  # invite only: the bot is not invited
    community, incident = _incident(session, factory, clock, "lanternpr")
    link_id = _bridge(synapse, session, community, room, rt, tmp_path)
    channel = channels.add_bridge_room(session, community, name="private", link_id=link_id, room_id=room,
                                       now=clock.now())
    session.commit()
    lifecycle.post_update(session, incident, "Hello", actor=lifecycle.Actor(None, "Ray"), clock=clock, public=True,
                          public_title=PUBLIC)
    session.commit()
    session.expire_all()
    row = session.scalar(select(Notification).where(Notification.event == "public_update"))
    assert row is not None and row.status == "failed" and row.attempts == 1
    assert "cannot post in" in row.last_error and "invite it to the room" in row.last_error
    assert "invite it" in session.get(MemberChannel, channel.id).last_error  # type: ignore[union-attr]
    assert deliver(rt.sessions, row.id, clock=clock).outcome == "skipped"  # failed for good
