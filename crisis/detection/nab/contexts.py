"""Context memory: the contextual anomaly detector of Smirnov (CAD OSE, on NAB).

A re-implementation of the algorithm of "Contextual Anomaly Detector,
open-source edition" (M. Smirnov, 2016; https://github.com/smirmik/CAD, scored
on NAB as contextOSE). The original is AGPL: its source was read to learn the
algorithm, not copied or translated; the data structures here are our own.

Each value is quantised into `2 ** bits` levels of a range and written as
`bits` binary facts (bit i is 0 or 1). A *context* joins a left half (a set of
facts true one row ago: that row's value facts plus the contexts that were
active then, as "neuron" facts) with a right half (a set of value facts of the
next row). Every row:

1. The pair (all left facts of the last row, this row's value facts) is stored
   as a zero-level context unless it is known.
2. Contexts whose left half held completely one row ago are *selected*; those
   whose right half holds now too are *active* (each keeps counts of how often
   it was selected, matched and active). When the zero-level pair was new,
   partial matches of zero-level contexts (the facts of each half that held)
   are proposed as new, more general contexts.
3. The most often active contexts (at most `max_active`) become the neuron
   facts of the next left half, and the contexts whose left half holds
   completely with the best match ratio predict the next row's value facts.

The anomaly score of a row is 0 when its value facts were all predicted, and
otherwise (1 - share of the selected contexts that are active + share of the
proposed contexts that were new) / 2. After a score of at least `threshold`
(0.75 in the original) the next `rest` rows score 0.

Unlike the original, whose range is the minimum and maximum of the whole file
(known only in hindsight), the range here is learned online by a caller, and
the memory is bounded: once `capacity` contexts are stored no new ones are
added (the learned contexts keep being counted and predicting).
"""
from __future__ import annotations

from typing import Any

NEURON = 1 << 31  # neuron facts are NEURON + context id; value facts are 2 * bit + value


class _Half:
    """One half (left or right) shared by contexts: a set of facts and how much of it holds now."""

    __slots__ = ("facts", "held", "ctx")

    def __init__(self, facts: tuple[int, ...]) -> None:
        self.facts = facts
        self.held: tuple[int, ...] = ()  # the facts of this half that hold at the last crossing
        self.ctx: dict[int, int] = {}  # (left halves) right half id -> context id


class _Context:
    __slots__ = ("left", "right", "selected", "matched", "active", "zero")

    def __init__(self, left: int, right: int, zero: bool) -> None:
        self.left, self.right, self.zero = left, right, zero
        self.selected = 0.0  # sum of right-half sizes over the rows it was selected
        self.matched = 0.0  # sum of right-half facts that held then
        self.active = 0  # rows its right half held completely


class ContextMemory:
    """Stores contexts, scores each quantised value by how well they anticipated it."""

    def __init__(self, *, bits: int = 3, max_left: int = 7, max_active: int = 15,
                 threshold: float = 0.75, rest: int = 30, capacity: int = 200_000) -> None:
        self.bits = bits
        self.max_left = max_left
        self.max_active = max_active
        self.threshold = threshold
        self.rest = rest
        self.capacity = capacity
        self.halves: tuple[list[_Half], list[_Half]] = ([], [])
        self.ids: tuple[dict[tuple[int, ...], int], dict[tuple[int, ...], int]] = ({}, {})
        self.index: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self.contexts: list[_Context] = []
        self.crossed: tuple[list[int], list[int]] = ([], [])  # halves that partly hold, by id
        self.left_facts: tuple[int, ...] = ()
        self.predicted: set[int] = set()
        self.new_zero = -1  # id of the zero-level context stored at this row, if new
        self.since_alarm = 0  # rows since a raw score reached `threshold` (the first `rest` rows rest too)

    # -- storage -------------------------------------------------------------------
    def _half(self, side: int, facts: tuple[int, ...]) -> int:
        hid = self.ids[side].get(facts)
        if hid is None:
            hid = self.ids[side][facts] = len(self.halves[side])
            self.halves[side].append(_Half(facts))
            for f in facts:
                self.index[side].setdefault(f, []).append(hid)
        return hid

    def _store(self, left: tuple[int, ...], right: tuple[int, ...], zero: bool) -> tuple[int, bool]:
        """(context id, whether it is new); -1 when the memory is full."""
        lid, rid = self._half(0, left), self._half(1, right)
        lh = self.halves[0][lid]
        cid = lh.ctx.get(rid)
        if cid is not None:
            if zero:
                self.contexts[cid].zero = True
            return cid, False
        if len(self.contexts) >= self.capacity:
            return -1, False
        cid = lh.ctx[rid] = len(self.contexts)
        self.contexts.append(_Context(lid, rid, zero))
        return cid, True

    def _cross(self, side: int, facts: tuple[int, ...]) -> None:
        """Record which facts of each half of `side` hold; keep the halves that partly hold."""
        halves = self.halves[side]
        for hid in self.crossed[side]:
            halves[hid].held = ()
        held: dict[int, list[int]] = {}
        for f in facts:  # facts are sorted, so each `held` list is too
            for hid in self.index[side].get(f, ()):
                held.setdefault(hid, []).append(f)
        for hid, fs in held.items():
            halves[hid].held = tuple(fs)
        self.crossed = (sorted(held), self.crossed[1]) if side == 0 else (self.crossed[0], sorted(held))

    # -- one row -------------------------------------------------------------------
    def value_facts(self, level: int) -> tuple[int, ...]:
        return tuple(2 * i + ((level >> i) & 1) for i in range(self.bits))

    def observe(self, level: int) -> float:
        """Score the quantised value `level` (0 .. 2**bits - 1), then learn it."""
        facts = self.value_facts(level)
        missed = sum(1 << (f // 2) for f in facts if f not in self.predicted)
        active_share, new_share = self._step(facts)
        raw = (1.0 - active_share + new_share) / 2.0 if missed else 0.0
        score = raw if self.since_alarm >= self.rest else 0.0
        self.since_alarm = 0 if raw >= self.threshold else self.since_alarm + 1
        return score

    def _step(self, facts: tuple[int, ...]) -> tuple[float, float]:
        candidates: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
        new_zero = False
        self.new_zero = -1
        if self.left_facts:
            pair = (self.left_facts, facts)
            candidates.add(pair)
            cid, new_zero = self._store(*pair, zero=True)
            if new_zero:
                self.new_zero = cid
        self._cross(1, facts)
        active, selected, proposed = self._update(new_zero)
        candidates.update(proposed)
        active.sort()
        neurons = [NEURON + cid for *_, cid in active[-self.max_active:]]
        self.left_facts = tuple(sorted(set(facts).union(neurons)))
        n_new = sum(self._store(left, right, zero=False)[1] for left, right in proposed) + new_zero
        self._cross(0, self.left_facts)
        self.predicted = self._predict()
        active_share = len(active) / selected if selected else 0.0
        new_share = n_new / len(candidates) if new_zero and candidates else 0.0
        return active_share, new_share

    def _update(self, new_zero: bool) -> tuple[list[tuple[int, int, int, int]], int, list[Any]]:
        """Count the contexts whose left half held one row ago against this row's facts."""
        lefts, rights = self.halves
        active: list[tuple[int, int, int, int]] = []
        proposed = []
        selected = 0
        for lid in self.crossed[0]:
            lh = lefts[lid]
            whole = len(lh.held) == len(lh.facts)
            general = new_zero and len(lh.held) <= self.max_left
            if not (whole or general):
                continue  # only proposals could come from it, and none are wanted
            for rid, cid in lh.ctx.items():
                if cid == self.new_zero:
                    continue
                c, rh = self.contexts[cid], rights[rid]
                if whole:
                    selected += 1
                    c.selected += len(rh.facts)
                    if rh.held:
                        c.matched += len(rh.held)
                        if len(rh.held) == len(rh.facts):
                            c.active += 1
                            active.append((c.active, lid, rid, cid))
                            continue
                    else:
                        continue
                elif not rh.held:
                    continue
                if c.zero and general:
                    proposed.append((lh.held, rh.held))
        return active, selected, proposed

    def _predict(self) -> set[int]:
        """Right halves of the completely held contexts with the best match ratio."""
        best, winners = 0.0, []
        lefts = self.halves[0]
        for lid in self.crossed[0]:
            lh = lefts[lid]
            if len(lh.held) != len(lh.facts):
                continue
            for cid in lh.ctx.values():
                c = self.contexts[cid]
                w = c.matched / c.selected if c.selected else 0.0
                if w > best:
                    best, winners = w, [c]
                elif w == best:
                    winners.append(c)
        out: set[int] = set()
        for c in winners:
            out.update(self.halves[1][c.right].facts)
        return out

    # -- checkpoint ----------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "params": [self.bits, self.max_left, self.max_active, self.threshold, self.rest, self.capacity],
            "halves": [[list(h.facts) for h in side] for side in self.halves],
            "contexts": [[c.left, c.right, c.selected, c.matched, c.active, int(c.zero)] for c in self.contexts],
            "left_facts": list(self.left_facts), "predicted": sorted(self.predicted),
            "since_alarm": self.since_alarm,
        }

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> ContextMemory:
        bits, max_left, max_active, threshold, rest, capacity = st["params"]
        mem = cls(bits=int(bits), max_left=int(max_left), max_active=int(max_active),
                  threshold=float(threshold), rest=int(rest), capacity=int(capacity))
        for side in (0, 1):
            for facts in st["halves"][side]:
                mem._half(side, tuple(int(f) for f in facts))
        for left, right, sel, mat, act, zero in st["contexts"]:
            cid = len(mem.contexts)
            mem.halves[0][int(left)].ctx[int(right)] = cid
            c = _Context(int(left), int(right), bool(zero))
            c.selected, c.matched, c.active = float(sel), float(mat), int(act)
            mem.contexts.append(c)
        mem.left_facts = tuple(int(f) for f in st["left_facts"])
        mem.predicted = {int(f) for f in st["predicted"]}
        mem.since_alarm = int(st["since_alarm"])
        mem._cross(0, mem.left_facts)  # the held facts of the left halves are derived state
        return mem


class ContextDetector:
    """ContextMemory over a value stream: the range is learned online, then frozen.

    The original quantises by the minimum and maximum of the whole file. Online,
    the range is the minimum and maximum of the first `warmup` values (NAB's
    probationary period of a long file: 15 % of 5,000 rows), then fixed, so the
    learned contexts keep their meaning; later values outside it take the end
    levels. The rest after an alarm is a fifth of that (the NAB configuration).
    """

    def __init__(self, *, warmup: int = 750, rest: int = 150, bits: int = 3, capacity: int = 200_000) -> None:
        self.warmup = warmup
        self.lo = self.hi = 0.0
        self.n = 0
        self.memory = ContextMemory(bits=bits, rest=rest, capacity=capacity)

    def level(self, x: float) -> int:
        top = (1 << self.memory.bits) - 1
        if self.hi <= self.lo:
            return 0
        return max(0, min(top, int((x - self.lo) * top / (self.hi - self.lo))))

    def observe(self, x: float) -> float:
        """Anomaly score of x in [0, 1] (CAD's scale, alarm at 0.75), then learn it."""
        if self.n < self.warmup:
            self.lo, self.hi = (x, x) if self.n == 0 else (min(self.lo, x), max(self.hi, x))
        self.n += 1
        return self.memory.observe(self.level(x))

    def to_state(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "range": [self.lo, self.hi, self.n], "memory": self.memory.to_state()}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> ContextDetector:
        det = cls(warmup=int(st["warmup"]))
        det.lo, det.hi, det.n = float(st["range"][0]), float(st["range"][1]), int(st["range"][2])
        det.memory = ContextMemory.from_state(st["memory"])
        return det
