"""Load on the production topology: PostgreSQL + redis-server + `crisis web` (gunicorn, 2 gthread
workers) + 2 rq workers, all on loopback, against a bare parse-only Flask endpoint in the same run.

Phase 1 drives both at full speed for --duration seconds (events/s accepted, latency p50/p99,
errors). Phase 2 drives crisis at half the capacity measured in phase 1 and reports the detector
lag p50/p99 (bench/lagwatch.py: the detectors' checkpoints sampled every 20 ms).

    .venv/bin/python bench/load.py [--duration 15] [--batch 100] [--clients 2] [--threads 4] [--wrk]

--wrk drives both endpoints with wrk (apt-get install wrk) and bench/wrk_ingest.lua instead of
the Python clients, which cannot build and send batches as fast as the bare endpoint takes them.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lagwatch import LagWatch, percentiles  # noqa: E402

from tests.ops import topology  # noqa: E402
from tests.servers import PostgresServer, RedisServer, free_port, wait_port  # noqa: E402

COMMUNITIES = 8


def make_batch(slug: str, size: int, seq: int) -> bytes:
    now = datetime.now(timezone.utc)
    tag = uuid.uuid4().hex[:10]
    events = [{"id": f"{tag}-{seq}-{i}", "type": "message.create" if i % 10 else "member.join",
               "ts": (now - timedelta(milliseconds=size - i)).isoformat(), "community": slug,
               "actor": {"id": f"u{(seq * size + i) % 5000}", "name": "someone"},
               "channel": "general", "content": f"ordinary chat line number {i} about the game tonight"}
              for i in range(size)]
    return json.dumps(events).encode()


def _client(args: tuple[str, int, list[tuple[str, str]], int, float, float, Any]) -> list[tuple[float, int]]:
    """One process, several threads; each posts fresh batches until the deadline."""
    import threading

    host_port, threads, targets, size, deadline, rate, _ = args
    host, port = host_port.split(":")
    out: list[tuple[float, int]] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        seq = n * 1_000_000
        interval = 1.0 / rate if rate else 0.0
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            path, token = targets[seq % len(targets)]
            body = make_batch(path.split("/")[4] if "/communities/" in path else "bare", size, seq)
            seq += 1
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                               "Authorization": f"Bearer {token}"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError:
                status = 0
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            with lock:
                out.append((time.perf_counter() - started, status))
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    workers = [threading.Thread(target=run, args=(i + 1,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


def drive(base: str, targets: list[tuple[str, str]], *, size: int, clients: int, threads: int, duration: float,
          rate_per_thread: float = 0.0) -> dict[str, float]:
    deadline = time.monotonic() + duration
    with mp.Pool(clients) as pool:
        parts = pool.map(_client, [(base, threads, targets, size, deadline, rate_per_thread, i)
                                   for i in range(clients)])
    samples = [s for part in parts for s in part]
    ok = [lat for lat, status in samples if status == 202]
    qs = statistics.quantiles(ok, n=100) if len(ok) >= 2 else [0.0] * 99
    return {"events_per_s": len(ok) * size / duration, "requests": len(samples),
            "errors": len(samples) - len(ok), "p50_ms": qs[49] * 1000, "p99_ms": qs[98] * 1000}


def drive_wrk(base: str, targets: list[tuple[str, str]], *, size: int, clients: int, threads: int,
              duration: float, rate_per_thread: float = 0.0) -> dict[str, float]:
    """Same figures as drive(), from wrk: `clients` wrk threads, clients*threads connections.
    wrk counts every non-2xx answer as an error (crisis and the bare endpoint answer 202)."""
    import os

    env = {**os.environ, "LOAD_TARGETS": ";".join(f"{p} {t or '-'}" for p, t in targets),
           "LOAD_BATCH": str(size), "LOAD_TS": datetime.now(timezone.utc).isoformat(),
           "LOAD_RATE": str(rate_per_thread), "LOAD_RUN": uuid.uuid4().hex[:12]}
    out = subprocess.run(["wrk", "-t", str(clients), "-c", str(clients * threads), "-d", f"{int(duration)}s",
                          "--timeout", "30s", "-s", str(ROOT / "bench" / "wrk_ingest.lua"), f"http://{base}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    secs = r["duration_us"] / 1e6
    ok = r["requests"] - r["errors"]
    return {"events_per_s": ok * size / secs, "requests": r["requests"], "errors": r["errors"],
            "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000}


def stored_events(topo: topology.Topology) -> int:
    """Events stored so far. Answered minus stored is what the generator sent twice: a
    benchmark of fresh batches must show at most 0 (duplicates are skipped, and cost less)."""
    with topo.sessions() as session:
        return int(session.execute(text("SELECT coalesce(sum(count), 0) FROM event_batches")).scalar_one())


def start_bare(var: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--threads", "4", "--worker-class", "gthread", "--chdir", str(ROOT / "bench"),
                             "bare_app:app"], stdout=open(var / "bare.log", "ab"), stderr=subprocess.STDOUT)
    wait_port(port)
    return proc, port


@contextmanager
def production_stack(prefix: str, db_name: str) -> Iterator[tuple[topology.Topology, subprocess.Popen[bytes], int,
                                                                   list[tuple[str, str]]]]:
    """PostgreSQL + redis-server + crisis (gunicorn 2x4, 2 rq workers) and the bare endpoint
    under the same gunicorn settings; yields the topology, the bare server, its port and the
    ingest targets of COMMUNITIES communities."""
    var = Path(tempfile.mkdtemp(prefix=prefix))
    pg, redis = PostgresServer().start(), RedisServer().start()
    bare, bare_port = start_bare(var)
    topo = topology.start(var, pg, redis, db_name=db_name, web_workers=2, rq_workers=2, sweep_interval=5.0)
    try:
        targets = [(f"/api/v1/communities/c{i}/events", topo.community(f"c{i}")) for i in range(COMMUNITIES)]
        yield topo, bare, bare_port, targets
    finally:
        topo.stop()
        bare.terminate()
        redis.cleanup()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wrk", action="store_true", help="drive with wrk + bench/wrk_ingest.lua")
    args = parser.parse_args()
    drive_fn = drive_wrk if args.wrk else drive
    with production_stack("crisis-load-", "load") as (topo, _bare, bare_port, targets):
        base = topo.web.url.removeprefix("http://")
        drive_kw = {"size": args.batch, "clients": args.clients, "threads": args.threads}
        bare_r = drive_fn(f"127.0.0.1:{bare_port}", [("/parse", "")], duration=args.duration, **drive_kw)
        stored_before = stored_events(topo)
        full = drive_fn(base, targets, duration=args.duration, **drive_kw)
        caught_up = time.monotonic()
        topo.wait_processed(timeout=600)
        # wrk's answered requests; up to one batch per connection may be stored unanswered at the end.
        full["repeated_events"] = ((full["requests"] - full["errors"]) * args.batch
                                   - (stored_events(topo) - stored_before))
        # End to end: the detectors' catch-up after the drive counts against the rate
        # (0.25 s resolution, the wait's polling interval).
        catch_up = time.monotonic() - caught_up
        full["detection_catch_up_s"] = round(catch_up, 2)
        full["events_per_s_end_to_end"] = round(full["events_per_s"] * args.duration / (args.duration + catch_up))
        half_rate = full["events_per_s"] / 2 / args.batch / (args.clients * args.threads)
        since = datetime.now(timezone.utc)
        with LagWatch(topo.sessions) as watch:
            half = drive_fn(base, targets, duration=args.duration, rate_per_thread=half_rate, **drive_kw)
            topo.wait_processed(timeout=600)
            time.sleep(0.1)
        lags = watch.lags(since)
        (p50, p99), n = percentiles(lags), len(lags)
        print(json.dumps({"generator": "wrk" if args.wrk else "python", "batch": args.batch,
                          "duration_s": args.duration, "bare_parse_only": bare_r,
                          "crisis_full_speed": full, "crisis_half_capacity": half,
                          "detector_lag_at_half_s": {"p50": round(p50, 3), "p99": round(p99, 3), "events": n},
                          "ratio_to_parse_only": round(full["events_per_s"] / max(bare_r["events_per_s"], 1), 3),
                          "ratio_end_to_end": round(full["events_per_s_end_to_end"] / max(bare_r["events_per_s"], 1),
                                                    3)},
                         indent=2))

if __name__ == "__main__":
    main()
