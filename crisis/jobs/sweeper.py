"""The sweeper: recovers whatever Redis lost, from the database, which holds the work.

Pending events, due escalations, overdue tasks and action items, members owed an update
(crisis.publicstatus.cadence), notifications due for
(re)delivery and deliveries abandoned mid-send, containment actions due or abandoned
mid-action, retention runs due, erasures waiting or abandoned, penalties whose time is up,
overdue cases and moderation tasks, messages to members due or abandoned mid-send. Each part
runs even if another fails: a broken detector must not stop escalations."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from crisis.bridges import health
from crisis.bridges.matrix import reports as matrix_reports
from crisis.cases import overdue as case_overdue
from crisis.cases import reply_sender
from crisis.containment import runner as containment
from crisis.db import session_scope
from crisis.db import sweep as sweep_rows
from crisis.erasure import service as erasure
from crisis.ingest import backlog
from crisis.jobs import names
from crisis.models import Notification
from crisis.moderation import penalties
from crisis.moderation import tasks as moderation_tasks
from crisis.notify import routing, unreached
from crisis.notify.states import NOTIFICATION, NotificationStatus
from crisis.publicstatus import cadence
from crisis.response import escalation, postmortems, steps
from crisis.retention import enforce as retention
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
        ("unreached", lambda: {"unreached_marked": sweep_rows(rt.sessions, unreached.candidates, unreached.sweep_one,
                                                              now=rt.clock.now(), limit=SWEEP_LIMIT)}),
        ("containment", lambda: _sweep_containment(rt)),
        ("penalties", lambda: {"penalties_expired": penalties.expire_due(rt.sessions, clock=rt.clock)}),
        ("cases", lambda: {"cases_overdue": case_overdue.notify_overdue(rt.sessions, clock=rt.clock)}),
        ("moderation_tasks", lambda: {"moderation_tasks_overdue": moderation_tasks.notify_overdue(rt.sessions,
                                                                                                  clock=rt.clock)}),
        ("member_messages", lambda: _sweep_member_messages(rt)),
        ("bridges", lambda: {"bridges_silent": health.check(rt.sessions, clock=rt.clock)}),
        ("reports", lambda: {"reports_stored": matrix_reports.poll(rt.sessions, clock=rt.clock,
                                                                   secret_key=rt.config.secret_key)}),
        ("retention", lambda: _sweep_retention(rt)),
        ("erasures", lambda: _sweep_erasures(rt)),
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


def _sweep_member_messages(rt: Runtime) -> dict[str, int]:
    """Messages to members whose job Redis lost, and sends abandoned by a dead worker."""
    now = rt.clock.now()
    with session_scope(rt.sessions) as session:
        revived = reply_sender.revive_stale(session, now)
        due = reply_sender.due(session, now, SWEEP_LIMIT)
    rung = sum(rt.jobs.ring(names.SEND_MEMBER_MESSAGE, names.member_message_bell(mid), mid) for mid in due)
    return {"member_messages_revived": revived, "member_messages_due": len(due), "member_messages_rung": rung}


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


def _sweep_retention(rt: Runtime) -> dict[str, int]:
    """Communities whose retention run is due (hourly, or at once when one was cut short)."""
    with session_scope(rt.sessions) as session:
        due = retention.due(session, rt.clock.now(), SWEEP_LIMIT)
    rung = sum(rt.jobs.ring(names.ENFORCE_RETENTION, names.retention_bell(cid), cid) for cid in due)
    return {"retention_due": len(due), "retention_rung": 0 if rt.jobs.inline else rung}


def _sweep_erasures(rt: Runtime) -> dict[str, int]:
    """Erasures waiting for a worker (their job lost, or their budget ran out) and claims of dead workers."""
    with session_scope(rt.sessions) as session:
        revived = erasure.recover_stale(session, rt.clock.now())
    with session_scope(rt.sessions) as session:
        waiting = erasure.waiting(session, SWEEP_LIMIT)
    rung = sum(rt.jobs.ring(names.RUN_ERASURE, names.erasure_bell(eid), eid) for eid in waiting)
    return {"erasures_revived": revived, "erasures_waiting": len(waiting), "erasures_rung": rung}
