"""Send one message to a member through the bridge, shaped like notification delivery
(crisis.notify.deliver):

1. claim it (pending → sending, by a conditional UPDATE): one worker sends;
2. find the direct room: one an earlier message to this member on this link opened, else
   open one and write its id at once, so a retry never opens a second room;
3. send the notice outside any transaction, with a transaction id of the row's own (a
   resend after a lost answer is a no-op on the homeserver);
4. record sent; a transient failure goes back to pending with a backoff, a permanent one
   (the homeserver refuses) fails with its words."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crisis.bridges import links
from crisis.bridges.base import ActionFailed
from crisis.bridges.matrix import messages
from crisis.bridges.matrix.client import MatrixClient
from crisis.clock import Clock
from crisis.db import session_scope
from crisis.models import Community, MemberMessage, PlatformLink
from crisis.notify.states import NOTIFICATION, NotificationStatus

N = NotificationStatus  # the same four states and moves as a notification's
MAX_ATTEMPTS = 6
STALE = timedelta(minutes=5)
Clients = Callable[[PlatformLink], MatrixClient]


@dataclass
class Sent:
    outcome: str  # sent | retry | failed | skipped
    retry_at: datetime | None = None
    error: str = ""


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(5 * 3 ** max(attempt - 1, 0), 1800))


def clients(secret_key: str) -> Clients:
    return lambda link: MatrixClient(link.endpoint, links.outbound_token(link, secret_key), timeout=10.0)


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    result = session.execute(
        update(MemberMessage).where(MemberMessage.id == message_id, MemberMessage.status == N.PENDING.value,
                                    MemberMessage.next_attempt_at <= now)
        .values(status=NOTIFICATION.move(N.PENDING, N.SENDING).value, claimed_at=now,
                attempts=MemberMessage.attempts + 1), execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def _known_room(session: Session, row: MemberMessage) -> str:
    return session.scalar(select(MemberMessage.room_id).where(
        MemberMessage.link_id == row.link_id, MemberMessage.recipient == row.recipient, MemberMessage.room_id != "")
        .order_by(MemberMessage.id).limit(1)) or ""


def send(sessions: sessionmaker[Session], message_id: int, *, clock: Clock, make_client: Clients) -> Sent:
    with session_scope(sessions) as session:
        if not _claim(session, message_id, clock.now()):
            return Sent("skipped")
        row = session.get(MemberMessage, message_id)
        assert row is not None
        link = session.get(PlatformLink, row.link_id) if row.link_id else None
        community = session.get(Community, row.community_id)
        room, recipient, body = row.room_id or _known_room(session, row), row.recipient, row.body
        client = make_client(link) if link is not None and not link.disabled else None
        name = community.name if community is not None else "crisis"
    try:
        if client is None:
            raise ActionFailed("the bridge this message was to go through was removed or disabled", permanent=True)
        if not room:
            room = messages.open_direct(client, recipient, name=name)
            with session_scope(sessions) as session:
                session.execute(update(MemberMessage).where(MemberMessage.id == message_id).values(room_id=room),
                                execution_options={"synchronize_session": False})
        messages.send_notice(client, room, body, txn=f"crisis-member-{message_id}")
    except ActionFailed as exc:
        return _record_failure(sessions, message_id, exc, clock.now())
    with session_scope(sessions) as session:
        row = session.get(MemberMessage, message_id)
        assert row is not None
        row.status = NOTIFICATION.move(row.status, N.SENT).value
        row.sent_at, row.room_id, row.last_error, row.claimed_at = clock.now(), room, "", None
    return Sent("sent")


def _record_failure(sessions: sessionmaker[Session], message_id: int, exc: ActionFailed, now: datetime) -> Sent:
    with session_scope(sessions) as session:
        row = session.get(MemberMessage, message_id)
        assert row is not None
        row.last_error, row.claimed_at = exc.message[:500], None
        if exc.permanent or row.attempts >= MAX_ATTEMPTS:
            row.status = NOTIFICATION.move(row.status, N.FAILED).value
            return Sent("failed", error=row.last_error)
        row.status = NOTIFICATION.move(row.status, N.PENDING).value
        row.next_attempt_at = now + backoff(row.attempts)
        return Sent("retry", retry_at=row.next_attempt_at, error=row.last_error)


# ---- the sweeper's part ------------------------------------------------------------------------
def revive_stale(session: Session, now: datetime) -> int:
    """A worker that died mid-send left its row in 'sending': send it again (the homeserver
    drops the repeat by its transaction id)."""
    result = session.execute(update(MemberMessage).where(MemberMessage.status == N.SENDING.value,
                                                         MemberMessage.claimed_at < now - STALE)
                             .values(status=N.PENDING.value, next_attempt_at=now),
                             execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult


def due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(MemberMessage.id).where(MemberMessage.status == N.PENDING.value,
                                                               MemberMessage.next_attempt_at <= now)
                                .order_by(MemberMessage.next_attempt_at).limit(limit)))
