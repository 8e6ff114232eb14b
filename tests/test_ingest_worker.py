"""Events posted over real HTTP are processed by a real rq worker on a real Redis."""
from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from datetime import timedelta

import pytest

from crisis import runtime
from crisis.app import create_app
from crisis.clock import SystemClock, isoformat
from crisis.config import Config
from crisis.ingest import backlog
from tests.conftest import Factory
from tests.live import LiveServer, WorkerProcess, wait_for

pytestmark = pytest.mark.redis


def _events(n: int) -> list[dict[str, object]]:
    now = SystemClock().now()
    return [{"id": f"w{i}", "type": "message.create", "ts": isoformat(now - timedelta(seconds=n - i)),
             "actor": {"id": f"u{i % 7}"}, "channel": "general", "content": f"hello {i}"} for i in range(n)]


def _post(url: str, token: str, events: list[dict[str, object]]) -> dict[str, int]:
    req = urllib.request.Request(url, data=json.dumps(events).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_it_processes_posted_events_in_a_real_worker(redis_config: Config, factory: Factory) -> None:
    tenant = factory.community("lantern")
    app = create_app(redis_config, clock=SystemClock())
    rt = app.extensions["crisis"]
    with LiveServer(app) as server, WorkerProcess(redis_config) as worker:
        url = f"{server.url}/api/v1/communities/lantern/events"
        assert _post(url, tenant.token, _events(50)) == {"accepted": 50, "duplicates": 0}

        def processed() -> bool:
            with rt.sessions() as s:
                return backlog.consumed_count(s) == 50

        wait_for(processed, timeout=30, message=f"the worker to process 50 events; log:\n{worker.log()}")
    runtime.reset()


def test_it_recovers_events_whose_doorbell_redis_lost(redis_config: Config, factory: Factory) -> None:
    """Events stored while Redis is unreachable are picked up by the worker's sweeper."""
    tenant = factory.community("lantern")
    broken = replace(redis_config, redis_url="redis://127.0.0.1:1/0")
    app = create_app(broken, clock=SystemClock())
    client = app.test_client()
    resp = client.post("/api/v1/communities/lantern/events", json=_events(5),
                       headers={"Authorization": f"Bearer {tenant.token}"})
    assert resp.status_code == 202
    rt = app.extensions["crisis"]
    fast = replace(redis_config, sweep_interval=0.5)
    with WorkerProcess(fast) as worker:
        def processed() -> bool:
            with rt.sessions() as s:
                return backlog.consumed_count(s) == 5

        wait_for(processed, timeout=30, message=f"the sweeper to recover the events; log:\n{worker.log()}")
    runtime.reset()
