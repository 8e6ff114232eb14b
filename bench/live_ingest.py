"""The live path keeps up: post a recorded stream through the HTTP API to a running
service (gunicorn + an rq worker + real redis-server, SQLite) in batches, and report
events/s accepted and the lag from ingest to detection (median, p99).

The baseline, measured in the same run, is bare `json.loads` + `json.dumps` of the same
batches (what any HTTP client/server pair must at least do), so the figure reads as a
ratio on a shared, noisy machine.

    .venv/bin/python bench/live_ingest.py [--events N] [--batch 500] [--clients 3]
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lagwatch import LagWatch  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crisis import migrate  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.db import make_engine, make_sessionmaker  # noqa: E402
from crisis.ingest import backlog
from crisis.models import Incident  # noqa: E402
from crisis.tenancy import communities
from tests.live import process_env, wait_for  # noqa: E402
from tests.servers import RedisServer, free_port, wait_port  # noqa: E402

DEV = ROOT.parent / "shared" / "datasets" / "dev" / "events.ndjson.gz"


def load(path: Path, limit: int | None) -> dict[str, list[bytes]]:
    per_community: dict[str, list[bytes]] = defaultdict(list)
    with gzip.open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            community = json.loads(line)["community"]
            per_community[community].append(line.rstrip(b"\n"))
    return per_community


def baseline_rate(batches: list[bytes]) -> float:
    """Events/s of bare JSON parse + serialise over the same request bodies."""
    events = 0
    started = time.perf_counter()
    for body in batches:
        parsed = json.loads(body)
        json.dumps(parsed)
        events += len(parsed)
    return events / (time.perf_counter() - started)


def bodies(lines: list[bytes], batch: int) -> list[bytes]:
    return [b"[" + b",".join(lines[i:i + batch]) + b"]" for i in range(0, len(lines), batch)]


def post_all(port: int, slug: str, token: str, payloads: list[bytes], latencies: list[float],
             errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    for body in payloads:
        started = time.perf_counter()
        conn.request("POST", f"/api/v1/communities/{slug}/events", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        latencies.append(time.perf_counter() - started)
        if resp.status != 202:
            errors.append(f"{resp.status} {data[:200]!r}")
    conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEV)
    parser.add_argument("--events", type=int, default=None, help="only the first N events")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    streams = load(args.file, args.events)
    total = sum(len(v) for v in streams.values())
    payloads = {slug: bodies(lines, args.batch) for slug, lines in streams.items()}
    base = baseline_rate([b for p in payloads.values() for b in p])

    tmp = Path(tempfile.mkdtemp(prefix="crisis-bench-"))
    redis = RedisServer().start()
    config = Config(var_dir=tmp, database_url=f"sqlite:///{tmp / 'crisis.db'}", redis_url=redis.url,
                    secret_key="bench-secret-key-0123456789", sweep_interval=5.0)
    migrate.upgrade(config.database_url)
    engine = make_engine(config.database_url)
    sessions = make_sessionmaker(engine)
    tokens: dict[str, str] = {}
    with sessions() as session:
        for slug in streams:
            _, issued = communities.create_community(session, slug, name=slug, clock=SystemClock())
            tokens[slug] = issued.token
        session.commit()
    port = free_port()
    env = process_env(config)
    procs = [
        subprocess.Popen([sys.executable, "-m", "crisis", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                          "--threads", "4", "--no-access-log"], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "crisis", "worker", "--log-level", "WARNING"], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=open(tmp / "worker.log", "wb")),
    ]
    try:
        wait_port(port)
        latencies: list[float] = []
        errors: list[str] = []
        started = time.perf_counter()
        since = datetime.now(timezone.utc)
        watch = LagWatch(sessions).__enter__()
        threads = [threading.Thread(target=post_all, args=(port, slug, tokens[slug], payloads[slug], latencies, errors))
                   for slug in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started

        def done() -> bool:
            with sessions() as s:
                return backlog.pending_count(s) == 0

        wait_for(done, timeout=600, interval=0.5, message="the worker to drain")
        drained = time.perf_counter() - started
        time.sleep(0.1)
        watch.__exit__()
        lags = watch.lags(since)
        with sessions() as s:
            incidents = s.scalar(select(func.count()).select_from(Incident))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
        redis.cleanup()
        engine.dispose()

    rate = total / elapsed
    print(f"events posted            {total:,} in batches of {args.batch} ({len(streams)} clients)")
    print(f"accepted                 {rate:,.0f} events/s  (errors: {len(errors)})")
    print(f"baseline json parse+dump {base:,.0f} events/s  → ratio {rate / base:.3f}")
    print(f"request latency          p50 {percentile(latencies, 0.5) * 1000:.1f} ms"
          f"  p99 {percentile(latencies, 0.99) * 1000:.1f} ms")
    print(f"ingest → detection lag   median {statistics.median(lags):.2f} s  p99 {percentile(lags, 0.99):.2f} s")
    print(f"all processed after      {drained:.1f} s;  incidents opened: {incidents}")
    if errors:
        print("first errors:", errors[:3])


if __name__ == "__main__":
    main()
