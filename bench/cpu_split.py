"""Where the CPU goes under load: the production topology (bench/load.py's) is driven at full
speed with wrk, then left to finish detection, and the CPU time of each part (PostgreSQL,
gunicorn, rq workers with their reaped work horses, redis-server, wrk) is read from /proc before
and after. Printed as CPU milliseconds per 100 accepted events, beside the bare parse-only
endpoint measured the same way in the same run.

    .venv/bin/python bench/cpu_split.py [--duration 8]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import drive_wrk, production_stack  # noqa: E402


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


def reaped_cpu() -> float:
    """CPU seconds of this process's reaped children (wrk, run by subprocess.run)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(base: str, targets: list[tuple[str, str]], duration: float,
             parts: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """wrk at full speed against `base`; its figures and CPU ms per 100 events by part."""
    settle = parts.pop("_settle", None)
    before = {k: tree_cpu(f()) for k, f in parts.items()}
    wrk_before = reaped_cpu()
    result = drive_wrk(base, targets, size=100, clients=2, threads=4, duration=duration)
    wrk = reaped_cpu() - wrk_before
    if settle:  # the detection work the load left behind counts too
        settle()
    after = {k: tree_cpu(f()) for k, f in parts.items()}
    events = (result["requests"] - result["errors"]) * 100
    per100 = {k: round(1000 * (after[k] - before[k]) / events * 100, 2) for k in parts}
    per100["wrk"] = round(1000 * wrk / events * 100, 2)
    return result, per100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    with production_stack("crisis-cpu-", "cpu") as (topo, bare, bare_port, targets):
        assert topo.web.proc is not None and topo.redis.proc is not None
        pg_pid = _postmaster(topo.config.database_url)
        bare_r, bare_cpu = measured(f"127.0.0.1:{bare_port}", [("/parse", "")], args.duration,
                                    {"gunicorn": lambda: [bare.pid]})
        parts: dict[str, Any] = {
            "postgres": lambda: [pg_pid], "web": lambda: [topo.web.proc.pid],  # type: ignore[union-attr]
            "rq workers": lambda: [w.proc.pid for w in topo.workers if w.proc is not None],
            "redis": lambda: [topo.redis.proc.pid],  # type: ignore[union-attr]
            "_settle": lambda: topo.wait_processed(timeout=600)}
        jobs_before = _jobs_done(topo.config.redis_url)
        full, per100 = measured(topo.web.url.removeprefix("http://"), targets, args.duration, parts)
        jobs = _jobs_done(topo.config.redis_url) - jobs_before
        with topo.sessions() as session:
            states = session.execute(text("SELECT version, octet_length(state::text) FROM detector_states")).all()
        print(json.dumps({
            "bare": {**bare_r, "cpu_ms_per_100_events": bare_cpu},
            "crisis": {**full, "cpu_ms_per_100_events": per100,
                       "total_ms_per_100_events": round(sum(per100.values()), 2)},
            "rq_jobs": jobs,
            "checkpoints": {"written": sum(v for v, _ in states),
                            "mean_kib": round(sum(n for _, n in states) / max(len(states), 1) / 1024, 1)},
            "ratio": round(full["events_per_s"] / bare_r["events_per_s"], 3)}, indent=2))


def _jobs_done(redis_url: str) -> int:
    """Jobs the rq workers have finished, failed ones included (rq's own worker counters)."""
    from redis import Redis
    from rq import Worker

    workers = Worker.all(connection=Redis.from_url(redis_url))
    return sum(w.successful_job_count + w.failed_job_count for w in workers)


def _postmaster(database_url: str) -> int:
    """The PostgreSQL server's pid: the parent of the backend serving a fresh connection."""
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        return psutil.Process(backend).ppid()


if __name__ == "__main__":
    main()
