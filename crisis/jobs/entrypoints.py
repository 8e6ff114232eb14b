"""rq entry points: thin, take ids, idempotent. Each opens its own session.

Their dotted paths are spelled once, in crisis.jobs.names."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError, OperationalError

from crisis import runtime
from crisis.cases import reply_sender
from crisis.containment import executors, runner
from crisis.db import session_scope
from crisis.erasure import service as erasure
from crisis.jobs import names, sweeper
from crisis.notify import rooms
from crisis.notify.deliver import deliver
from crisis.publicstatus import cadence
from crisis.response import drain, escalation
from crisis.retention import enforce

log = logging.getLogger(__name__)
_ZERO = timedelta(0)

# Each job runs at most this many drain transactions, then re-rings, so one busy
# community cannot starve the others on a shared queue. A transaction checkpoints the
# detectors once (drain.drain): it takes up to DRAIN_SECONDS of batches, and waits up
# to DRAIN_LINGER for more events when the queue runs dry, so a steady feed of small
# requests pays one checkpoint per fraction of a second instead of one per request.
MAX_BATCHES_PER_JOB = 20
DRAIN_SECONDS = 0.5
DRAIN_LINGER = 0.1


def detect(community_id: int) -> int:
    """Run the detectors over this community's pending events. Returns events consumed."""
    rt = runtime.current()
    rt.jobs.answered(names.detect_bell(community_id))
    # The worker runs detect jobs in process, so its next drain of this community can
    # start from the detectors this one leaves, when no other worker moved them meanwhile.
    cache = rt.detectors
    # Inline (tests) nothing else feeds the drain while it lingers: do not wait for more.
    linger = 0.0 if rt.jobs.inline else DRAIN_LINGER
    total = 0
    for _ in range(MAX_BATCHES_PER_JOB):
        try:
            with session_scope(rt.sessions) as session:
                outcome = drain.drain(session, community_id, clock=rt.clock, max_seconds=DRAIN_SECONDS,
                                      linger=linger, cache=cache)
        except (drain.LostRace, IntegrityError, OperationalError):
            # OperationalError: on SQLite a drain that read before a rival wrote cannot
            # upgrade to a writer; like a lost race, the rival has the events.
            log.info("community %s: another worker is ahead; leaving it the batch", community_id)
            return total
        if outcome.events == 0:
            return total
        if outcome.detector is not None:  # committed: the next drain may start from here
            cache.put(community_id, outcome.version, outcome.settings, outcome.detector)
        total += outcome.events
    rt.jobs.ring(names.DETECT, names.detect_bell(community_id), community_id)
    return total


def deliver_notification(notification_id: int) -> str:
    """Send one notification; on a transient failure schedule the retry with rq's scheduler
    (the sweeper re-rings it too, should that job be lost)."""
    rt = runtime.current()
    rt.jobs.answered(names.notify_bell(notification_id))
    result = deliver(rt.sessions, notification_id, clock=rt.clock, rooms=rooms.sender(rt.config.secret_key))
    if result.outcome == "retry" and result.retry_at is not None:
        try:
            rt.jobs.enqueue_in(names.DELIVER_NOTIFICATION, max(result.retry_at - rt.clock.now(), _ZERO),
                               notification_id)
        except Exception:  # noqa: BLE001
            log.warning("could not schedule the retry of notification %s; the sweeper will", notification_id)
    return result.outcome


def run_containment(action_id: int) -> str:
    """Carry out whatever is due for one containment action (apply, revert, release)."""
    rt = runtime.current()
    rt.jobs.answered(names.containment_bell(action_id))
    # Retries and expiries are scheduled by the runner's own commits (crisis.jobs.ringer).
    return runner.run(rt.sessions, action_id, clock=rt.clock, executors=executors.platform(rt.config.secret_key)).result


def enforce_retention(community_id: int) -> dict[str, object]:
    """One retention run of a community (crisis.retention.enforce); an unfinished run rings again."""
    rt = runtime.current()
    rt.jobs.answered(names.retention_bell(community_id))
    try:
        report = enforce.run(rt.sessions, community_id, clock=rt.clock)
    except Exception as exc:
        enforce.record_failure(rt.sessions, community_id, f"{type(exc).__name__}: {exc}")
        raise
    if report.claimed and not report.finished and not rt.jobs.inline:
        rt.jobs.ring(names.ENFORCE_RETENTION, names.retention_bell(community_id), community_id)
    return report.as_dict()


def run_erasure(erasure_id: int) -> str:
    """Carry an erasure on for one time budget (crisis.erasure.service); ring again if unfinished."""
    rt = runtime.current()
    rt.jobs.answered(names.erasure_bell(erasure_id))
    if rt.jobs.inline:  # nothing else would carry it on: run it to the end here
        return erasure.run_to_end(rt.sessions, erasure_id, clock=rt.clock)
    status = erasure.run(rt.sessions, erasure_id, clock=rt.clock)
    if status == "requested":
        rt.jobs.ring(names.RUN_ERASURE, names.erasure_bell(erasure_id), erasure_id)
    return status
def send_member_message(message_id: int) -> str:
    """Send one message to a member through the bridge; a transient failure is retried on
    schedule (the sweeper re-rings it too, should that job be lost)."""
    rt = runtime.current()
    rt.jobs.answered(names.member_message_bell(message_id))
    result = reply_sender.send(rt.sessions, message_id, clock=rt.clock,
                               make_client=reply_sender.clients(rt.config.secret_key))
    if result.outcome == "retry" and result.retry_at is not None:
        try:
            rt.jobs.enqueue_in(names.SEND_MEMBER_MESSAGE, max(result.retry_at - rt.clock.now(), _ZERO), message_id)
        except Exception:  # noqa: BLE001
            log.warning("could not schedule the retry of member message %s; the sweeper will", message_id)
    return result.outcome


def fire_escalations() -> int:
    rt = runtime.current()
    return escalation.fire_due(rt.sessions, clock=rt.clock)


def remind_member_updates() -> int:
    """Remind the liaisons of incidents whose members are owed an update (idempotent: each
    due timer is claimed once, whoever runs first, this job or the sweeper)."""
    rt = runtime.current()
    return cadence.remind_due(rt.sessions, clock=rt.clock)


def sweep() -> dict[str, int]:
    """Recover whatever Redis lost (crisis.jobs.sweeper)."""
    return sweeper.sweep(runtime.current())

