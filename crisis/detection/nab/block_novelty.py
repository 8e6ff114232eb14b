"""Day-shape novelty: is the last day, in coarse blocks, unlike every day seen before?

`WindowNovelty` compares the last 8 rows as a shape, a scale of minutes to a few
hours. Some anomalies live at the scale of a day: a daily peak that does not
come, a day whose spikes are twice as dense, a holiday's flattened curve. Each
row looks ordinary next to its neighbours; the day does not. This test looks at
that scale, after two published ideas:

* ARTime (M. Hampton 2021, the leader of the NAB scoreboard;
  https://github.com/markNZed/ARTimeNAB.jl) down-samples the series before it
  compares windows, so that a window spans a long stretch of time instead of a
  few rows. Its down-sampling step depends on the file's length; here it is a
  fixed span of event time (`block_seconds`, 3 hours), aligned to the clock, so
  that the same blocks of every day line up and the test means the same on
  every series whatever its sampling interval.
* KNN-CAD (Burnaev & Ishimtsev 2016, "Conformalized density- and distance-based
  anomaly detection in time-series data"; NAB's knncad) scores a window by its
  distance to its k nearest past windows. `WindowNovelty` is that test; here it
  runs on the block means, 8 blocks (one day) to a window.

Its score is turned into a tail probability as in Numenta's anomaly likelihood
(Ahmad et al. 2017, "Unsupervised real-time anomaly detection for streaming
data"): the newest block's score against the running mean and spread of block
scores (`NoveltyLikelihood`, one block to a window). A block is scored when the
first row of the next block arrives, so the test can page at most once per
block and never earlier than the end of the block in which the anomaly began.
Written from the papers' descriptions; no code of those projects was used.

One anomalous block lies in the next `width` windows, which overlap it, so it
would make a day of windows novel, each paging once its episode has closed.
A block's surprise therefore pages only if it beats the surprises of the
`width - 1` blocks before it, the windows that overlap it, by the record rule's
margin (recent.py): one anomaly, one page, as `WindowNovelty` never takes an
overlapping window for a neighbour. Otherwise its log p is 0 (it was still
tested, and learned).
"""
from __future__ import annotations

from typing import Any

from crisis.detection.nab.novelty import NoveltyLikelihood
from crisis.detection.nab.recent import push_record
from crisis.detection.nab.window_novelty import WindowNovelty


class BlockNovelty:
    """Block means of a value stream; the k-NN novelty of the last `width` blocks as a likelihood."""

    def __init__(self, *, block_seconds: float = 10_800.0, width: int = 8, capacity: int = 1000,
                 k: int = 3, overlap_rule: bool = True, margin: float = 0.05) -> None:
        self.block_seconds = block_seconds
        self.overlap_rule = overlap_rule  # page only for a surprise beating the overlapping windows'
        self.margin = margin
        self.surprises: list[list[float]] = []  # record queue of (block number, -log p)
        self.n_blocks = 0
        self.windows = WindowNovelty(width=width, capacity=capacity, k=k)
        self.likelihood = NoveltyLikelihood(windows=(1,), rate=0.01)
        self.block = -1  # index of the block being summed (event time // block_seconds)
        self.total = 0.0
        self.count = 0
        self.scored = False  # whether the last row completed a block (and so was tested)

    def observe(self, ts: float, x: float) -> float:
        """log p of the block that the row at ts completes (0.0 when it completes none); then add x."""
        b = int(ts // self.block_seconds)
        lp = 0.0
        self.scored = b > self.block >= 0 and self.count > 0
        if self.scored:
            # The mean, not the sum: a series sampled every minute and one sampled
            # every hour have comparable blocks, and a missing row does not look like a dip.
            lp = self.likelihood.observe(self.windows.observe(self.total / self.count))
            self.total, self.count = 0.0, 0
            self.n_blocks += 1
            if self.overlap_rule and not push_record(self.surprises, self.n_blocks, -lp,
                                                     self.windows.width, self.margin):
                lp = 0.0  # the same anomaly, seen again through a window that overlaps it
        if b >= self.block:  # a row older than the current block is too late for its block
            self.block = b
            self.total += x
            self.count += 1
        return lp

    def to_state(self) -> dict[str, Any]:
        return {"block_seconds": self.block_seconds, "block": [self.block, self.total, self.count],
                "windows": self.windows.to_state(), "likelihood": self.likelihood.to_state(),
                "overlap_rule": [self.overlap_rule, self.margin, self.n_blocks, self.surprises]}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> BlockNovelty:
        rule = st.get("overlap_rule", [False, 0.0, 0, []])  # checkpoints from before the rule
        nov = cls(block_seconds=float(st["block_seconds"]), overlap_rule=bool(rule[0]), margin=float(rule[1]))
        nov.n_blocks = int(rule[2])
        nov.surprises = [[float(a), float(b)] for a, b in rule[3]]
        nov.windows = WindowNovelty.from_state(st["windows"])
        nov.likelihood.load_state(st["likelihood"])
        nov.block, nov.total, nov.count = int(st["block"][0]), float(st["block"][1]), int(st["block"][2])
        return nov
