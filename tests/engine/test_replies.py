"""Messages to members through the bridge, with a recording client in place of the
homeserver (the real one is tests/test_moderation_matrix.py): claimed once, the direct room
opened once and reused after a failure, transient failures retried with a backoff and
recovered by the sweeper, a disabled link failing for good."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.bridges.matrix.client import MatrixError
from crisis.cases import reply_sender, service
from crisis.clock import FixedClock
from crisis.jobs import sweeper
from crisis.models import MemberMessage, PlatformLink
from crisis.runtime import Runtime
from tests.engine.conftest import World
from tests.engine.test_containment import HeldJobs


class FakeHomeserver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_next: list[int] = []
        self.rooms = 0

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((method, path.split("?")[0]))
        if path.endswith("/createRoom"):
            self.rooms += 1
            return {"room_id": f"!dm{self.rooms}:hs"}
        if "/send/" in path and self.fail_next:
            raise MatrixError(f"{method} {path}: HTTP {self.fail_next[0]}", self.fail_next.pop(0))
        return {"event_id": "$e"}


@pytest.fixture
def held(rt: Runtime) -> HeldJobs:
    jobs = HeldJobs()
    rt.jobs = jobs  # type: ignore[misc]
    return jobs


@pytest.fixture
def link(session: Session, world: World, clock: FixedClock, held: HeldJobs) -> PlatformLink:
    row = PlatformLink(community_id=world.community.id, platform="matrix", name="matrix", endpoint="http://hs",
                       service_id="crisis-test", sender="@crisis_lantern:hs", inbound_token_hash="h" * 64,
                       outbound_token="x", rooms={"!room": "general"}, silence_after_s=3600, created_at=clock.now(),
                       last_error="", events_received=0, events_skipped=0, disabled=False)
    session.add(row)
    session.commit()
    return row


def _case(session: Session, world: World, clock: FixedClock, event: str = "matrix-report-1-1") -> MemberMessage:
    service.open_case(session, world.community, service.Complaint(
        subject_kind="member", category="spam", subject_member="@t:hs", reporter="@alice:hs", source="matrix",
        source_event_id=event), now=clock.now())
    session.commit()
    row = session.scalars(select(MemberMessage).order_by(MemberMessage.id.desc())).first()
    assert row is not None
    return row


def test_a_transient_failure_is_retried_in_the_same_room_and_sent_once(
        session: Session, rt: Runtime, world: World, clock: FixedClock, link: PlatformLink) -> None:
    hs = FakeHomeserver()
    hs.fail_next = [502]
    row = _case(session, world, clock)
    first = reply_sender.send(rt.sessions, row.id, clock=clock, make_client=lambda _l: hs)  # type: ignore[arg-type,return-value]
    assert first.outcome == "retry" and first.retry_at == clock.now() + timedelta(seconds=5)
    assert reply_sender.send(rt.sessions, row.id, clock=clock, make_client=lambda _l: hs).outcome == "skipped"  # type: ignore[arg-type,return-value]  # not due yet
    clock.advance(timedelta(seconds=6))
    assert sweeper.sweep(rt)["member_messages_due"] == 1
    assert reply_sender.send(rt.sessions, row.id, clock=clock, make_client=lambda _l: hs).outcome == "sent"  # type: ignore[arg-type,return-value]
    assert hs.rooms == 1 and [c for c in hs.calls if "/send/" in c[1]][0][1].endswith(f"/crisis-member-{row.id}")
    session.expire_all()
    assert (row.status, row.room_id, row.attempts) == ("sent", "!dm1:hs", 2)
    # A second message to the same member goes into the room already open.
    second = _case(session, world, clock, "matrix-report-1-2")
    assert reply_sender.send(rt.sessions, second.id, clock=clock, make_client=lambda _l: hs).outcome == "sent"  # type: ignore[arg-type,return-value]
    assert hs.rooms == 1


def test_a_refusal_or_a_disabled_link_fails_for_good(session: Session, rt: Runtime, world: World,
                                                     clock: FixedClock, link: PlatformLink) -> None:
    hs = FakeHomeserver()
    hs.fail_next = [403]
    row = _case(session, world, clock)
    assert reply_sender.send(rt.sessions, row.id, clock=clock, make_client=lambda _l: hs).outcome == "failed"  # type: ignore[arg-type,return-value]
    other = _case(session, world, clock, "matrix-report-1-3")
    link.disabled = True  # after the message was written: the bridge went away before it was sent
    session.commit()
    result = reply_sender.send(rt.sessions, other.id, clock=clock, make_client=lambda _l: hs)  # type: ignore[arg-type,return-value]
    assert result.outcome == "failed" and "removed or disabled" in result.error


def test_a_send_abandoned_by_a_dead_worker_is_sent_again(session: Session, rt: Runtime, world: World,
                                                          clock: FixedClock, link: PlatformLink) -> None:
    row = _case(session, world, clock)
    row.status, row.claimed_at = "sending", clock.now()
    session.commit()
    clock.advance(timedelta(minutes=6))
    counts = sweeper.sweep(rt)
    assert counts["member_messages_revived"] == 1 and counts["member_messages_due"] == 1
