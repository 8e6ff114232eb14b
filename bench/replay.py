"""Replay throughput: run_stream vs bare json.loads of the same lines, in the same process.

    .venv/bin/python bench/replay.py                      # both cases, each in its own process
    .venv/bin/python bench/replay.py --case dev [events.ndjson.gz]
    .venv/bin/python bench/replay.py --case shifted [--copies 4]

Cases:

* dev: the dev set (303,283 events, 3 communities).
* shifted: the dev set's communities copied with shifted names, account ids and times
  (bench/shifted_stream.py: 4 copies give 1,213,132 events in 12 communities), to show
  the ratio holds as the stream and the number of communities grow.

Per case it prints events/s (best of 3 alternating runs) for json.loads alone and for two
full replays of the same lines, each against that one json.loads baseline:

* run_stream (dicts): json.loads per line, then run_stream (parse_event + detect). This is
  the figure of issue 18 as first measured; its ratio is "ratio".
* run_stream (typed lines): the product path of `crisis replay` / `crisis backtest`
  (crisis.detection.wire.events_from_lines: msgspec decodes each line straight into the
  Event, no dict), then the same run_stream; its ratio is "ratio, typed lines".

Target for the ratio: >= 0.5 (detection costs at most what json.loads costs). It also
prints the peak RSS (ru_maxrss) and how much of it the lines themselves take (they are held
in memory so that no loop reads a file). Each case runs in a child process, so each peak
is its own.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from shifted_stream import COPIES, shifted_lines  # noqa: E402

from crisis.detection.stream_replay import run_stream  # noqa: E402
from crisis.detection.wire import events_from_lines  # noqa: E402

DEV = str(ROOT.parent / "shared" / "datasets" / "dev" / "events.ndjson.gz")
REPEAT = 3
TARGET = 0.5


def read_lines(path: str) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path) as fh:
        return [ln for ln in fh if ln.strip()]


def rss_mb() -> float:
    """Resident set size now (ru_maxrss is only the peak)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(name: str, lines: list[str], held_mb: float) -> None:
    n = len(lines)
    loads = json.loads
    t_json, t_run, t_typed = float("inf"), float("inf"), float("inf")
    incidents: list[dict[str, object]] = []
    typed: list[dict[str, object]] = []
    for _ in range(REPEAT):  # alternate and keep the best of each: the machine is shared
        t0 = time.perf_counter()
        for ln in lines:
            loads(ln)
        t_json = min(t_json, time.perf_counter() - t0)
        t0 = time.perf_counter()
        incidents = run_stream(loads(ln) for ln in lines)
        t_run = min(t_run, time.perf_counter() - t0)
        t0 = time.perf_counter()
        typed = run_stream(events_from_lines(lines))
        t_typed = min(t_typed, time.perf_counter() - t0)
    if typed != incidents:
        raise SystemExit(f"[{name}] the typed path opened other incidents than the dict path")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    communities = len({i["community"] for i in incidents})
    print(f"[{name}] events: {n:,}, communities with incidents: {communities}")
    print(f"[{name}] json.loads only          : {n / t_json:12,.0f} events/s ({t_json:.2f} s)")
    for label, t, found in (("run_stream (dicts)      ", t_run, incidents),
                            ("run_stream (typed lines)", t_typed, typed)):
        print(f"[{name}] {label} : {n / t:12,.0f} events/s ({t:.2f} s, {len(found)} incidents)")
    print(f"[{name}] ratio                    : {t_json / t_run:.2f} (target >= {TARGET})")
    print(f"[{name}] ratio, typed lines       : {t_json / t_typed:.2f} (same json.loads baseline)")
    print(f"[{name}] peak RSS                 : {peak:.0f} MB (ru_maxrss; the lines held take {held_mb:.0f} MB of it)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events", nargs="?", default=DEV)
    ap.add_argument("--case", choices=("dev", "shifted", "both"), default="both")
    ap.add_argument("--copies", type=int, default=COPIES)
    a = ap.parse_args()
    if a.case == "both":
        for case in ("dev", "shifted"):
            subprocess.run([sys.executable, __file__, a.events, "--case", case, "--copies", str(a.copies)],
                           check=True)
        return
    before = rss_mb()
    lines = read_lines(a.events)
    if a.case == "shifted":
        lines = list(shifted_lines(lines, a.copies))
    measure(a.case, lines, rss_mb() - before)


if __name__ == "__main__":
    main()
