"""How a process hands work to the job system: ring a doorbell, schedule for later, or clear
a bell. Two implementations behind one interface, chosen once per runtime:

- RedisJobs enqueues on rq (the service);
- InlineJobs runs a rung job at once in the caller's process (CRISIS_SYNC_JOBS, for tests
  of the web layer): it resolves the job's path as an rq worker would, so the same entry
  point runs either way. Scheduled jobs are not run inline: in that mode timers are driven
  by calling the sweeper, as the tests do.

So no caller branches on the mode; they name a Job (crisis.jobs.names) and its arguments."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from redis import Redis
from rq.utils import import_attribute

from crisis.jobs import bells
from crisis.jobs.names import Job

log = logging.getLogger(__name__)

# Queues its own commands on a Redis pipeline; returns what reads its first reply.
Counter = Callable[[Any], Callable[[Any], None]]


class Jobs(Protocol):
    inline: bool

    def ring(self, job: Job, bell: str, *args: Any) -> bool:
        """Enqueue job(*args) unless one for `bell` is already waiting; True when it was."""

    def enqueue(self, job: Job, *args: Any) -> None: ...

    def enqueue_at(self, job: Job, when: datetime, *args: Any) -> None: ...

    def enqueue_in(self, job: Job, delay: timedelta, *args: Any) -> None: ...

    def answered(self, bell: str) -> None:
        """The job rung on `bell` has started: a later ring enqueues again."""

    def ring_counted(self, count: Counter, job: Job | None, bell: str = "", *args: Any) -> None:
        """ring(), sharing its round trip with `count` (the ingest rate limit): the hot path
        pays one Redis round trip per request for both."""


class RedisJobs:
    inline = False

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis

    def ring(self, job: Job, bell: str, *args: Any) -> bool:
        return bells.ring(self.redis, job, bell, *args)

    def enqueue(self, job: Job, *args: Any) -> None:
        bells.enqueue(self.redis, job, *args)

    def enqueue_at(self, job: Job, when: datetime, *args: Any) -> None:
        # rq scores scheduled jobs in whole seconds, truncated: a timer due at :12.7 would run
        # at :12, find nothing due yet, and leave its step to the next sweep. Round up instead.
        if when.microsecond:
            when = when.replace(microsecond=0) + timedelta(seconds=1)
        bells.queue(self.redis, job.queue).enqueue_at(when, job.path, *args, job_timeout=job.timeout, result_ttl=60)

    def enqueue_in(self, job: Job, delay: timedelta, *args: Any) -> None:
        bells.queue(self.redis, job.queue).enqueue_in(delay, job.path, *args, job_timeout=job.timeout, result_ttl=60)

    def answered(self, bell: str) -> None:
        bells.clear_bell(self.redis, bell)

    def ring_counted(self, count: Counter, job: Job | None, bell: str = "", *args: Any) -> None:
        pipe = self.redis.pipeline(transaction=False)
        record = count(pipe)
        if job is not None:
            bells.press(pipe, bell)
        replies = pipe.execute()
        if job is not None and replies[-1]:
            bells.enqueue(self.redis, job, *args)
        record(replies[0])


class InlineJobs:
    inline = True

    def ring(self, job: Job, bell: str, *args: Any) -> bool:
        self.enqueue(job, *args)
        return True

    def enqueue(self, job: Job, *args: Any) -> None:
        import_attribute(job.path)(*args)

    def enqueue_at(self, job: Job, when: datetime, *args: Any) -> None:
        log.debug("inline jobs: %s at %s left to the sweeper", job.path, when)

    def enqueue_in(self, job: Job, delay: timedelta, *args: Any) -> None:
        log.debug("inline jobs: %s in %s left to the sweeper", job.path, delay)

    def answered(self, bell: str) -> None:
        return None

    def ring_counted(self, count: Counter, job: Job | None, bell: str = "", *args: Any) -> None:
        # Nothing is counted inline, so the rate limit (which reads what Redis counted) never refuses.
        if job is not None:
            self.enqueue(job, *args)
