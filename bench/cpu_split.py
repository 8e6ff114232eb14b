"""Where the CPU goes under load: the production topology (as bench/load.py starts it) is
driven at full speed with wrk, then left to finish detection, and the CPU time of each part
(PostgreSQL, gunicorn, rq workers with their reaped work horses, redis-server, wrk) is read
from /proc before and after. Printed as CPU milliseconds per 100 accepted events, beside the
bare parse-only endpoint measured the same way in the same run.

    .venv/bin/python bench/cpu_split.py [--duration 8]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import COMMUNITIES, start_bare  # noqa: E402
from tests.ops import topology  # noqa: E402
from tests.servers import PostgresServer, RedisServer  # noqa: E402


def tree_cpu(pids: list[int]) -> float:
    """User+system seconds of these processes, their live descendants and reaped children."""
    total, seen = 0.0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def postmaster(pg: PostgresServer) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def run_wrk(base: str, targets: list[tuple[str, str]], duration: float) -> tuple[dict[str, float], float]:
    """wrk at full speed; returns its figures and its own CPU seconds."""
    import os
    from datetime import datetime, timezone

    env = {**os.environ, "LOAD_TARGETS": ";".join(f"{p} {t or '-'}" for p, t in targets),
           "LOAD_BATCH": "100", "LOAD_TS": datetime.now(timezone.utc).isoformat(), "LOAD_RATE": "0"}
    proc = psutil.Popen(["wrk", "-t", "2", "-c", "8", "-d", f"{int(duration)}s", "--timeout", "30s",
                         "-s", str(ROOT / "bench" / "wrk_ingest.lua"), f"http://{base}"],
                        env=env, stdout=subprocess.PIPE, text=True)
    cpu = 0.0
    while proc.poll() is None:
        try:
            t = proc.cpu_times()
            cpu = t.user + t.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    out = proc.stdout.read() if proc.stdout else ""
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    ok = r["requests"] - r["errors"]
    return {"events": ok * 100, "events_per_s": ok * 100 / (r["duration_us"] / 1e6), "errors": r["errors"]}, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="crisis-cpu-"))
    pg, redis = PostgresServer().start(), RedisServer().start()
    bare, bare_port = start_bare(var)
    topo = topology.start(var, pg, redis, db_name="cpu", web_workers=2, rq_workers=2, sweep_interval=5.0)
    try:
        targets = [(f"/api/v1/communities/c{i}/events", topo.community(f"c{i}")) for i in range(COMMUNITIES)]
        assert topo.web.proc is not None and redis.proc is not None
        parts = {"postgres": lambda: [postmaster(pg)], "web": lambda: [topo.web.proc.pid],  # type: ignore[union-attr]
                 "rq workers": lambda: [w.proc.pid for w in topo.workers if w.proc is not None],
                 "redis": lambda: [redis.proc.pid]}  # type: ignore[union-attr]
        bare_before = tree_cpu([bare.pid])
        bare_r, bare_wrk = run_wrk(f"127.0.0.1:{bare_port}", [("/parse", "")], args.duration)
        bare_cpu = tree_cpu([bare.pid]) - bare_before
        before = {k: tree_cpu(f()) for k, f in parts.items()}
        full, wrk_cpu = run_wrk(topo.web.url.removeprefix("http://"), targets, args.duration)
        topo.wait_processed(timeout=600)
        after = {k: tree_cpu(f()) for k, f in parts.items()}
        with topo.sessions() as session:
            states = session.execute(text("SELECT version, octet_length(state::text) FROM detector_states")).all()
        per100 = {k: round(1000 * (after[k] - before[k]) / full["events"] * 100, 2) for k in parts}
        per100["wrk"] = round(1000 * wrk_cpu / full["events"] * 100, 2)
        print(json.dumps({
            "bare": {**bare_r, "cpu_ms_per_100_events": {"gunicorn": round(1000 * bare_cpu / bare_r["events"] * 100, 2),
                                                          "wrk": round(1000 * bare_wrk / bare_r["events"] * 100, 2)}},
            "crisis": {**full, "cpu_ms_per_100_events": per100,
                       "total_ms_per_100_events": round(sum(per100.values()), 2)},
            "checkpoints": {"written": sum(v for v, _ in states),
                            "mean_kib": round(sum(n for _, n in states) / max(len(states), 1) / 1024, 1)},
            "ratio": round(full["events_per_s"] / bare_r["events_per_s"], 3)}, indent=2))
    finally:
        topo.stop()
        bare.terminate()
        redis.cleanup()
        pg.stop()


if __name__ == "__main__":
    main()
