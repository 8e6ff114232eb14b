"""Fixtures for the production-topology tests: a fresh redis-server and database per test."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops import topology
from tests.servers import PostgresServer, RedisServer

_names = itertools.count(1)


@pytest.fixture
def redis_proc() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def start_topology(tmp_path: Path, postgres_server: PostgresServer,
                   redis_proc: RedisServer) -> Iterator[Callable[..., topology.Topology]]:
    started: list[topology.Topology] = []

    def _start(**kw: Any) -> topology.Topology:
        topo = topology.start(tmp_path, postgres_server, redis_proc, db_name=f"ops{next(_names)}", **kw)
        started.append(topo)
        return topo

    yield _start
    for topo in started:
        topo.stop()
