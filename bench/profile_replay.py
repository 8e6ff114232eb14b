"""Where run_stream spends its time on the dev set (cProfile, sorted by own time).

    .venv/bin/python bench/profile_replay.py [events.ndjson.gz] [--top N] [--sort tottime|cumtime]

The lines are json-decoded before profiling starts, so the table shows detection
and parsing only. cProfile adds a fixed cost per call, which inflates small
functions called per event: read the table for ranking, and bench/replay.py for speed.
"""
from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisis.detection.stream_replay import run_stream  # noqa: E402

DEV = str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "dev" / "events.ndjson.gz")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events", nargs="?", default=DEV)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="tottime", choices=("tottime", "cumtime"))
    a = ap.parse_args()
    opener = gzip.open if a.events.endswith(".gz") else open
    with opener(a.events, "rt", encoding="utf-8") as fh:
        raws = [json.loads(ln) for ln in fh if ln.strip()]
    prof = cProfile.Profile()
    prof.enable()
    incidents = run_stream(iter(raws))
    prof.disable()
    print(f"events: {len(raws)}, incidents: {len(incidents)}")
    pstats.Stats(prof).strip_dirs().sort_stats(a.sort).print_stats(a.top)


if __name__ == "__main__":
    main()
