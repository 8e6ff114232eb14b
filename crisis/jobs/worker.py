"""The rq worker process: the detect, notify and default queues, rq's scheduler,
and a sweeper thread that recovers whatever Redis lost."""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Worker
from rq.job import Job
from rq.worker import WorkerStatus

from crisis import runtime
from crisis.insight import metrics
from crisis.jobs import bells, names, sweeper

log = logging.getLogger(__name__)


class Sweeper(threading.Thread):
    """Runs the sweeper (crisis.jobs.sweeper) every interval in the worker process itself, so a
    Redis restart or a lost job delays work by at most one interval."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="crisis-sweeper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                sweeper.sweep(runtime.current())
            except Exception:  # noqa: BLE001
                # Redis or the database may be down; the next round retries.
                log.warning("sweep failed", exc_info=True)


class CrisisWorker(Worker):
    """rq's forking worker, counting job outcomes into the multiprocess metrics
    (after redash's StatsdRecordingWorker): the jobs themselves stay metric-free.

    Detect jobs run in the worker process itself, not in a forked horse: they are this
    project's own code (no third-party I/O to isolate), a fork per job cost more than a
    small drain, and only a long-lived process can keep its detectors between drains
    (crisis.detection.cache). rq's job timeout still applies (SIGALRM in this
    process). Notifications and the rest keep a horse each, so a stuck transport cannot
    stall detection for longer than its timeout.
    """

    def execute_job(self, job: Job, queue: Any) -> None:
        if queue.name != names.DETECT_QUEUE:
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def main_work_horse(self, job: Job, queue: Any) -> None:
        metrics.become_horse(os.getppid())
        super().main_work_horse(job, queue)

    def handle_job_success(self, job: Job, queue: Any, *args: Any, **kwargs: Any) -> Any:
        _count(job, "succeeded")
        return super().handle_job_success(job, queue, *args, **kwargs)

    def handle_job_failure(self, job: Job, queue: Any, *args: Any, **kwargs: Any) -> Any:
        # Runs in the horse for an exception, in the worker when the horse was killed.
        _count(job, "failed")
        return super().handle_job_failure(job, queue, *args, **kwargs)


def _count(job: Job, outcome: str) -> None:
    try:
        assert job.func_name is not None  # raises into the except below, as None.rsplit did
        name = job.func_name.rsplit(".", 1)[-1]
    except Exception:  # noqa: BLE001 -- an undecodable job still counts
        name = "unknown"
    try:
        metrics.count_job(name, outcome)
    except Exception:  # noqa: BLE001
        log.warning("could not count job %s", job.id, exc_info=True)


def metrics_group(name: str | None) -> str:
    """One directory per worker: a restarting worker wipes only its own files."""
    return f"worker-{name}" if name else f"worker-pid{os.getpid()}"


def run_worker(*, burst: bool = False, sweep: bool = True, name: str | None = None,
               log_level: str = "INFO") -> None:
    rt = runtime.current()
    metrics.prepare_group(rt.config.var_dir, metrics_group(name))
    _warm(rt)
    sweeper.install_fork_guard()
    thread = Sweeper(rt.config.sweep_interval) if sweep and not burst else None
    if thread:
        thread.start()
    try:
        _work_until_stopped(rt, burst=burst, name=name, log_level=log_level)
    finally:
        if thread:
            thread.stopped.set()


def _warm(rt: runtime.Runtime) -> None:
    """Pay the one-off costs in the worker, before the first fork, so every work horse
    inherits them: the detectors' imports, the SQLAlchemy engine (a horse keeps it, minus
    the parent's connections: crisis.runtime), apprise's plugin registry."""
    try:
        from sqlalchemy.orm import configure_mappers

        from crisis.notify import transport
        from crisis.response import drain  # noqa: F401 -- the detectors load here once

        rt.engine  # noqa: B018 -- builds it
        configure_mappers()  # else every horse configured them again on its first query
        transport.warm()
    except Exception:  # noqa: BLE001 -- only an optimisation; the horse does it itself otherwise
        log.warning("could not warm the worker", exc_info=True)
    settle_gc()


# Allocations between young collections, and young (then middle) collections between older ones.
GC_THRESHOLDS = (20_000, 20, 20)


def settle_gc() -> None:
    """Leave what the worker loaded out of garbage collection, and collect less often.

    A detect worker keeps every community's detectors in memory between drains (their
    memories of members, messages and replies), and a drain allocates several objects per
    event: at CPython's default thresholds (700, 10, 10) the collector ran every few events
    and its older generations walked those memories again and again. Freezing the imports
    and the thresholds above took bench/cpu_split.py's rq-worker CPU per 100 events from
    0.85-1.11 ms to 0.81-0.87 ms (docs/benchmarks.md). Cycles are still collected.
    """
    gc.collect()
    gc.freeze()  # the modules, classes and mappers loaded so far: never garbage
    gc.set_threshold(*GC_THRESHOLDS)


def _work_until_stopped(rt: runtime.Runtime, *, burst: bool, name: str | None, log_level: str) -> None:
    """rq's work loop, restarted when Redis goes away instead of letting the process die:
    a Redis restart must cost a few seconds of delay, not a worker (the sweeper re-rings
    whatever the restart dropped)."""
    delay = 0.5
    while True:
        worker: CrisisWorker | None = None
        try:
            # The constructor already talks to Redis (CLIENT INFO), so it is inside the retry.
            worker = CrisisWorker([bells.queue(rt.redis, q) for q in names.QUEUES], connection=rt.redis,
                                  name=name)
            worker.work(with_scheduler=True, burst=burst, logging_level=log_level)
            # An idle worker told to stop (SIGTERM) leaves rq's loop through StopRequested with
            # only the shutdown date set, not _stop_requested: both mean "stop", never "restart".
            if burst or worker._stop_requested or getattr(worker, "_shutdown_requested_date", None) is not None:
                return
            # rq's loop logs an unhandled error and returns, as it does for a Redis error
            # raised while it watches a work horse (a restart mid-job): start it again.
            log.warning("rq's work loop ended without a stop request; restarting in %.1fs", delay)
        except RedisConnectionError:
            if burst:
                raise
            log.warning("Redis is unreachable; reconnecting in %.1fs", delay)
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.register_death()  # type: ignore[no-untyped-call]  # -- rq leaves it unannotated
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
