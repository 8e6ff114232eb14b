"""Run the count-rate detector's numeric mode over NAB and score it.

    .venv/bin/python bench/nab.py [--nab ../shared/nab] [--out var/nab] [--score]

Every row is scored strictly online by `ValueRate.observe_value` (the same
class that watches report/join/leave rates) before the model learns it. The
anomaly score is -log10(p)/10 clipped to [0, 1], so the fixed threshold 0.5 means
p < 1e-5. Alarms are paged once per episode, as in the incident pipeline: after
an alarm, rows stay at 0 until the surprise has been quiet (p > 1e-2) for
QUIET rows. On by default: the window-shape novelty test (window_novelty.py;
--novelty context|both|none for the symbol-sequence test of novelty.py, both or
neither) and the record rule for single-row surprises (recent.py; --no-record):
a record must beat the last MEMORY rows' maximum by 5 % of it (RECORD_MARGIN,
the range rule's tolerance). Both judge the last MEMORY rows. Also on: the flatline
test (flatline.py; --no-flatline): a run of identical values whose chance under a
Markov model of the series' own repeats (last MEMORY rows) is below alpha. Also on: the day-shape novelty test
(block_novelty.py; --no-block-novelty): the means of 3-hour blocks of event time,
a day of them to a window, against the nearest past days; a block pages only if its
surprise beats those of the 7 blocks before it, whose windows overlap it. Also on: the range rule (range_rule.py;
--no-range-rule): after 100 rows, a value beyond the minimum or maximum seen so
far by more than 5 % of that range pages at once. Off unless asked for: CAD OSE's
context detector (contexts.py; --contexts), a separate channel with its own rest
rule whose alarm level 0.75 maps to 0.5; the row's score is the larger of the
two. It makes a run about eight times slower. Also off unless asked for: the dispersion
test (dispersion.py; --dispersion), a count of row-to-row changes beyond the upper decile
of the last MEMORY rows' changes in windows of 32-256 rows, against a Markov chain fitted
to them (it gains three windows and adds false positives: docs/detection.md, issue 18's
fourth round). Files are scored in parallel (--jobs).
--score runs nabscore.py (numpy/pandas) with the optimised threshold and with
the fixed threshold 0.5.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crisis.detection.nab.valuemode import ValueRate  # noqa: E402

DETECTOR = "crisisSeasonal"
FIXED_THRESHOLD = 0.5  # chosen before scoring: p < 1e-5
QUIET = 15  # rows of calm before a new episode may page again
CONTEXT_ALARM = 0.75  # CAD OSE's own alarm level (its baseThreshold)
MEMORY = 1000  # rows of "recent past" for the window novelty test and the record rule
RECORD_MARGIN = 0.05  # a record beats the old maximum by 5 % of it: the range rule's tolerance


def score_file(path: Path, suppress: bool = True, novelty: str = "window",
               record: bool = True, contexts: bool = False, range_rule: bool = True,
               block: bool = True, flatline: bool = True,
               dispersion: bool = False) -> list[tuple[str, str, float]]:
    rate = ValueRate(k_hod=60.0, k_how=60.0)
    rate.prior_minutes = 1e-9
    if novelty in ("context", "both"):
        rate.enable_novelty()
    if novelty in ("window", "both"):
        rate.enable_window_novelty(memory=MEMORY)
    if block:
        rate.enable_block_novelty()
    if record:
        rate.enable_record_rule(memory=MEMORY, margin=RECORD_MARGIN)
    if flatline:
        rate.enable_flatline(memory=MEMORY)
    if dispersion:
        rate.enable_dispersion(memory=MEMORY)
    if contexts:
        rate.enable_contexts()
    if range_rule:
        rate.enable_range_rule()
    out, calm, in_episode = [], 0, False
    with path.open() as fh:
        for row in csv.DictReader(fh):
            ts = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=timezone.utc).timestamp()
            lp = rate.observe_value(ts, float(row["value"]))
            score = min(1.0, -lp / math.log(10) / 10.0)
            if suppress:
                if in_episode:
                    calm = calm + 1 if score < 0.2 else 0
                    if calm >= QUIET:
                        in_episode = False
                    score = 0.0
                elif score >= FIXED_THRESHOLD:
                    in_episode, calm = True, 0
            if contexts:  # pages on its own rest rule; its alarm level 0.75 maps to 0.5
                score = max(score, rate.context_score * FIXED_THRESHOLD / CONTEXT_ALARM)
            out.append((row["timestamp"], row["value"], round(score, 6)))
    return out


def write_file(path: Path, out: Path, suppress: bool, novelty: str, record: bool, contexts: bool,
               range_rule: bool, block: bool, flatline: bool, dispersion: bool) -> None:
    dest = out / DETECTOR / path.parent.name / f"{DETECTOR}_{path.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score", "label"])
        for ts, v, sc in score_file(path, suppress=suppress, novelty=novelty, record=record, contexts=contexts,
                                    range_rule=range_rule, block=block, flatline=flatline,
                                    dispersion=dispersion):
            w.writerow([ts, v, sc, 0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nab", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "nab"))
    ap.add_argument("--out", default="var/nab")
    ap.add_argument("--no-suppress", action="store_true")
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--novelty", choices=("window", "context", "both", "none"), default="window",
                    help="novelty test(s) combined with the residual test (default: window shape)")
    ap.add_argument("--no-record", action="store_true", help="without the record rule for single-row surprises")
    ap.add_argument("--contexts", action="store_true",
                    help="with the CAD OSE context detector (its range frozen after 750 rows: NAB only; ~8x slower)")
    ap.add_argument("--no-range-rule", action="store_true",
                    help="without the range rule (a value beyond the range seen so far, after 100 rows, "
                         "by 5 %% of it, pages at once)")
    ap.add_argument("--no-block-novelty", action="store_true",
                    help="without the day-shape novelty test (3-hour blocks, 8 to a window)")
    ap.add_argument("--no-flatline", action="store_true",
                    help="without the flatline test (a run of identical values, judged by a Markov model of "
                         "the series' repeats over the last MEMORY rows)")
    ap.add_argument("--dispersion", action="store_true",
                    help="with the dispersion test (the row-to-row changes of the last 32-256 rows against "
                         "the MEMORY rows before: a count beyond their upper decile, Markov null)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    nab, out = Path(a.nab), Path(a.out)
    paths = sorted((nab / "data").glob("*/*.csv"))
    jobs = [(p, out, not a.no_suppress, a.novelty, not a.no_record, a.contexts, not a.no_range_rule,
             not a.no_block_novelty, not a.no_flatline, a.dispersion) for p in paths]
    with Pool(a.jobs) as pool:  # files are independent: one process per core
        pool.starmap(write_file, jobs)
    if a.score:
        scorer = [sys.executable, str(nab / "nabscore.py"), "--nab", str(nab), "--results", str(out), "-d", DETECTOR]
        subprocess.run(scorer, check=True)
        fixed = out / "fixed_thresholds.json"
        fixed.write_text(json.dumps({DETECTOR: {p: {"threshold": FIXED_THRESHOLD} for p in
                                                ("standard", "reward_low_FP_rate", "reward_low_FN_rate")}}))
        subprocess.run(scorer + ["--thresholds", str(fixed)], check=True)


if __name__ == "__main__":
    main()
