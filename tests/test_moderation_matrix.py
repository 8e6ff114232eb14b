"""Penalties and answers through a real Synapse: a mute under a rule silences the member in
the linked room, the member gets a direct message from the bridge's user naming the rule
with the appeal link, lifting the mute on appeal lets them post again and tells them so,
and a complainant whose report came through the bridge is answered in a direct room (one
room per member, reused). Jobs run inline after each commit, as the web process would
ring them, on the test's fixed clock (the runner reads the same one); the bridge's user is an
ordinary account here (its token in the link)."""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.bridges.matrix.client import MatrixError
from crisis.cases import service as cases
from crisis.clock import FixedClock, SystemClock
from crisis.models import Community, MemberMessage, PlatformLink, Role
from crisis.moderation import appeals, penalties, rulebook
from crisis.moderation.penalties import By
from crisis.runtime import Runtime
from crisis.tenancy.credentials import seal
from tests.conftest import Factory
from tests.synapse import MatrixUser, Synapse
from tests.test_matrix_bridge import synapse  # noqa: F401 -- one Synapse per module, started once

pytestmark = [pytest.mark.slow]
BOB = By("Bob", None, Role.RESPONDER)


def _wait(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Room:
    def __init__(self, synapse: Synapse, session: Session, rt: Runtime, community: Community) -> None:
        tag = secrets.token_hex(3)
        self.owner = synapse.register(f"owner{tag}")
        self.bot = synapse.register(f"crisis{tag}")
        self.troll = synapse.register(f"troll{tag}")
        self.reporter = synapse.register(f"rep{tag}")
        self.id = self.owner.create_room(name="general", power_level_content_override={
            "users": {self.bot.user_id: 100}})
        for user in (self.troll, self.reporter):
            user.join(self.id)
        link = PlatformLink(community_id=community.id, platform="matrix", name="matrix", endpoint=synapse.url,
                            service_id=f"crisis-{tag}", sender=self.bot.user_id,
                            inbound_token_hash=secrets.token_hex(32),
                            outbound_token=seal(rt.config.secret_key, self.bot.token), rooms={self.id: "general"},
                            silence_after_s=3600, created_at=SystemClock().now(), last_error="", events_received=0,
                            events_skipped=0, disabled=False)
        session.add(link)
        session.commit()

    def can_post(self, user: MatrixUser) -> bool:
        try:
            user.say(self.id, "hello")
            return True
        except MatrixError as exc:
            assert exc.status == 403, exc
            return False


def _direct_notices(user: MatrixUser) -> list[tuple[str, str]]:
    """Join every room the user is invited to, and return (room, body) of the notices in them."""
    data = user.call("GET", "/_matrix/client/v3/sync?timeout=0")
    for room in (data.get("rooms") or {}).get("invite") or {}:
        user.join(room)
    out = []
    joined = user.call("GET", "/_matrix/client/v3/joined_rooms")["joined_rooms"]
    for room in joined:
        events = user.call("GET", f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages?dir=b&limit=20")
        out += [(room, e["content"]["body"]) for e in events.get("chunk", [])
                if e.get("type") == "m.room.message" and e["content"].get("msgtype") == "m.notice"]
    return out


@pytest.fixture
def community(session: Session, factory: Factory, clock: FixedClock) -> Community:
    tenant = factory.community(f"mx{secrets.token_hex(3)}")
    rulebook.sync(session, clock=clock)
    session.commit()
    return tenant.community


def test_a_mute_silences_the_member_tells_them_and_lifting_it_on_appeal_lets_them_post(
        synapse: Synapse, session: Session, rt: Runtime, community: Community,  # noqa: F811
        clock: FixedClock) -> None:
    room = Room(synapse, session, rt, community)
    penalties.apply(session, community, room.troll.user_id, "no-spam", by=BOB, now=clock.now())  # a warning first
    mute = penalties.apply(session, community, room.troll.user_id, "no-spam", by=BOB, now=clock.now())
    session.commit()  # inline: the mute is carried out and the messages sent, after the commit
    session.expire_all()
    action = penalties.action_of(session, mute)
    assert action is not None and (action.executor, action.status) == ("matrix", "applied"), action.last_error
    assert not room.can_post(room.troll) and room.can_post(room.reporter)

    notices = _wait(lambda: _direct_notices(room.troll), "the penalty notices")
    bodies = [b for _r, b in notices]
    assert any("a mute under the rule “No spam or advertising”" in b and "/penalties/" in b for b in bodies), bodies
    assert any("a warning" in b for b in bodies)
    assert len({r for r, _b in notices}) == 1, "one direct room for the member, reused"
    sent = list(session.scalars(select(MemberMessage).where(MemberMessage.recipient == room.troll.user_id)))
    assert {m.status for m in sent} == {"sent"} and len({m.room_id for m in sent}) == 1

    appeal = appeals.file(session, mute, "It was one link, sorry", filed_by="member", now=clock.now())
    appeals.decide(session, appeal, "lifted", note="Fair: first time.", by=BOB, now=clock.now())
    session.commit()
    session.expire_all()
    assert penalties.action_of(session, mute).status == "reverted"  # type: ignore[union-attr]
    assert room.can_post(room.troll)
    _wait(lambda: any("Fair: first time." in b for _r, b in _direct_notices(room.troll)), "the appeal's answer")


def test_a_complainant_from_the_bridge_is_answered_in_a_direct_room(
        synapse: Synapse, session: Session, rt: Runtime, community: Community,  # noqa: F811
        clock: FixedClock) -> None:
    room = Room(synapse, session, rt, community)
    case = cases.open_case(session, community, cases.Complaint(
        subject_kind="member", category="harassment", subject_member=room.troll.user_id,
        reporter=room.reporter.user_id, source="matrix", source_event_id="matrix-report-1-1"), now=clock.now())
    session.commit()
    received = _wait(lambda: _direct_notices(room.reporter), "the receipt")
    assert "/cases/" in received[0][1] and "Thank you for your report" in received[0][1]
    cases.decide(session, community, [case], "actioned", by=BOB, now=clock.now(), outcome="The member was muted.")
    session.commit()
    answered = _wait(lambda: [b for _r, b in _direct_notices(room.reporter) if "was acted on" in b], "the answer")
    assert "The member was muted." in answered[0]


def test_the_platforms_refusal_fails_the_message_with_its_words(
        synapse: Synapse, session: Session, rt: Runtime, community: Community,  # noqa: F811
        clock: FixedClock) -> None:
    room = Room(synapse, session, rt, community)
    # No such account on the homeserver: the invite is refused for good, not retried.
    penalties.apply(session, community, f"@nobody{secrets.token_hex(3)}:localhost", "no-spam", by=BOB,
                    now=clock.now())
    session.commit()
    session.expire_all()
    row = session.scalar(select(MemberMessage).where(MemberMessage.community_id == community.id))
    assert row is not None and row.status == "failed" and "HTTP 4" in row.last_error
    assert room.can_post(room.reporter)
