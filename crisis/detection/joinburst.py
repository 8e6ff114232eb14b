"""The early raid signal: a burst of joins by fresh accounts, seconds wide.

A raid's first evidence is its joins: dozens of accounts made days ago arrive within
seconds, before any of them has posted. A promotion brings joins too, but they ramp up
over minutes, and in the general case its joiners' accounts are of every age. So this test
counts only **fresh** accounts (made less than 7 days before joining: the account age most
moderation tools key their raid and verification rules on), in windows of 10 s to 2 min,
and compares the count with the larger of two expectations:

* the seasonal rate of fresh joins (a `SeasonalRate`, hour of day and week, as for every
  count series), scaled by any declared surge window;
* the local background: the fresh-join rate of the 15 minutes before the window. A wave
  that has been building for minutes (a promotion's) raises its own expectation; a raid
  steps from nothing to a burst.

It fires when the negative-binomial tail is below 1e-9 with at least 5 accounts (both
scaled by sensitivity). The alpha is three orders stricter than the count tests' 1e-6
because it is tested on every fresh join in four sub-minute windows, roughly 10^5 tests
per community-year at most: about 10^-4 chance alarms a year. Joins alone never fired
before this test; it fires only on the fresh cohort, so waves of old accounts and slow
waves are still the content rules' (near-duplicates, shared link domains) to catch.
"""
from __future__ import annotations

import math
from typing import Any

from crisis.detection.stats import SeasonalRate, nb_logsf

FRESH_DAYS = 7.0
WINDOWS_S = (10, 30, 60, 120)
BACKGROUND_S = 900.0
ALPHA = 1e-9
MIN_JOINS = 5
QUIET_S = 900.0  # a wave ends after this long without a fresh join
FRESH_PRIOR_SHARE = 0.25  # cold start: a quarter of the joins prior comes from fresh accounts
MAX_WAVE = 1000
SPLIT_ALPHA = 1e-3  # chance of a quiet gap inside one burst that splits off what came before


def burst_start(joins: list[tuple[float, str]]) -> int:
    """Index of the first join of the burst in a window's joins (oldest first).

    The window that fired may also hold a few fresh members who joined a minute before the
    raid and are chatting normally: naming them would propose banning them. The burst starts
    after a gap its own pace makes improbable: with the rate λ of the joins after a gap (from
    their intervals, timestamps floored to a second), a quiet gap of g seconds has chance
    exp(-λg), and over the window's n gaps a split needs n·exp(-λg) < SPLIT_ALPHA. Without such
    a gap every join in the window is the burst's."""
    n = len(joins)
    best, best_k = math.log(n / SPLIT_ALPHA), 0
    for k in range(1, n - 1):  # at least two joins after the gap, to measure their pace
        pace = (n - k - 1) / max(joins[-1][0] - joins[k][0], 1.0)
        score = pace * (joins[k][0] - joins[k - 1][0])
        if score > best:
            best, best_k = score, k
    return best_k


class FreshJoinBurst:
    def __init__(self, joins: SeasonalRate) -> None:
        self.joins = joins  # all joins: its shape and prior seed this series' cold start
        self.rate = SeasonalRate()
        self.rate.shape_fn = joins.shape_fn
        self.recent: list[list[Any]] = []  # [ts, actor] of fresh joins, oldest first
        self.wave: dict[str, float] = {}  # accounts of the burst in progress
        self.last_fire = -1e18

    def add(self, ts: float, actor: str, sensitivity: float, surge: float) -> tuple[float, int, int, float] | None:
        """Count a fresh join; (log p, window s, observed, expected) when it makes a burst."""
        self.rate.prior_rate = FRESH_PRIOR_SHARE * self.joins.prior_rate
        self.rate.add(ts)
        recent = self.recent
        recent.append([ts, actor])
        horizon = ts - BACKGROUND_S - WINDOWS_S[-1]
        if recent[0][0] < horizon:
            self.recent = recent = [r for r in recent if r[0] >= horizon]
        if self.wave and ts - max(self.wave.values()) > QUIET_S:
            self.wave = {}
        if self.wave and len(self.wave) < MAX_WAVE:
            self.wave[actor] = ts  # the burst goes on: every fresh joiner belongs to it
        best = self._test(ts, surge)
        if best[0] < math.log(ALPHA) / sensitivity and best[2] >= MIN_JOINS / sensitivity:
            if not self.wave:
                inside = [(t, a) for t, a in recent if t > ts - best[1]]
                self.wave = {a: t for t, a in inside[burst_start(inside):]}
            self.last_fire = ts
            return best
        return None

    def _test(self, ts: float, surge: float) -> tuple[float, int, int, float]:
        m = int(ts // 60)
        per_min, shape = self.rate.predict(m)
        times = [r[0] for r in self.recent]
        best: tuple[float, int, int, float] = (0.0, WINDOWS_S[0], 0, 0.0)
        n_all = len(times)
        for w in WINDOWS_S:
            start = ts - w
            inside = sum(1 for t in times if t > start)
            if inside < 2:
                continue
            before = sum(1 for t in times if start - BACKGROUND_S < t <= start)
            exp = max(per_min * surge * w / 60.0, before / BACKGROUND_S * w)
            lp = nb_logsf(inside, exp, shape)
            if lp < best[0]:
                best = (lp, w, inside, exp)
            if inside == n_all:
                break  # wider windows hold the same joins against a larger expectation
        return best

    def accounts(self) -> list[str]:
        return list(self.wave)

    def to_state(self) -> dict[str, Any]:
        return {"rate": self.rate.to_state(), "recent": self.recent, "wave": self.wave,
                "last_fire": self.last_fire}

    def load_state(self, st: dict[str, Any]) -> None:
        self.rate.load_state(st["rate"])
        self.recent = [list(r) for r in st["recent"]]
        self.wave = dict(st["wave"])
        self.last_fire = float(st["last_fire"])
