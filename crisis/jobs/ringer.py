"""Ring Redis only after the database has committed the work.

Engine code notes what it created on the session (`note_notification`, `note_escalation`,
`note_detect`, `note_containment`, `note_member_update`);
the session's after-commit hook (crisis.db.after_commit) rings the doorbells, and a
rollback forgets them. If Redis is down the rows are still there, and the sweeper finds
them within one interval."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crisis import runtime
from crisis.db import after_commit
from crisis.jobs import names

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    notifications: list[int] = field(default_factory=list)
    escalations: list[datetime] = field(default_factory=list)
    detect: set[int] = field(default_factory=set)
    containment: list[tuple[int, datetime | None]] = field(default_factory=list)
    member_messages: list[int] = field(default_factory=list)
    member_updates: list[datetime] = field(default_factory=list)


def _pending(session: Session) -> _Pending:
    return after_commit(session, "ringer", _Pending, _ring)


def note_notification(session: Session, notification_id: int) -> None:
    _pending(session).notifications.append(notification_id)


def note_escalation(session: Session, due_at: datetime) -> None:
    _pending(session).escalations.append(due_at)


def note_detect(session: Session, community_id: int) -> None:
    """Events were stored for this community (by a bridge): ring its detectors after commit."""
    _pending(session).detect.add(community_id)


def note_containment(session: Session, action_id: int, at: datetime | None = None) -> None:
    """An action to carry out now (approved, undo, release) or at `at` (expiry, retry)."""
    _pending(session).containment.append((action_id, at))


def note_member_message(session: Session, message_id: int) -> None:
    """A message to a member through the bridge (crisis.cases.replies), to send now."""
    _pending(session).member_messages.append(message_id)


def note_member_update(session: Session, due_at: datetime) -> None:
    """A member-update timer is due at `due_at`: wake its reminder job then."""
    _pending(session).member_updates.append(due_at)


def _ring(pending: _Pending) -> None:
    jobs = runtime.current().jobs
    try:
        for cid in sorted(pending.detect):
            jobs.ring(names.DETECT, names.detect_bell(cid), cid)
        for nid in pending.notifications:
            jobs.ring(names.DELIVER_NOTIFICATION, names.notify_bell(nid), nid)
        for due in sorted(set(pending.escalations)):
            jobs.enqueue_at(names.FIRE_ESCALATIONS, due)
        for action_id, at in pending.containment:
            if at is None:
                jobs.ring(names.RUN_CONTAINMENT, names.containment_bell(action_id), action_id)
            else:
                jobs.enqueue_at(names.RUN_CONTAINMENT, at, action_id)
        for mid in pending.member_messages:
            jobs.ring(names.SEND_MEMBER_MESSAGE, names.member_message_bell(mid), mid)
        for due in sorted(set(pending.member_updates)):
            jobs.enqueue_at(names.REMIND_MEMBER_UPDATES, due)
    except Exception:  # noqa: BLE001
        log.warning("could not ring Redis; the sweeper will pick the work up", exc_info=True)
