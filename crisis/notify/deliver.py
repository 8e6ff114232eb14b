"""Deliver one notification row: claim it, send it, record the outcome.

1. Claim: UPDATE ... SET status='sending' WHERE status='pending' AND due. Only the
   worker that changed the row sends; a duplicate job or a racing sweeper does nothing.
2. Send outside any transaction, so a slow receiver never holds a database lock.
3. Record: sent; or back to pending with a backoff (transient); or failed at once
   (permanent, or out of attempts). Each outcome is also a timeline entry."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock
from crisis.db import session_scope
from crisis.models import Channel, ContactMethod, Incident, MemberChannel, Notification, PlatformLink
from crisis.notify import routing, unreached
from crisis.notify.outbox import NOTIFY_TYPES
from crisis.notify.rooms import RoomSender, RoomTarget
from crisis.notify.states import NOTIFICATION, NotificationStatus
from crisis.notify.transport import Transport, TransportError, send
from crisis.timeline import N_, add_timeline, said

N = NotificationStatus


@dataclass
class Delivery:
    outcome: str  # sent | retry | failed | skipped
    retry_at: datetime | None = None
    error: str = ""
    seconds: float = 0.0


def _claim(session: Session, notification_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == N.PENDING,
               Notification.next_attempt_at <= now)
        .values(status=N.SENDING.value, claimed_at=now, attempts=Notification.attempts + 1),
        execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # -- an UPDATE's Result is a CursorResult


def _url(session: Session, row: Notification) -> str | RoomTarget | None:
    """Where the row goes: an apprise URL, a platform room (a member channel of kind bridge),
    or None when the destination was removed or disabled."""
    if row.member_channel_id is not None:
        member = session.get(MemberChannel, row.member_channel_id)
        if member is None or member.disabled:
            return None
        if member.kind == "apprise":
            return member.url
        link = session.get(PlatformLink, member.link_id) if member.link_id else None
        return RoomTarget.of(link, member.room_id, f"crisis-n{row.id}") if link and not link.disabled else None
    if row.contact_method_id is not None:
        method = session.get(ContactMethod, row.contact_method_id)
        return method.url if method is not None and not method.disabled else None
    if row.channel_id is not None:
        channel = session.get(Channel, row.channel_id)
        return channel.url if channel is not None and not channel.disabled else None
    return None


def deliver(sessions: sessionmaker[Session], notification_id: int, *, clock: Clock,
            transport: Transport = send, rooms: RoomSender | None = None) -> Delivery:
    with session_scope(sessions) as session:
        if not _claim(session, notification_id, clock.now()):
            return Delivery("skipped")
    with session_scope(sessions) as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        target = _url(session, row)
        title, body, event = row.title, row.body, row.event
    started = time.monotonic()
    error: TransportError | None = None
    if target is None:
        error = TransportError("the destination was removed or disabled", permanent=True)
    elif isinstance(target, RoomTarget) and rooms is None:
        error = TransportError("this process cannot post into platform rooms", permanent=True)
    else:
        try:
            if isinstance(target, RoomTarget):
                assert rooms is not None
                rooms(target, title, body)
            else:
                transport(target, title, body, notify_type=NOTIFY_TYPES.get(event, "info"))
        except TransportError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 -- a bug in a plugin must not wedge the row in 'sending'
            error = TransportError(f"{type(exc).__name__} while sending")
    seconds = time.monotonic() - started
    with session_scope(sessions) as session:
        return _record(session, notification_id, error, clock=clock, seconds=seconds)


def _record(session: Session, notification_id: int, error: TransportError | None, *, clock: Clock,
            seconds: float) -> Delivery:
    now = clock.now()
    row = session.get(Notification, notification_id)
    assert row is not None
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    what = said(N_("%(event)s notification to %(recipient)s"), words=("event",), event=row.event,
                recipient=row.recipient_label)
    data = {"notification_id": row.id, "event": row.event, "attempt": row.attempts, "destination": row.destination}
    if row.status in NOTIFICATION.terminal():  # another worker's attempt already ended this row
        return Delivery("skipped", seconds=seconds)
    if error is None:
        row.status = NOTIFICATION.move(row.status, N.SENT).value
        row.sent_at, row.last_error = now, ""
        if incident is not None:
            add_timeline(session, incident, "notification", said(N_("Sent %(what)s"), what=what), at=now,
                         actor="notifier", actor_user_id=None, data={**data, "status": "sent"})
        _channel_ok(session, row)
        return Delivery("sent", seconds=seconds)
    row.last_error = error.message[:500]
    if error.permanent or row.attempts >= row.max_attempts:
        row.status = NOTIFICATION.move(row.status, N.FAILED).value
        reason = said(N_("permanent error")) if error.permanent \
            else said(N_("gave up after %(attempts)s attempts"), attempts=row.attempts)
        if incident is not None:
            add_timeline(session, incident, "notification",
                         said(N_("Failed %(what)s (%(reason)s): %(error)s"), what=what, reason=reason,
                              error=row.last_error), at=now,
                         actor="notifier", data={**data, "status": "failed", "error": row.last_error})
            if row.cause.startswith(unreached.escalation_cause_prefix(incident.id)):
                session.flush()
                unreached.check(session, incident, now=now)  # was it the last page that could have landed?
        _member_channel_error(session, row, row.last_error)
        return Delivery("failed", error=row.last_error, seconds=seconds)
    delay = routing.load().backoff(row.attempts)
    row.status = NOTIFICATION.move(row.status, N.PENDING).value
    row.next_attempt_at = now + timedelta(seconds=delay)
    if incident is not None:
        add_timeline(session, incident, "notification",
                     said(N_("Attempt %(attempt)s of %(what)s failed: %(error)s; retrying in %(delay)ss"),
                          attempt=row.attempts, what=what, error=row.last_error, delay=delay), at=now,
                     actor="notifier", data={**data, "status": "retry", "error": row.last_error,
                                             "retry_in": delay})
    return Delivery("retry", retry_at=row.next_attempt_at, error=row.last_error, seconds=seconds)


def _channel_ok(session: Session, row: Notification) -> None:
    if row.channel_id is not None:
        session.execute(update(Channel).where(Channel.id == row.channel_id).values(last_error=""),
                        execution_options={"synchronize_session": False})
    _member_channel_error(session, row, "")


def _member_channel_error(session: Session, row: Notification, error: str) -> None:
    """The member channel's last delivery error (cleared by a success), shown where staff manage it."""
    if row.member_channel_id is not None:
        session.execute(update(MemberChannel).where(MemberChannel.id == row.member_channel_id)
                        .values(last_error=error[:500]), execution_options={"synchronize_session": False})
