"""The production topology end to end: PostgreSQL, redis-server, gunicorn with two workers
and two rq workers give the same incidents as a single-process replay of the stream, and
/metrics from that multi-process setup passes `promtool check metrics`."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crisis.response.replay import replay
from tests.ops import topology
from tests.ops.test_metrics import _sample
from tests.servers import tool

pytestmark = pytest.mark.redis


def _post_in_batches(topo: topology.Topology, slug: str, token: str, events: list[dict], size: int = 250) -> int:
    accepted = 0
    for start in range(0, len(events), size):
        resp = topo.post(slug, token, events[start:start + size])
        assert resp.status == 202, resp.body
        accepted += resp.body["accepted"]
    return accepted


def _until_both_web_workers_served(topo: topology.Topology, slug: str, token: str, like: dict) -> int:
    """Events accepted while posting concurrently until both gunicorn workers have counted
    some. Sequential requests may all land on one worker (whichever accepts first)."""
    web_dir = topo.config.var_dir / "metrics" / "web"
    accepted, round_ = 0, 0
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while len(list(web_dir.glob("counter_*.db"))) < 2:
            assert time.monotonic() < deadline, "one gunicorn worker answered every request for a minute"
            batches = [[like | {"id": f"both-{round_}-{i}-{j}"} for j in range(20)] for i in range(16)]
            for resp in pool.map(lambda b: topo.post(slug, token, b), batches):
                assert resp.status == 202, resp.body
                accepted += resp.body["accepted"]
            round_ += 1
    return accepted


def _replayed(tmp_path: Path, events: list[dict]) -> list[tuple[str, str]]:
    path = tmp_path / "stream.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    from crisis.clock import utc
    from crisis.ingest.validate import parse_rfc3339

    lines = replay([str(path)], progress=False)
    return sorted((line["kind"], utc(parse_rfc3339(line["opened_at"])).isoformat()) for line in lines)


def test_it_gives_the_incidents_of_a_single_process_replay(
        start_topology: Callable[..., topology.Topology], tmp_path: Path) -> None:
    topo = start_topology(web_workers=2, rq_workers=2)
    token = topo.community("harbor")
    events = topology.stream_events("harbor")
    assert _post_in_batches(topo, "harbor", token, events) == len(events)
    topo.wait_processed()
    live = sorted(topo.incidents())
    expected = _replayed(tmp_path, events)
    assert any(kind == "raid" for kind, _ in expected)
    assert live == expected


def test_it_exposes_metrics_of_every_process_that_promtool_accepts(
        start_topology: Callable[..., topology.Topology]) -> None:
    topo = start_topology(web_workers=2, rq_workers=2)
    token = topo.community("harbor")
    events = topology.stream_events("harbor", hours=1.5)
    accepted = _post_in_batches(topo, "harbor", token, events, size=50)
    accepted += _until_both_web_workers_served(topo, "harbor", token, events[-1])
    topo.wait_processed()
    with urllib.request.urlopen(f"{topo.web.url}/metrics", timeout=10) as resp:
        body = resp.read()
    text = body.decode()
    ingested = sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("crisis_events_ingested_total{"))
    assert ingested == accepted
    assert _sample(text, "crisis_detector_lag_seconds_count", community="harbor") == accepted
    assert _sample(text, "crisis_jobs_total", job="detect", outcome="succeeded") >= 1
    opened = sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                 if line.startswith("crisis_incidents_opened_total{"))
    assert opened == len(topo.incidents())
    assert _sample(text, "crisis_scrape_redis_up") == 1 and _sample(text, "crisis_scrape_database_up") == 1
    # Both gunicorn workers and both rq workers (which run detect jobs in process) wrote files.
    web_files = list((topo.config.var_dir / "metrics" / "web").glob("counter_*.db"))
    worker_dirs = {p.parent.name for p in (topo.config.var_dir / "metrics").glob("worker-*/counter_*.db")}
    assert len(web_files) == 2 and worker_dirs
    promtool = tool("promtool", "prometheus")
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
