"""Range rule: a value beyond everything the series has produced is news at once.

The idea is the "spatial anomaly" of Numenta's HTM runner on NAB (written here
from the published idea, not from its AGPL code): once a series has shown its
range, a value above its maximum or below its minimum by more than a share of
that range is anomalous on that row, whatever the other tests say. For counts it
reads naturally: a new all-time high of reports or joins is worth a page even
when the local scales have grown restless. The state is four numbers.
"""
from __future__ import annotations

from typing import Any


class RangeRule:
    """Tracks the minimum and maximum seen; flags values beyond them by `tolerance` of the range."""

    def __init__(self, *, warmup: int = 100, tolerance: float = 0.05) -> None:
        self.warmup = warmup  # rows before the rule may fire: the range must be shown first
        self.tolerance = tolerance  # share of the range a value must exceed it by
        self.n = 0
        self.lo = 0.0
        self.hi = 0.0

    def observe(self, x: float) -> bool:
        """True if x lies beyond the range seen so far (scored before it is learned)."""
        beyond = False
        if self.n >= self.warmup and self.hi > self.lo:  # a constant series has no range yet
            margin = self.tolerance * (self.hi - self.lo)
            beyond = x > self.hi + margin or x < self.lo - margin
        if self.n == 0:
            self.lo = self.hi = x
        else:
            self.lo, self.hi = min(self.lo, x), max(self.hi, x)
        self.n += 1
        return beyond

    def to_state(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "tolerance": self.tolerance, "n": self.n, "lo": self.lo, "hi": self.hi}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> RangeRule:
        rule = cls(warmup=int(st["warmup"]), tolerance=float(st["tolerance"]))
        rule.n, rule.lo, rule.hi = int(st["n"]), float(st["lo"]), float(st["hi"])
        return rule
