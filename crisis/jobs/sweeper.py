"""The sweeper: recovers whatever Redis lost, from the database, which holds the work.

Pending events, due escalations, overdue tasks and action items, members owed an update
(crisis.publicstatus.cadence), notifications due for
(re)delivery and deliveries abandoned mid-send, containment actions due or abandoned
mid-action. Each part runs even if another fails: a broken detector must not stop escalations."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from crisis.bridges import health
from crisis.bridges.matrix import reports as matrix_reports
from crisis.containment import runner as containment
from crisis.db import session_scope
from crisis.ingest import backlog
from crisis.jobs import names
from crisis.models import Notification
from crisis.notify import routing
from crisis.notify.states import NOTIFICATION, NotificationStatus
from crisis.publicstatus import cadence
from crisis.response import escalation, postmortems, steps
from crisis.runtime import Runtime

log = logging.getLogger(__name__)
SWEEP_LIMIT = 500

# The worker runs sweep() on a thread while rq forks a work horse per job. A fork taken
# while that thread is inside SQLite (or any C library) can hand the horse a mutex held
# by a thread that does not exist there, and the horse hangs on its first query. Forks
# wait for the sweep in progress to finish; the child starts with a fresh lock.
_sweeping = threading.Lock()
_fork_guard_installed = False


def _reset_after_fork() -> None:
    global _sweeping
    _sweeping = threading.Lock()


def install_fork_guard() -> None:
    """Called by the worker before it forks anything (not at import: importing must not
    change process-wide state, and only the worker runs a sweeper beside forks)."""
    global _fork_guard_installed
    if not _fork_guard_installed:
        os.register_at_fork(before=lambda: _sweeping.acquire(), after_in_parent=lambda: _sweeping.release(),
                            after_in_child=_reset_after_fork)
        _fork_guard_installed = True


def sweep(rt: Runtime) -> dict[str, int]:
    with _sweeping:
        return _sweep(rt)


def _sweep(rt: Runtime) -> dict[str, int]:
    counts: dict[str, int] = {}
    parts: tuple[tuple[str, Callable[[], dict[str, int]]], ...] = (
        ("detect", lambda: _sweep_detect(rt)),
        ("escalations", lambda: {"escalations_fired": escalation.fire_due(rt.sessions, clock=rt.clock)}),
        ("tasks", lambda: {"tasks_overdue": steps.notify_overdue(rt.sessions, clock=rt.clock)}),
        ("action_items", lambda: {"action_items_overdue": postmortems.notify_overdue_actions(rt.sessions,
                                                                                              clock=rt.clock)}),
        ("member_updates", lambda: {"member_updates_reminded": cadence.remind_due(rt.sessions, clock=rt.clock)}),
        ("notifications", lambda: _sweep_notifications(rt)),
        ("containment", lambda: _sweep_containment(rt)),
        ("bridges", lambda: {"bridges_silent": health.check(rt.sessions, clock=rt.clock)}),
        ("reports", lambda: {"reports_stored": matrix_reports.poll(rt.sessions, clock=rt.clock,
                                                                   secret_key=rt.config.secret_key)}),
    )
    for name, part in parts:
        try:
            counts.update(part())
        except Exception:  # noqa: BLE001
            log.warning("sweep: %s failed; the next round retries", name, exc_info=True)
            counts[f"{name}_failed"] = 1
    return counts


def _sweep_detect(rt: Runtime) -> dict[str, int]:
    with session_scope(rt.sessions) as session:
        pending = backlog.communities_with_pending(session)
    rung = sum(rt.jobs.ring(names.DETECT, names.detect_bell(cid), cid) for cid in pending)
    return {"detect_pending": len(pending), "detect_rung": 0 if rt.jobs.inline else rung}


def _sweep_containment(rt: Runtime) -> dict[str, int]:
    """Actions due (approved, expired, undo or release asked) whose job Redis lost, and
    claims held by a worker that died."""
    revived = containment.recover_stale(rt.sessions, clock=rt.clock)
    with session_scope(rt.sessions) as session:
        due = containment.due(session, rt.clock.now(), SWEEP_LIMIT)
    rung = sum(rt.jobs.ring(names.RUN_CONTAINMENT, names.containment_bell(aid), aid) for aid in due)
    return {"containment_revived": revived, "containment_due": len(due), "containment_rung": rung}


def _sweep_notifications(rt: Runtime) -> dict[str, int]:
    now = rt.clock.now()
    stale = now - timedelta(seconds=routing.load().stale_sending_seconds)
    sending, pending = NotificationStatus.SENDING, NotificationStatus.PENDING
    assert pending in NOTIFICATION.moves[sending]  # the revival below is a move of the table
    with session_scope(rt.sessions) as session:
        # A worker that died mid-send left its row in 'sending'; send it again (at-least-once).
        result = session.execute(update(Notification).where(Notification.status == sending,
                                                            Notification.claimed_at < stale)
                                 .values(status=pending.value, next_attempt_at=now),
                                 execution_options={"synchronize_session": False})
        revived = result.rowcount  # type: ignore[attr-defined]  # -- an UPDATE's Result is a CursorResult
        due = list(session.scalars(select(Notification.id).where(Notification.status == pending,
                                                                 Notification.next_attempt_at <= now)
                                   .order_by(Notification.next_attempt_at).limit(SWEEP_LIMIT)))
    rung = sum(rt.jobs.ring(names.DELIVER_NOTIFICATION, names.notify_bell(nid), nid) for nid in due)
    return {"notifications_revived": revived, "notifications_due": len(due), "notifications_rung": rung}
