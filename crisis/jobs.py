"""rq entry points: thin, take ids, idempotent. Each opens its own session."""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from crisis import pipeline, queue, runtime
from crisis.db import session_scope

log = logging.getLogger(__name__)

# Each job drains at most this many batches, then re-rings, so one busy
# community cannot starve the others on a shared queue.
MAX_BATCHES_PER_JOB = 20


def detect(community_id: int) -> int:
    """rq job: run the detectors over this community's pending events. Returns events consumed."""
    rt = runtime.current()
    queue.clear_bell(rt.redis, queue.detect_bell(community_id))
    total, more = drain(community_id)
    if more:
        queue.ring(rt.redis, queue.DETECT, queue.detect_bell(community_id), "crisis.jobs.detect", community_id)
    return total


def drain(community_id: int, max_batches: int = MAX_BATCHES_PER_JOB) -> tuple[int, bool]:
    """Consume pending events batch by batch; returns (events consumed, whether some may remain)."""
    rt = runtime.current()
    total = 0
    for _ in range(max_batches):
        try:
            with session_scope(rt.sessions) as session:
                outcome = pipeline.process_pending(session, community_id, clock=rt.clock)
        except (pipeline.LostRace, IntegrityError):
            log.info("community %s: another worker is ahead; leaving it the batch", community_id)
            return total, False
        if outcome.events == 0:
            return total, False
        total += outcome.events
        after_detect(outcome)
    return total, True


def after_detect(outcome: pipeline.BatchOutcome) -> None:
    """Hook for what follows new incidents (notifications are rung by the engine)."""


def sweep() -> dict[str, int]:
    """Recover work Redis lost: ring every community with events still pending."""
    rt = runtime.current()
    with session_scope(rt.sessions) as session:
        pending = pipeline.communities_with_pending(session)
    rung = sum(queue.ring(rt.redis, queue.DETECT, queue.detect_bell(cid), "crisis.jobs.detect", cid)
               for cid in pending)
    return {"detect_pending": len(pending), "detect_rung": rung}
