"""CPU cost of one ingest request, in process: the real app (Flask test client) on a real
PostgreSQL (or SQLite) and redis-server, N fresh 100-event batches, cProfile around them.
Counts SQL statements and Redis commands per request too. No gunicorn, no load generator
competing for the cores, so the figure is the handler's own cost.

    .venv/bin/python bench/profile_request.py [--db postgres|sqlite] [--requests 300] [--top 30]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import make_batch  # noqa: E402
from sqlalchemy import event  # noqa: E402

from crisis import migrate, runtime  # noqa: E402
from crisis.app import create_app  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.tenancy import communities
from tests.servers import PostgresServer, RedisServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="postgres", choices=["postgres", "sqlite"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="time only (cProfile adds ~2x)")
    parser.add_argument("--detect", action="store_true", help="also run the detect job after each request")
    parser.add_argument("--detect-every", type=int, default=0, metavar="N",
                        help="run the detect job after every N requests (under load a drain takes ~30 batches)")
    args = parser.parse_args()
    if args.detect:
        args.detect_every = 1
    tmp = Path(tempfile.mkdtemp(prefix="crisis-req-"))
    redis = RedisServer().start()
    pg = PostgresServer().start() if args.db == "postgres" else None
    url = pg.create_database("req") if pg else f"sqlite:///{tmp / 'crisis.db'}"
    migrate.upgrade(url)
    try:
        config = Config(var_dir=tmp, database_url=url, redis_url=redis.url, secret_key="bench-secret-0123456789")
        app = create_app(config, clock=SystemClock())
        rt = runtime.current()
        with rt.sessions() as s:
            _, issued = communities.create_community(s, "c0", name="c0", clock=SystemClock())
            s.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        bodies = [make_batch("c0", args.batch, i) for i in range(args.requests + 20)]
        statements = 0

        timings: dict[str, list[float]] = {}

        @event.listens_for(rt.engine, "before_cursor_execute")
        def _count(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
            nonlocal statements
            statements += 1
            conn.info["crisis_t0"] = time.perf_counter()

        @event.listens_for(rt.engine, "after_cursor_execute")
        def _timed(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
            timings.setdefault(" ".join(statement.split())[:70], []).append(
                time.perf_counter() - conn.info["crisis_t0"])

        for body in bodies[:20]:  # warm up
            assert client.post("/api/v1/communities/c0/events", data=body, headers=headers).status_code == 202
        from crisis.jobs import entrypoints
        if args.detect_every:
            entrypoints.detect(1)
        r = rt.redis
        r.config_resetstat()
        statements = 0
        timings.clear()
        prof = cProfile.Profile()
        started = time.perf_counter()
        cpu = time.process_time()
        if not args.no_profile:
            prof.enable()
        for i, body in enumerate(bodies[20:], start=1):
            resp = client.post("/api/v1/communities/c0/events", data=body, headers=headers)
            assert resp.status_code == 202, resp.data
            if args.detect_every and i % args.detect_every == 0:
                entrypoints.detect(1)
        prof.disable()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - started
        redis_calls = sum(v["calls"] for k, v in r.info("commandstats").items() if "resetstat" not in k)
        n = args.requests
        print(f"{n} requests of {args.batch}: wall {wall / n * 1000:.2f} ms/request, client-process CPU "
              f"{cpu / n * 1000:.2f} ms/request = {cpu / n / args.batch * 1e6:.1f} µs/event "
              f"({n * args.batch / wall:,.0f} events/s one thread{'' if args.no_profile else ', profiler on'})")
        print(f"SQL statements per request: {statements / n:.1f}; Redis commands per request: {redis_calls / n:.1f}")
        for stmt, ts in sorted(timings.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {len(ts):6d} x {sum(ts) / len(ts) * 1000:7.2f} ms  {stmt}")
        if not args.no_profile:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    finally:
        runtime.reset()
        redis.cleanup()
        if pg:
            pg.stop()


if __name__ == "__main__":
    main()
