"""Dispersion test: has the series become more variable than it recently was?

Some anomalies change neither the level nor the range: the series starts to
jitter or oscillate, each value unremarkable, the stretch not. The test asks
whether the row-to-row changes d_t = x_t - x_{t-1} of a recent window are
larger than those of the long run, and answers with a p-value, so it joins the
Bonferroni combination of value mode like every other test.

A variance-ratio (F or chi-square) test of the window against the reference
would be the textbook answer, but it assumes normal data and is notoriously
sensitive to heavy tails (Box 1953, "Non-normality and tests on variances",
Biometrika 40: 318-335): one spike in the window would page it, which is the
residual test's job. The test here is a distribution-free count instead:

* the reference is the last `memory` values of |d| before the window (1,000
  rows: the recent past of the other tests); its upper decile q is taken
  exactly from them;
* the statistic is the number k of rows of the window with |d| > q. A spike
  adds one or two; a rise in the spread lifts most of them. Under the null,
  each row exceeds q with the reference's own chance (about 1/10);
* exceedances cluster in real series (volatility comes in bursts), so the null
  is not a binomial but a two-state Markov chain of the exceedance indicator,
  fitted to the reference (Jeffreys posterior means of P(exceed | not before)
  and P(exceed | exceeded before)), started from the reference's last state.
  The exact distribution of the number of successes of such a chain is
  computed by recursion (Gabriel 1959, "The distribution of the number of
  successes in a sequence of dependent trials", Biometrika 46: 454-460); p is
  its upper tail P(K >= k). Bursty references widen it, so a series whose
  spread comes and goes pages only for a burst its history makes improbable.

Windows come in four dyadic lengths, 32, 64, 128 and 256 rows (a ladder of
scales as in multiscale scan tests; from the shortest window whose decile count
can reach p < 1e-5 with a margin, 15 of 32 rows, to a quarter of the
reference), each tested on disjoint, consecutive windows. A window is tested
once, on its last row, so the per-row chance alarm rate is bounded by alpha as
for the other tests; on a row where several lengths end together, their p are
combined with Bonferroni (the smallest times their number). A length is tested
only once the reference holds min(4 w, memory) rows. The reference for a window
is frozen as the window starts, so a window is never judged against itself.

Constants were set before the first NAB run, not fitted to it: the decile
from a power calculation (a doubling of the spread under normal noise: at
64 rows, power 0.89 against 0.66 for the quartile and 0.10 for the median,
while a burst must still hold 15 of 32 changes beyond the decile), the lengths
as above, the memory as the other tests'.
"""
from __future__ import annotations

import math
from typing import Any

SCALES = (32, 64, 128, 256)  # window lengths, rows
QUANTILE = 0.9  # of the reference |d|: an exceedance is |d| above its upper decile


def markov_tail(w: int, a: float, b: float, start: int, k: int) -> float:
    """P(at least k successes in w steps) of a two-state Markov chain with P(1 | 0) = a,
    P(1 | 1) = b, whose state before the first step is `start` (Gabriel 1959)."""
    if k <= 0:
        return 1.0
    if k > w:
        return 0.0
    if k <= w * a / (1.0 - b + a):  # at or below the chain's mean count: one-sided, p taken as 1
        return 1.0
    # P(state, successes so far), the last cell holding "k or more" (absorbing): O(w k)
    f0, f1 = [0.0] * (k + 1), [0.0] * (k + 1)
    (f0 if start == 0 else f1)[0] = 1.0
    for _ in range(w):
        stay0 = [p0 * (1.0 - a) + p1 * (1.0 - b) for p0, p1 in zip(f0, f1)]
        go1 = [p0 * a + p1 * b for p0, p1 in zip(f0, f1)]
        top0, top1 = stay0[k], go1[k] + go1[k - 1]
        f0, f1 = stay0, [0.0] + go1[:k]
        f0[k], f1[k] = top0, top1
    return min(1.0, f0[k] + f1[k])


class DispersionTest:
    """Count of large row-to-row changes in recent windows against a Markov null fitted to the reference."""

    def __init__(self, *, memory: int = 1000, scales: tuple[int, ...] = SCALES,
                 quantile: float = QUANTILE) -> None:
        self.memory = memory
        self.scales = scales
        self.quantile = quantile
        self.ring: list[float] = []  # the last `memory` |d|, a ring
        self.pos = 0
        self.n = 0  # changes seen
        self.last: float | None = None
        # per length: None (no window open) or [threshold, a, b, start state, exceedances, rows]
        self.open: list[list[float] | None] = [None] * len(scales)
        self.scored = False  # did the last row end a tested window?

    def _reference(self) -> tuple[float, float, float, int]:
        """Threshold (upper decile of the reference |d|), Markov transition chances, last state."""
        ref = self.ring[self.pos:] + self.ring[:self.pos]  # oldest first
        thr = sorted(ref)[int(self.quantile * (len(ref) - 1))]
        n = [[0.0, 0.0], [0.0, 0.0]]
        prev = ref[0] > thr
        for d in ref[1:]:
            cur = d > thr
            n[prev][cur] += 1.0
            prev = cur
        a = (n[0][1] + 0.5) / (n[0][0] + n[0][1] + 1.0)  # Jeffreys posterior means
        b = (n[1][1] + 0.5) / (n[1][0] + n[1][1] + 1.0)
        return thr, a, b, int(prev)

    def observe(self, x: float) -> float | None:
        """Score x, then learn it. Returns log p when x ends a tested window, else None
        (the test is not made on that row)."""
        self.scored = False
        if self.last is None:
            self.last = x
            return None
        d = abs(x - self.last)
        self.last = x
        ref: tuple[float, float, float, int] | None = None
        lps = []
        for j, w in enumerate(self.scales):
            win = self.open[j]
            if win is None and self.n % w == 0 and len(self.ring) >= min(4 * w, self.memory):
                ref = ref or self._reference()  # shared by the lengths that start on this row
                win = self.open[j] = [ref[0], ref[1], ref[2], float(ref[3]), 0.0, 0.0]
            if win is None:
                continue
            win[4] += d > win[0]
            win[5] += 1.0
            if win[5] >= w:
                p = markov_tail(w, win[1], win[2], int(win[3]), int(win[4]))
                lps.append(math.log(max(p, 1e-300)))
                self.open[j] = None
        # learn: the reference of windows opened from now on includes this change
        if len(self.ring) < self.memory:
            self.ring.append(d)
        else:
            self.ring[self.pos] = d
            self.pos = (self.pos + 1) % self.memory
        self.n += 1
        if not lps:
            return None
        self.scored = True
        return min(0.0, min(lps) + math.log(len(lps)))

    def to_state(self) -> dict[str, Any]:
        return {"memory": self.memory, "scales": list(self.scales), "quantile": self.quantile,
                "ring": list(self.ring), "pos": self.pos, "n": self.n, "last": self.last,
                "open": [None if w is None else list(w) for w in self.open]}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> DispersionTest:
        test = cls(memory=int(st["memory"]), scales=tuple(int(w) for w in st["scales"]),
                   quantile=float(st["quantile"]))
        test.ring = [float(d) for d in st["ring"]]
        test.pos, test.n = int(st["pos"]), int(st["n"])
        test.last = None if st["last"] is None else float(st["last"])
        test.open = [None if w is None else [float(c) for c in w] for w in st["open"]]
        return test
