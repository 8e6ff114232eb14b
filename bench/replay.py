"""Replay throughput: run_stream on the dev set vs bare json.loads of the same lines.

    .venv/bin/python bench/replay.py [events.ndjson.gz]

Prints events/s (best of 3 alternating runs) for json.loads alone and for the
full replay (json.loads + parse + detect), their ratio (target >= 0.33: detection costs at most twice parsing),
and peak RSS (ru_maxrss).
"""
from __future__ import annotations

import gzip
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisis.detection.stream_replay import run_stream  # noqa: E402

DEV = str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "dev" / "events.ndjson.gz")
REPEAT = 3


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else DEV
    with gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path) as fh:
        lines = [ln for ln in fh if ln.strip()]
    n = len(lines)
    loads = json.loads
    t_json, t_run, incidents = float("inf"), float("inf"), []
    for _ in range(REPEAT):  # alternate and keep the best of each: the machine is shared
        t0 = time.perf_counter()
        for ln in lines:
            loads(ln)
        t_json = min(t_json, time.perf_counter() - t0)
        t0 = time.perf_counter()
        incidents = run_stream(loads(ln) for ln in lines)
        t_run = min(t_run, time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events: {n}")
    print(f"json.loads only : {n / t_json:12,.0f} events/s ({t_json:.2f} s)")
    print(f"run_stream      : {n / t_run:12,.0f} events/s ({t_run:.2f} s, {len(incidents)} incidents)")
    print(f"ratio           : {t_json / t_run:.2f} (target >= 0.33)")
    print(f"peak RSS        : {rss_mb:.0f} MB (ru_maxrss, includes the lines held in memory)")


if __name__ == "__main__":
    main()
