"""`SeasonalRate`'s value mode: numeric series scored row by row (the NAB benchmark only:
`ValueRate`, below; the live detectors count events and never load this package).

Count mode (`add`, `surprise`) is what the live detectors use; value mode shares
its seasonal buckets (sums of values per hour of day / week instead of counts per
minute) and adds a residual test and opt-in tests of its own. Its state appears
in a checkpoint only once value mode has been used, options included, so a
resumed series scores exactly as before.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from crisis.detection.nab.block_novelty import BlockNovelty
from crisis.detection.nab.contexts import ContextDetector
from crisis.detection.nab.dispersion import DispersionTest
from crisis.detection.nab.flatline import FlatlineTest
from crisis.detection.nab.novelty import ContextNovelty, NoveltyLikelihood
from crisis.detection.nab.range_rule import RangeRule
from crisis.detection.nab.recent import push_record
from crisis.detection.nab.window_novelty import WindowNovelty
from crisis.detection.seasons import hour_of_week
from crisis.detection.stats import SeasonalRate
from crisis.detection.tails import log_normal_sf as _log_normal_sf

# log p given to a value beyond the range seen (p = 1e-10): above every alarm level.
RANGE_LOG_P = -10.0 * math.log(10.0)


class ValueMode:
    """Mixed into SeasonalRate by ValueRate; uses its buckets (cg/eg, ch/eh, cw/ew), decay and predict()."""

    v: dict[str, Any]
    cg: float
    eg: float
    ch: list[float]
    eh: list[float]
    cw: list[float]
    ew: list[float]
    decay_g: float
    decay_b: float

    predict: Callable[[int], tuple[float, float]]  # SeasonalRate's

    def _init_value_mode(self) -> None:
        self.v = {}  # value-mode state (observe_value), empty in count mode
        self.v_windows = (1, 10)  # rows averaged by the value-mode test
        self.v_rates = (0.3, 0.01, 0.01)  # EWMA rates: level, deviations, residual scores
        self.v_regime = 10  # rows in the regime-change mean (value mode)
        self.v_slow_rate = 0.01  # EWMA rate of the slow level it is compared with
        self.v_record = 0  # rows of the record rule (enable_record_rule); 0: off
        self.v_record_margin = 0.0  # share of the previous maximum a record must beat it by
        # Opt-in tests, off by default (bench/nab.py turns them on).
        self.novelty: ContextNovelty | None = None
        self.novelty_lik: NoveltyLikelihood | None = None
        self.window_nov: WindowNovelty | None = None
        self.window_lik: NoveltyLikelihood | None = None
        self.block_nov: BlockNovelty | None = None
        self.contexts: ContextDetector | None = None
        self.context_score = 0.0  # the context detector's score of the last row (CAD scale)
        self.range_rule: RangeRule | None = None
        self.flatline: FlatlineTest | None = None
        self.dispersion: DispersionTest | None = None

    def observe_value(self, ts: float, x: float) -> float:
        """Score a numeric observation, then learn it; returns log p (<= 0).

        The same seasonal buckets learn the mean value per hour of day / week
        (sums of values over rows instead of counts over minutes). A value is
        surprising when it is far both from the local level (EWMA) and from the
        seasonal mean, in units of their mean absolute deviations. A change of
        regime is surprising too: the mean of the last `v_regime` rows against a
        slow level (EWMA rate `v_slow_rate`), in units of that mean's usual
        deviation from it; the residual score is the larger of the two. Like the
        count windows, the surprise is judged over short windows of recent rows
        (1 and 10): the mean of recent residual scores is compared with their
        long-run mean and spread (an "anomaly likelihood"), so one noisy point
        in a noisy series is not an anomaly but a sustained shift is. Opt-in
        options: the record rule (enable_record_rule) restricts the 1-row
        window; the novelty tests (enable_novelty, enable_window_novelty) are
        Bonferroni-combined with the residual test; so are the day-shape test
        (enable_block_novelty), the flatline test (enable_flatline) and the
        dispersion test (enable_dispersion).
        """
        v = self.v
        m = int(ts // 60)
        if not v:
            v.update(level=x, dev_l=0.0, dev_s=0.0, n=0, hist=[], rmean=0.0, rvar=0.0,
                     slow=x, dev_r=0.0, recent=[])
        seas, _ = self.predict(m) if self.eg > 0 else (x, 0.0)
        eps = 1e-9 + 1e-6 * abs(v["level"])
        z_l = abs(x - v["level"]) / (v["dev_l"] + eps)
        z_s = abs(x - seas) / (v["dev_s"] + eps)
        peak = min(z_l, z_s) if v["n"] > 2 else 0.0  # uncapped, for the record rule
        raw = min(peak, 50.0)
        rec = v["recent"]
        rec.append(x)
        if len(rec) > self.v_regime:
            del rec[0]
        rec_mean = sum(rec) / len(rec)
        if v["n"] > self.v_regime:
            z_r = abs(rec_mean - v["slow"]) / (v["dev_r"] + eps)
            raw = max(raw, min(z_r, 50.0))
            peak = max(peak, z_r)
        single = True  # may the 1-row window page?
        if self.v_record:
            # Residuals from before the scales have averaged 1/rate rows are not
            # comparable with later ones: they enter the record queue as 0.
            warm = v["n"] * self.v_rates[1] >= 1.0
            single = push_record(v.setdefault("peaks", []), v["n"], peak if warm else 0.0, self.v_record,
                                 self.v_record_margin)
        hist = v["hist"]
        hist.append(raw)
        if len(hist) > max(self.v_windows):
            del hist[0]
        lp = 0.0
        if v["n"] >= 30 and v["rvar"] > 0:
            sd = math.sqrt(v["rvar"])
            for w in self.v_windows:
                if w == 1 and not single:
                    continue
                mean_w = sum(hist[-w:]) / min(w, len(hist))
                zz = (mean_w - v["rmean"]) / sd
                lp = min(lp, _log_normal_sf(zz))
        a_slow = self.v_slow_rate
        v["dev_r"] += a_slow * (abs(rec_mean - v["slow"]) - v["dev_r"]) if v["n"] else 0.0
        v["slow"] += a_slow * (x - v["slow"])
        self._learn_value(m, x, seas, raw)
        tests = [lp]
        if self.novelty is not None and self.novelty_lik is not None:
            tests.append(self.novelty_lik.observe(self.novelty.observe(x)))
        if self.window_nov is not None and self.window_lik is not None:
            tests.append(self.window_lik.observe(self.window_nov.observe(x)))
        if self.block_nov is not None:
            lp_block = self.block_nov.observe(ts, x)
            if self.block_nov.scored:  # tested only as a block ends: counted only then
                tests.append(lp_block)
        if self.flatline is not None:
            lp_flat = self.flatline.observe(x)
            if lp_flat is not None:  # tested only on a repeated value: counted only then
                tests.append(lp_flat)
        if self.dispersion is not None:
            lp_disp = self.dispersion.observe(x)
            if lp_disp is not None:  # tested only as a window ends: counted only then
                tests.append(lp_disp)
        if len(tests) > 1:  # several tests: Bonferroni
            lp = min(0.0, min(tests) + math.log(len(tests)))
        if self.range_rule is not None and self.range_rule.observe(x):
            # beyond the series' whole range: alarm at once, whatever the scales say
            lp = min(lp, RANGE_LOG_P)
        if self.contexts is not None:  # a separate channel with its own rest rule: not in lp
            self.context_score = self.contexts.observe(x)
        return lp

    def enable_novelty(self) -> None:
        """Value mode also tests how novel each value is in the context of the last ones
        (novelty.py), Bonferroni-combined with the residual test."""
        self.novelty, self.novelty_lik = ContextNovelty(), NoveltyLikelihood()

    def enable_window_novelty(self, memory: int = 1000, width: int = 8, k: int = 3) -> None:
        """Value mode also tests how far the last `width` values, as a shape, are from
        their k nearest windows among the last `memory` (window_novelty.py),
        Bonferroni-combined with the other tests. The likelihood of its 10-row mean
        forgets at the same pace (rate 1/memory): both judge the same recent past."""
        self.window_nov = WindowNovelty(width=width, capacity=memory, k=k)
        self.window_lik = NoveltyLikelihood(windows=(10,), rate=1.0 / memory)

    def enable_block_novelty(self, block_seconds: float = 10_800.0) -> None:
        """Value mode also tests the last day as a shape: the means of 3-hour blocks of
        event time, 8 to a window, against their nearest past windows (block_novelty.py),
        Bonferroni-combined with the other tests. It can page only as a block ends."""
        self.block_nov = BlockNovelty(block_seconds=block_seconds)

    def enable_flatline(self, memory: int = 1000) -> None:
        """Value mode also tests runs of identical values (flatline.py): the chance, under a
        Markov model of this series' repeats over the last `memory` rows, that a run this
        long starts at a given row, Bonferroni-combined with the other tests on the rows
        that repeat the previous value."""
        self.flatline = FlatlineTest(memory=memory)

    def enable_dispersion(self, memory: int = 1000) -> None:
        """Value mode also tests whether the row-to-row changes of the last 32, 64, 128 or 256
        rows are larger than those of the `memory` rows before (dispersion.py): a count of
        changes beyond the reference's upper decile against a Markov chain fitted to the
        reference, Bonferroni-combined with the other tests on the rows that end a window."""
        self.dispersion = DispersionTest(memory=memory)

    def enable_contexts(self, warmup: int = 750, rest: int = 150) -> None:
        """Value mode also runs the contextual anomaly detector of CAD OSE (contexts.py) on
        values quantised by the range of the first `warmup` rows. Its score is not a
        p-value and it rests `rest` rows after each alarm on its own, so it is not
        combined into the returned log p: it is left in `context_score` (alarm at
        0.75) for the caller."""
        self.contexts = ContextDetector(warmup=warmup, rest=rest)

    def enable_range_rule(self, warmup: int = 100, tolerance: float = 0.05) -> None:
        """After `warmup` rows, a value beyond the minimum / maximum seen so far by more than
        `tolerance` of that range gets p = 1e-10 (range_rule.py), like the spatial
        anomalies of NAB's HTM runner. It goes through the caller's paging like any
        other alarm, so it pages once per episode."""
        self.range_rule = RangeRule(warmup=warmup, tolerance=tolerance)

    def enable_record_rule(self, memory: int = 1000, margin: float = 0.0) -> None:
        """A single-row residual surprise may page only when it beats every residual of
        the last `memory` rows (recent.py), by more than `margin` of their maximum: a
        restless series that spikes every few hours pages for a bigger spike, not for
        each one (nor for one a hair bigger). The 10-row window and the novelty tests
        are not restricted."""
        self.v_record = memory
        self.v_record_margin = margin

    def _learn_value(self, m: int, x: float, seas: float, raw: float) -> None:
        v = self.v
        a_fast, a_dev, a_raw = self.v_rates
        v["dev_l"] += a_dev * (abs(x - v["level"]) - v["dev_l"]) if v["n"] else 0.0
        v["dev_s"] += a_dev * (abs(x - seas) - v["dev_s"]) if v["n"] else 0.0
        v["level"] += a_fast * (x - v["level"])
        d = raw - v["rmean"]
        v["rmean"] += a_raw * d
        v["rvar"] = (1 - a_raw) * (v["rvar"] + a_raw * d * d)
        v["n"] += 1
        dg, db = self.decay_g, self.decay_b
        h, w = (m // 60) % 24, hour_of_week(m)
        self.cg, self.eg = self.cg * dg + x, self.eg * dg + 1.0
        self.ch[h], self.eh[h] = self.ch[h] * db + x, self.eh[h] * db + 1.0
        self.cw[w], self.ew[w] = self.cw[w] * db + x, self.ew[w] * db + 1.0

    def _value_state(self) -> dict[str, Any]:
        if not self.v:
            return {}
        st: dict[str, Any] = {"v": {k: (list(x) if isinstance(x, list) else x) for k, x in self.v.items()}}
        if self.novelty is not None and self.novelty_lik is not None:
            st["novelty"] = [self.novelty.to_state(), self.novelty_lik.to_state()]
        if self.window_nov is not None and self.window_lik is not None:
            st["window_novelty"] = [self.window_nov.to_state(), self.window_lik.to_state()]
        if self.block_nov is not None:
            st["block_novelty"] = self.block_nov.to_state()
        if self.v_record:
            st["v_record"] = self.v_record
            if self.v_record_margin:
                st["v_record_margin"] = self.v_record_margin
        if self.contexts is not None:
            st["contexts"] = self.contexts.to_state()
        if self.range_rule is not None:
            st["range_rule"] = self.range_rule.to_state()
        if self.flatline is not None:
            st["flatline"] = self.flatline.to_state()
        if self.dispersion is not None:
            st["dispersion"] = self.dispersion.to_state()
        return st

    def _load_value_state(self, st: dict[str, Any]) -> None:
        if "v" in st:
            self.v = {k: (list(x) if isinstance(x, list) else x) for k, x in st["v"].items()}
        if "novelty" in st:
            self.novelty, self.novelty_lik = ContextNovelty(), NoveltyLikelihood()
            self.novelty.load_state(st["novelty"][0])
            self.novelty_lik.load_state(st["novelty"][1])
        if "window_novelty" in st:
            self.window_nov = WindowNovelty.from_state(st["window_novelty"][0])
            self.window_lik = NoveltyLikelihood(windows=(10,), rate=1.0 / self.window_nov.capacity)
            self.window_lik.load_state(st["window_novelty"][1])
        if "block_novelty" in st:
            self.block_nov = BlockNovelty.from_state(st["block_novelty"])
        if "v_record" in st:
            self.v_record = int(st["v_record"])
            self.v_record_margin = float(st.get("v_record_margin", 0.0))
        if "contexts" in st:
            self.contexts = ContextDetector.from_state(st["contexts"])
        if "range_rule" in st:
            self.range_rule = RangeRule.from_state(st["range_rule"])
        if "flatline" in st:
            self.flatline = FlatlineTest.from_state(st["flatline"])
        if "dispersion" in st:
            self.dispersion = DispersionTest.from_state(st["dispersion"])


class ValueRate(ValueMode, SeasonalRate):
    """SeasonalRate with value mode: what bench/nab.py scores NAB's series with."""

    def __init__(self, **kwargs: float) -> None:
        SeasonalRate.__init__(self, **kwargs)
        self._init_value_mode()
