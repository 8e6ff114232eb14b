"""rq entry points: thin, take ids, idempotent. Each opens its own session."""
from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from crisis import backlog, escalation, postmortems, queue, runtime, tasks, wakeups
from crisis.db import session_scope
from crisis.models import Notification
from crisis.notify import deliver, routing

log = logging.getLogger(__name__)

# Each job runs at most this many drain transactions, then re-rings, so one busy
# community cannot starve the others on a shared queue. A transaction checkpoints the
# detectors once (pipeline.drain): it takes up to DRAIN_SECONDS of batches, and waits up
# to DRAIN_LINGER for more events when the queue runs dry, so a steady feed of small
# requests pays one checkpoint per fraction of a second instead of one per request.
MAX_BATCHES_PER_JOB = 20
DRAIN_SECONDS = 0.5
DRAIN_LINGER = 0.1
SWEEP_LIMIT = 500

# The worker runs sweep() on a thread while rq forks a work horse per job. A fork taken
# while that thread is inside SQLite (or any C library) can hand the horse a mutex held
# by a thread that does not exist there, and the horse hangs on its first query. Forks
# wait for the sweep in progress to finish; the child starts with a fresh lock.
_sweeping = threading.Lock()


def _reset_after_fork() -> None:
    global _sweeping
    _sweeping = threading.Lock()


_fork_guard_installed = False


def install_fork_guard() -> None:
    """Called by the worker before it forks anything (not at import: importing must not
    change process-wide state, and only the worker runs a sweeper beside forks)."""
    global _fork_guard_installed
    if not _fork_guard_installed:
        os.register_at_fork(before=lambda: _sweeping.acquire(), after_in_parent=lambda: _sweeping.release(),
                            after_in_child=_reset_after_fork)
        _fork_guard_installed = True


def detect(community_id: int) -> int:
    """Run the detectors over this community's pending events. Returns events consumed."""
    from crisis import pipeline  # the detectors load only in processes that detect

    rt = runtime.current()
    if not rt.config.sync_jobs:
        queue.clear_bell(rt.redis, queue.detect_bell(community_id))
    # The worker runs detect jobs in process, so its next drain of this community can
    # start from the detectors this one leaves, when no other worker moved them meanwhile.
    cache = rt.detectors
    total = 0
    for _ in range(MAX_BATCHES_PER_JOB):
        try:
            with session_scope(rt.sessions) as session:
                outcome = pipeline.drain(session, community_id, clock=rt.clock, max_seconds=DRAIN_SECONDS,
                                         linger=0.0 if rt.config.sync_jobs else DRAIN_LINGER, cache=cache)
        except (pipeline.LostRace, IntegrityError, OperationalError):
            # OperationalError: on SQLite a drain that read before a rival wrote cannot
            # upgrade to a writer; like a lost race, the rival has the events.
            log.info("community %s: another worker is ahead; leaving it the batch", community_id)
            return total
        if outcome.events == 0:
            return total
        if outcome.detector is not None:  # committed: the next drain may start from here
            cache.put(community_id, outcome.version, outcome.settings, outcome.detector)
        total += outcome.events
    if rt.config.sync_jobs:
        return total + detect(community_id)
    queue.ring(rt.redis, queue.DETECT, queue.detect_bell(community_id), "crisis.jobs.detect", community_id)
    return total


def deliver_notification(notification_id: int) -> str:
    """Send one notification; on a transient failure schedule the retry with rq's scheduler
    (the sweeper re-rings it too, should that job be lost)."""
    rt = runtime.current()
    if not rt.config.sync_jobs:
        queue.clear_bell(rt.redis, wakeups.queue_key(notification_id))
    result = deliver(rt.sessions, notification_id, clock=rt.clock)
    if result.outcome == "retry" and result.retry_at is not None and not rt.config.sync_jobs:
        delay = max(result.retry_at - rt.clock.now(), timedelta(0))
        try:
            queue.queue(rt.redis, queue.NOTIFY).enqueue_in(delay, "crisis.jobs.deliver_notification", notification_id,
                                                           job_timeout=120, result_ttl=60)
        except Exception:  # noqa: BLE001
            log.warning("could not schedule the retry of notification %s; the sweeper will", notification_id)
    return result.outcome


def fire_escalations() -> int:
    rt = runtime.current()
    return escalation.fire_due(rt.sessions, clock=rt.clock)


def sweep() -> dict[str, int]:
    """Recover whatever Redis lost: pending events, due escalations, overdue tasks,
    notifications due for (re)delivery and deliveries abandoned mid-send."""
    with _sweeping:
        return _sweep()


def _sweep() -> dict[str, int]:
    rt = runtime.current()
    counts: dict[str, int] = {}
    # Each part runs even if another fails: a broken detector must not stop escalations.
    parts = (
        ("detect", lambda: _sweep_detect(rt)),
        ("escalations", lambda: {"escalations_fired": escalation.fire_due(rt.sessions, clock=rt.clock)}),
        ("tasks", lambda: {"tasks_overdue": tasks.notify_overdue(rt.sessions, clock=rt.clock)}),
        ("action_items", lambda: {"action_items_overdue": postmortems.notify_overdue_actions(rt.sessions,
                                                                                              clock=rt.clock)}),
        ("notifications", lambda: _sweep_notifications(rt)),
    )
    for name, part in parts:
        try:
            counts.update(part())
        except Exception:  # noqa: BLE001
            log.warning("sweep: %s failed; the next round retries", name, exc_info=True)
            counts[f"{name}_failed"] = 1
    return counts


def _sweep_detect(rt: runtime.Runtime) -> dict[str, int]:
    with session_scope(rt.sessions) as session:
        pending = backlog.communities_with_pending(session)
    if rt.config.sync_jobs:
        for cid in pending:
            detect(cid)
        return {"detect_pending": len(pending), "detect_rung": 0}
    rung = sum(queue.ring(rt.redis, queue.DETECT, queue.detect_bell(cid), "crisis.jobs.detect", cid)
               for cid in pending)
    return {"detect_pending": len(pending), "detect_rung": rung}


def _sweep_notifications(rt: runtime.Runtime) -> dict[str, int]:
    now = rt.clock.now()
    stale = now - timedelta(seconds=routing.load().stale_sending_seconds)
    with session_scope(rt.sessions) as session:
        # A worker that died mid-send left its row in 'sending'; send it again (at-least-once).
        revived = session.execute(update(Notification).where(Notification.status == "sending",
                                                             Notification.claimed_at < stale)
                                  .values(status="pending", next_attempt_at=now),
                                  execution_options={"synchronize_session": False}).rowcount
        due = list(session.scalars(select(Notification.id).where(Notification.status == "pending",
                                                                 Notification.next_attempt_at <= now)
                                   .order_by(Notification.next_attempt_at).limit(SWEEP_LIMIT)))
    if rt.config.sync_jobs:
        for nid in due:
            deliver_notification(nid)
        return {"notifications_revived": revived, "notifications_due": len(due), "notifications_rung": len(due)}
    rung = sum(queue.ring(rt.redis, queue.NOTIFY, wakeups.queue_key(nid), "crisis.jobs.deliver_notification", nid,
                          job_timeout=120) for nid in due)
    return {"notifications_revived": revived, "notifications_due": len(due), "notifications_rung": rung}
