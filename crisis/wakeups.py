"""Ring Redis only after the database has committed the work.

Engine code notes what it created on the session (`note_notification`, `note_escalation`);
a session `after_commit` hook rings the doorbells. A rollback forgets them. If Redis is
down the rows are still there, and the sweeper finds them within one interval."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "crisis.wakeups"


def _pending(session: Session) -> dict[str, Any]:
    return session.info.setdefault(_KEY, {"notify": [], "escalate": []})  # type: ignore[no-any-return]


def note_notification(session: Session, notification_id: int) -> None:
    _pending(session)["notify"].append(notification_id)


def note_escalation(session: Session, due_at: datetime) -> None:
    _pending(session)["escalate"].append(due_at)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_KEY, None)
    if pending and (pending["notify"] or pending["escalate"]):
        dispatch(pending["notify"], pending["escalate"])


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def dispatch(notification_ids: list[int], escalations: list[datetime]) -> None:
    from crisis import jobs, queue, runtime

    rt = runtime.current()
    if rt.config.sync_jobs:
        # Web-layer tests: deliver inline; timers are driven by calling the sweeper.
        for nid in notification_ids:
            jobs.deliver_notification(nid)
        return
    try:
        for nid in notification_ids:
            queue.ring(rt.redis, queue.NOTIFY, queue_key(nid), "crisis.jobs.deliver_notification", nid,
                       job_timeout=120)
        for due in sorted(set(escalations)):
            queue.queue(rt.redis, queue.DEFAULT).enqueue_at(due, "crisis.jobs.fire_escalations",
                                                            job_timeout=300, result_ttl=60)
    except Exception:  # noqa: BLE001
        log.warning("could not ring Redis; the sweeper will pick the work up", exc_info=True)


def queue_key(notification_id: int) -> str:
    return f"notify:{notification_id}"
