"""Contextual novelty: how unexpected is the newest value given the last few?

`SeasonalRate` tests whether a value (or a window count) is far from its
expected level. Some incidents are not far at all: a series that stops cycling,
a familiar value arriving at an unfamiliar point of a pattern, a new mix of
values. `ContextNovelty` catches those, in the spirit of the contextual
detectors on NAB (contextOSE, HTM): values are quantised into a few levels by a
robust online range, and a back-off Markov model over the last `order` symbols
(order k shrunk toward order k-1 with a pseudo-count, down to a uniform prior,
as the seasonal buckets shrink toward their parents) gives the probability of
the newest symbol. Its novelty is 1 - that probability, scored before the
symbol is learned. `NoveltyLikelihood` turns a stream of novelty scores into a
tail probability: the mean of the last few scores against their long-run mean
and spread, so one unusual symbol in a restless series is not an alarm but a
run of them is.

State is bounded: at most (levels + 2) ** (order + 1) counts, and each
context's counts are halved when they pass `cap`, which also makes the model
forget old habits.
"""
from __future__ import annotations

import math
from typing import Any

from crisis.detection.tails import log_normal_sf


class RobustRange:
    """Online low/high quantile tracker that quantises values into levels.

    Each quantile moves by a step proportional to the current spread toward
    the side the new value falls on (stochastic approximation), so a single
    outlier moves the range by one small step rather than stretching it.
    Values below / above the range get their own symbols (0 and levels + 1).
    """

    def __init__(self, levels: int = 8, tail: float = 0.02, rate: float = 0.02) -> None:
        self.levels = levels
        self.tail = tail
        self.rate = rate
        self.lo = self.hi = 0.0
        self.n = 0

    def symbol(self, x: float) -> int:
        if self.n == 0:
            return 1 + self.levels // 2
        width = self.hi - self.lo
        if width <= 0:
            return 1 + self.levels // 2 if x == self.lo else (0 if x < self.lo else self.levels + 1)
        if x < self.lo:
            return 0
        if x > self.hi:
            return self.levels + 1
        return 1 + min(self.levels - 1, int((x - self.lo) * self.levels / width))

    def learn(self, x: float) -> None:
        if self.n == 0:
            self.lo = self.hi = x
        else:
            step = self.rate * max(self.hi - self.lo, 1e-9 + 1e-6 * abs(x))
            t = self.tail
            self.lo -= step * ((1.0 - t) if x < self.lo else -t)
            self.hi += step * ((1.0 - t) if x > self.hi else -t)
            if self.n < 50:  # warm-up: the observed range, then the trackers take over
                self.lo, self.hi = min(self.lo, x), max(self.hi, x)
            if self.hi < self.lo:
                self.lo = self.hi = 0.5 * (self.lo + self.hi)
        self.n += 1

    def to_state(self) -> list[float]:
        return [self.lo, self.hi, self.n]

    def load_state(self, st: list[float]) -> None:
        self.lo, self.hi, self.n = float(st[0]), float(st[1]), int(st[2])


class ContextNovelty:
    """Back-off Markov model over quantised values; novelty = 1 - P(newest | context)."""

    def __init__(self, *, levels: int = 8, order: int = 2, beta: float = 2.0, cap: float = 500.0,
                 tail: float = 0.02, rate: float = 0.005) -> None:
        self.order = order
        self.beta = beta
        self.cap = cap
        self.range = RobustRange(levels, tail, rate)
        self.n_symbols = levels + 2
        self.recent: list[int] = []  # the last `order` symbols, oldest first
        self.counts: dict[tuple[int, ...], dict[int, float]] = {}
        self.totals: dict[tuple[int, ...], float] = {}

    def probability(self, sym: int) -> float:
        """P(sym | recent symbols), backing off from order 0 up to `order`."""
        p = 1.0 / self.n_symbols
        rec = self.recent
        for k in range(min(self.order, len(rec)) + 1):
            ctx = tuple(rec[len(rec) - k:])
            tot = self.totals.get(ctx)
            if not tot:
                break  # an unseen context: longer ones are unseen too
            p = (self.counts[ctx].get(sym, 0.0) + self.beta * p) / (tot + self.beta)
        return p

    def observe(self, x: float) -> float:
        """Novelty of x in [0, 1) (scored first), then learn it."""
        sym = self.range.symbol(x)
        novelty = 1.0 - self.probability(sym)
        self._learn(sym)
        self.range.learn(x)
        return novelty

    def _learn(self, sym: int) -> None:
        rec = self.recent
        for k in range(min(self.order, len(rec)) + 1):
            ctx = tuple(rec[len(rec) - k:])
            row = self.counts.get(ctx)
            if row is None:
                row = self.counts[ctx] = {}
                self.totals[ctx] = 0.0
            row[sym] = row.get(sym, 0.0) + 1.0
            tot = self.totals[ctx] + 1.0
            if tot > self.cap:
                for s in list(row):
                    c = row[s] * 0.5
                    if c < 0.25:
                        del row[s]
                    else:
                        row[s] = c
                tot = sum(row.values())
            self.totals[ctx] = tot
        rec.append(sym)
        if len(rec) > self.order:
            del rec[0]

    def to_state(self) -> dict[str, Any]:
        return {"range": self.range.to_state(), "recent": list(self.recent),
                "counts": [[list(ctx), [[s, c] for s, c in row.items()]] for ctx, row in self.counts.items()]}

    def load_state(self, st: dict[str, Any]) -> None:
        self.range.load_state(st["range"])
        self.recent = [int(s) for s in st["recent"]]
        self.counts = {tuple(int(s) for s in ctx): {int(s): float(c) for s, c in row} for ctx, row in st["counts"]}
        self.totals = {ctx: sum(row.values()) for ctx, row in self.counts.items()}


class NoveltyLikelihood:
    """Tail probability of the mean of the last w scores against the long-run mean and
    spread of such w-row means (as in HTM's anomaly likelihood), for each window w."""

    def __init__(self, windows: tuple[int, ...] = (10,), rate: float = 0.01, warmup: int = 30) -> None:
        self.windows = tuple(windows)
        self.rate = rate
        self.warmup = warmup
        self.mean = [0.0] * len(self.windows)
        self.var = [0.0] * len(self.windows)
        self.n = 0
        self.hist: list[float] = []

    def observe(self, score: float) -> float:
        """log p of the recent scores (scored first), then learn them."""
        hist = self.hist
        hist.append(score)
        if len(hist) > max(self.windows):
            del hist[0]
        lp = 0.0
        a = max(self.rate, 1.0 / (self.n + 1))  # a plain running mean until 1/rate rows
        for i, w in enumerate(self.windows):
            m = sum(hist[-w:]) / min(w, len(hist))
            if self.n >= self.warmup and self.var[i] > 0:
                lp = min(lp, log_normal_sf((m - self.mean[i]) / math.sqrt(self.var[i])))
            d = m - self.mean[i]
            self.mean[i] += a * d
            self.var[i] = (1 - a) * (self.var[i] + a * d * d)
        self.n += 1
        return lp

    def to_state(self) -> list[Any]:
        return [list(self.mean), list(self.var), self.n, list(self.hist)]

    def load_state(self, st: list[Any]) -> None:
        self.mean, self.var = [float(x) for x in st[0]], [float(x) for x in st[1]]
        self.n = int(st[2])
        self.hist = [float(x) for x in st[3]]
