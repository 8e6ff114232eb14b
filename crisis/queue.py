"""Redis as a doorbell: enqueue jobs by id; the database holds the work itself."""
from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue

DETECT = "detect"
NOTIFY = "notify"
DEFAULT = "default"
QUEUES = (DETECT, NOTIFY, DEFAULT)

# A pending doorbell collapses repeated enqueues for one community into one job.
_BELL_TTL = 60


def _bell(key: str) -> str:
    return f"crisis:bell:{key}"


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis)


def ring(redis: Redis, name: str, key: str, func: str, *args: Any, job_timeout: int = 300) -> bool:
    """Enqueue `func(*args)` unless a job for `key` is already waiting. True when enqueued."""
    if not redis.set(_bell(key), 1, nx=True, ex=_BELL_TTL):
        return False
    enqueue(redis, name, func, *args, job_timeout=job_timeout)
    return True


def press(pipe: Any, key: str) -> None:
    """ring()'s first half on a pipeline: set the bell; its result (truthy when the bell
    was free) says whether the caller must enqueue()."""
    pipe.set(_bell(key), 1, nx=True, ex=_BELL_TTL)


def enqueue(redis: Redis, name: str, func: str, *args: Any, job_timeout: int = 300) -> None:
    queue(redis, name).enqueue(func, *args, job_timeout=job_timeout, result_ttl=60, failure_ttl=7 * 86400)


def clear_bell(redis: Redis, key: str) -> None:
    redis.delete(_bell(key))


def detect_bell(community_id: int) -> str:
    return f"detect:{community_id}"


