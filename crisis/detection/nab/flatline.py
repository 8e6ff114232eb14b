"""Flatline test: is the current run of identical values too long for this series?

A signal that stops varying (a stuck sensor, a disk that stops writing, an
activity count that drops to zero and stays there) looks ordinary row by row:
each value is inside the range and close to the level. What is improbable is the
run. The test asks how likely a run of r repeats (r + 1 identical values) is
under the series' own recent pattern of repeats.

Model: write s_t = 1 when x_t == x_{t-1} (a repeat: identical at the series' own
resolution, no tolerance) and s_t = 0 otherwise, and treat s as a two-state
Markov chain, the standard null for runs in a binary sequence (Feller,
"An Introduction to Probability Theory", vol. 1, ch. XIII; the runs tests of
quality control):

* a = P(s_t = 1 | s_{t-1} = 0), the chance that a run starts;
* b = P(s_t = 1 | s_{t-1} = 1), the chance that it goes on.

Repeats that cluster (a quantised series at rest, a count at zero every night)
give a large b, so long runs there are ordinary; a continuous noisy series gives
a and b near 0, so three identical values are already news. The probability that
a run which has reached r repeats at this row started at a given row is at most
a * b^(r-1); the test pages when that is below the caller's alpha, so under the
null a row pages with probability at most alpha, the same control as every other
test of value mode (p < 1e-5 at bench/nab.py's fixed threshold). A run is tested
on each of its rows but pages once: its p only falls as it goes on, and the
caller's episode stays open until it ends.

Estimates are posterior predictive, so a young or sparse history widens them:

* a: Jeffreys prior Beta(1/2, 1/2) on the counts of transitions out of state 0;
* b: a unit-information prior (Kass & Wasserman 1995, JASA 90: 928-934) centred
  on the independence null b = a, i.e. Beta(a, 1 - a), updated with the counts of
  transitions out of state 1. Before any run has been seen, b is judged as if
  repeats were independent, with the weight of one observation; each run seen
  then teaches how long runs last here. E[b^(r-1)] is a ratio of beta functions.

Counts forget at rate 1/memory per row (1,000 rows: the "recent past" of the
window-shape test and the record rule). A run is learned only when it ends: the
run under test is judged against earlier runs, never against itself, and a
series that is constant from its first row keeps the prior and never pages
(Beta(1/2, 1/2) gives runs a heavy tail). No constant was fitted to NAB: the
priors are the textbook ones and the memory is the other tests'.
"""
from __future__ import annotations

import math
from typing import Any


def _log_beta(x: float, y: float) -> float:
    return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)


class FlatlineTest:
    """Run-length test of identical consecutive values against a Markov model of repeats."""

    def __init__(self, *, memory: int = 1000) -> None:
        self.memory = memory
        self.n00 = 0.0  # decayed counts of transitions out of state 0: to 0, to 1
        self.n01 = 0.0
        self.n10 = 0.0  # and out of state 1 (learned when a run ends)
        self.n11 = 0.0
        self.run = 0  # repeats in the current run (0: the last row was not a repeat)
        self.last: float | None = None

    def start_chance(self) -> float:
        """Posterior mean of a, the chance that a run starts (Jeffreys prior)."""
        return (self.n01 + 0.5) / (self.n00 + self.n01 + 1.0)

    def log_p(self, r: int) -> float:
        """log of a * E[b^(r-1)]: the chance that a run reaching r repeats starts at a given row."""
        a = self.start_chance()
        alpha, beta = self.n11 + a, self.n10 + 1.0 - a
        return math.log(a) + _log_beta(alpha + r - 1, beta) - _log_beta(alpha, beta)

    def observe(self, x: float) -> float | None:
        """Score x, then learn it. Returns log p when x repeats the previous value, else None
        (no run to test: the test is not made on that row)."""
        keep = 1.0 - 1.0 / self.memory
        self.n00, self.n01, self.n10, self.n11 = (self.n00 * keep, self.n01 * keep,
                                                  self.n10 * keep, self.n11 * keep)
        first, repeat = self.last is None, x == self.last
        self.last = x
        if repeat:
            self.run += 1
            return self.log_p(self.run)
        if self.run:  # a run ended: learn its start, its continuations and its end
            self.n01 += 1.0
            self.n11 += self.run - 1
            self.n10 += 1.0
            self.run = 0
        elif not first:  # the first row has no transition
            self.n00 += 1.0
        return None

    def to_state(self) -> dict[str, Any]:
        return {"memory": self.memory, "n": [self.n00, self.n01, self.n10, self.n11], "run": self.run,
                "last": self.last}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> FlatlineTest:
        test = cls(memory=int(st["memory"]))
        test.n00, test.n01, test.n10, test.n11 = (float(c) for c in st["n"])
        test.run = int(st["run"])
        test.last = None if st["last"] is None else float(st["last"])
        return test
