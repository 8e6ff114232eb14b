"""The rq worker process: the detect, notify and default queues, rq's scheduler,
and a sweeper thread that recovers whatever Redis lost."""
from __future__ import annotations

import logging
import threading

from rq import Worker

from crisis import jobs, queue, runtime

log = logging.getLogger(__name__)


class Sweeper(threading.Thread):
    """Runs jobs.sweep() every interval in the worker process itself, so a
    Redis restart or a lost job delays work by at most one interval."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="crisis-sweeper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                jobs.sweep()
            except Exception:  # noqa: BLE001
                # Redis or the database may be down; the next round retries.
                log.warning("sweep failed", exc_info=True)


def run_worker(*, burst: bool = False, sweep: bool = True, name: str | None = None,
               log_level: str = "INFO") -> None:
    rt = runtime.current()
    sweeper = Sweeper(rt.config.sweep_interval) if sweep and not burst else None
    if sweeper:
        sweeper.start()
    try:
        worker = Worker([queue.queue(rt.redis, q) for q in queue.QUEUES], connection=rt.redis, name=name)
        worker.work(with_scheduler=True, burst=burst, logging_level=log_level)
    finally:
        if sweeper:
            sweeper.stopped.set()
