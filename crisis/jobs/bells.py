"""Redis as a doorbell: enqueue jobs by id; the database holds the work itself."""
from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue

from crisis.jobs.names import Job

# A pending doorbell collapses repeated enqueues for one community into one job.
_BELL_TTL = 60


def _bell(key: str) -> str:
    return f"crisis:bell:{key}"


def queue(redis: Redis[bytes], name: str) -> Queue:
    return Queue(name, connection=redis)


def ring(redis: Redis[bytes], job: Job, key: str, *args: Any) -> bool:
    """Enqueue `job(*args)` unless a job for `key` is already waiting. True when enqueued."""
    if not redis.set(_bell(key), 1, nx=True, ex=_BELL_TTL):
        return False
    enqueue(redis, job, *args)
    return True


def press(pipe: Any, key: str) -> None:
    """ring()'s first half on a pipeline: set the bell; its result (truthy when the bell
    was free) says whether the caller must enqueue()."""
    pipe.set(_bell(key), 1, nx=True, ex=_BELL_TTL)


def enqueue(redis: Redis[bytes], job: Job, *args: Any) -> None:
    queue(redis, job.queue).enqueue(job.path, *args, job_timeout=job.timeout, result_ttl=60,
                                    failure_ttl=7 * 86400)


def clear_bell(redis: Redis[bytes], key: str) -> None:
    redis.delete(_bell(key))
