"""Window-shape novelty: how far is the current stretch of values from any seen before?

In the spirit of KNN-CAD and ARTime on NAB. The last `width` values form a
window; its nonconformity is the mean distance to its `k` nearest neighbours
among the last `capacity` past windows (a ring, so the memory is bounded and
follows the series), scored before the window is stored. A spike, a dip or a
daily bump that the series has already produced a few times has close
neighbours and scores low; a shape or level never seen scores high. Windows
overlapping the current one are not neighbours: a shifted copy of itself
would make every smooth window look familiar.

Windows are stored raw and the distance is divided by the current robust
range of the values (2 % / 98 % quantile trackers, `RobustRange`), so a change
of scale does not require re-standardising the stored windows. The score is
the RMS distance per value in units of that range.
"""
from __future__ import annotations

import heapq
import math
from typing import Any

from crisis.detection.nab.novelty import RobustRange


class WindowNovelty:
    """k-nearest-neighbour distance of the newest window to a ring of past windows."""

    def __init__(self, *, width: int = 8, capacity: int = 1000, k: int = 3,
                 tail: float = 0.02, rate: float = 0.005) -> None:
        self.width = width
        self.capacity = capacity
        self.k = k
        self.range = RobustRange(8, tail, rate)
        self.recent: list[float] = []
        self.ring: list[tuple[float, ...]] = []
        self.pos = 0  # next slot of the ring to overwrite once it is full

    def observe(self, x: float) -> float:
        """Nonconformity of the window ending with x (scored first), then learn it."""
        rec = self.recent
        rec.append(x)
        if len(rec) > self.width:
            del rec[0]
        score = 0.0
        if len(rec) == self.width:
            cur = tuple(rec)
            ring, n = self.ring, len(self.ring)
            # the newest `width` stored windows overlap this one: skip them
            p, w = self.pos, self.width
            if n < self.capacity:
                older = ring[:max(0, n - w)]
            elif p >= w:
                older = ring[p:] + ring[:p - w]
            else:
                older = ring[p:n - (w - p)]
            if len(older) >= self.k:
                near = heapq.nsmallest(self.k, (math.dist(cur, past) for past in older))
                scale = max(self.range.hi - self.range.lo, 1e-9 + 1e-6 * abs(x))
                score = sum(near) / (self.k * scale * math.sqrt(self.width))
            if n < self.capacity:
                ring.append(cur)
            else:
                ring[self.pos] = cur
                self.pos = (self.pos + 1) % n
        self.range.learn(x)
        return score

    def windows(self) -> list[tuple[float, ...]]:
        """The stored windows, oldest first."""
        return self.ring[self.pos:] + self.ring[:self.pos]

    def to_state(self) -> dict[str, Any]:
        # Every row after the first width-1 stores the window ending at it, so the
        # ring is the sliding windows over its last capacity + width - 1 values:
        # store those values, not width times as many.
        wins = self.windows()
        values = list(wins[0]) + [w[-1] for w in wins[1:]] if wins else []
        return {"params": [self.width, self.capacity, self.k, self.range.tail, self.range.rate],
                "range": self.range.to_state(), "recent": list(self.recent), "values": values}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> WindowNovelty:
        width, capacity, k, tail, rate = st["params"]
        nov = cls(width=int(width), capacity=int(capacity), k=int(k), tail=float(tail), rate=float(rate))
        nov.range.load_state(st["range"])
        nov.recent = [float(x) for x in st["recent"]]
        vals = [float(x) for x in st["values"]]
        nov.ring = [tuple(vals[i:i + nov.width]) for i in range(len(vals) - nov.width + 1)]
        nov.pos = 0  # oldest first, as windows() returns them
        return nov
