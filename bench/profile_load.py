"""Profile the production topology under load: py-spy records every gunicorn worker and
rq worker (with its forked work horses) while bench/load.py's generator drives crisis at
full speed, and Redis INFO commandstats counts the commands per request.

    .venv/bin/python bench/profile_load.py [--duration 10] [--out /tmp/crisis-profile]

Read the raw (collapsed) stacks with e.g.
    python bench/profile_load.py --summarize /tmp/crisis-profile/web0.txt
"""
from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def summarize(path: Path, top: int = 40) -> None:
    """Inclusive sample share per function (file:function) from py-spy's raw format."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0] + " " + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] \
                if " (" in frame else frame
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
    print(f"{path.name}: {total} samples")
    for name, n in inclusive.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/crisis-profile"))
    parser.add_argument("--format", default="raw", choices=["raw", "flamegraph", "speedscope"])
    parser.add_argument("--summarize", type=Path, nargs="*")
    parser.add_argument("--wrk", action="store_true", help="drive with wrk (bench/load.py --wrk) instead of Python")
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL: CPU spent in Python, not time waiting in C")
    args = parser.parse_args()
    if args.summarize:
        for path in args.summarize:
            summarize(path)
        return

    import redis as redis_lib
    from load import COMMUNITIES, drive, drive_wrk

    from tests.ops import topology
    from tests.servers import PostgresServer, RedisServer

    args.out.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="crisis-prof-"))
    pg, redis = PostgresServer().start(), RedisServer().start()
    topo = topology.start(var, pg, redis, db_name="prof", web_workers=2, rq_workers=2, sweep_interval=5.0)
    spies: list[subprocess.Popen[bytes]] = []
    try:
        targets = [(f"/api/v1/communities/c{i}/events", topo.community(f"c{i}")) for i in range(COMMUNITIES)]
        assert topo.web.proc is not None
        # Warm up: every worker imported and every community's detector state written.
        drive(topo.web.url.removeprefix("http://"), targets, size=100, clients=1, threads=2, duration=2.0)
        topo.wait_processed(timeout=120)
        pids = {f"web{i}": pid for i, pid in enumerate(children(topo.web.proc.pid))}
        pids.update({w.name: w.proc.pid for w in topo.workers if w.proc is not None})
        r = redis_lib.Redis.from_url(redis.url)
        r.config_resetstat()
        ext = {"raw": "txt", "flamegraph": "svg", "speedscope": "json"}[args.format]
        for name, pid in pids.items():
            spies.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--subprocesses",
                 "--rate", "100", "--duration", str(int(args.duration)), "--format", args.format,
                 "--output", str(args.out / f"{name}.{ext}"), "--nonblocking", *(["--gil"] if args.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)
        result = (drive_wrk if args.wrk else drive)(topo.web.url.removeprefix("http://"), targets, size=100,
                                                    clients=2, threads=4, duration=args.duration)
        for spy in spies:
            spy.wait(60)
        stats = {k.removeprefix("cmdstat_"): v["calls"] for k, v in r.info("commandstats").items()}
        topo.wait_processed(timeout=600)
        print(json.dumps({"drive": result, "redis_calls": stats,
                          "redis_calls_per_request": round(sum(stats.values()) / max(result["requests"], 1), 1)},
                         indent=2))
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.terminate()
        topo.stop()
        redis.cleanup()
        pg.stop()


if __name__ == "__main__":
    main()
