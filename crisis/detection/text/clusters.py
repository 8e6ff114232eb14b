"""Near-duplicate clusters of token sets (`DupClusters`), with an exact prefix index."""
from __future__ import annotations

import math
import zlib
from typing import Any


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _order(tok: str) -> int:
    """A fixed pseudo-random global token order (crc32) for prefix filtering."""
    return zlib.crc32(tok.encode())


def _prefix(toks: frozenset[str], threshold: float) -> list[str]:
    """Tokens that any set with Jaccard >= threshold must share a token with.

    AllPairs prefix filter: under one global order, two sets with Jaccard >= t
    share a token among the first |x| - ceil(t*|x|) + 1 tokens of each.
    """
    ordered = sorted(toks, key=_order)
    return ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]


class DupClusters:
    """Greedy online clustering of token sets by Jaccard similarity.

    Each cluster keeps its first message as representative, the distinct authors,
    a few samples and its last time; clusters expire after `horizon` seconds and
    their number is capped (oldest evicted) so memory stays bounded. A prefix
    index (token -> clusters) makes the candidate search exact but short even
    when hundreds of clusters are live (a promotion's many greetings).
    """

    def __init__(self, *, threshold: float = 0.6, horizon: float = 900.0, cap: int = 400) -> None:
        self.threshold = threshold
        self.horizon = horizon
        self.cap = cap
        self.clusters: dict[int, dict[str, Any]] = {}
        self.index: dict[str, set[int]] = {}
        self.next_id = 0
        self._last_expire = -1e18

    def add(self, ts: float, author: str, toks: frozenset[str], content: str,
            flags: dict[str, Any], newcomer: bool = False) -> dict[str, Any] | None:
        """Add a message; return its cluster (or None for too-short messages).

        Clusters count their distinct authors and, incrementally, how many of them
        were newcomers when they first posted into it.
        """
        if len(toks) < 3:
            return None
        self._expire(ts)
        best, best_j = None, self.threshold
        candidates: set[int] = set()
        for tok in _prefix(toks, self.threshold):
            ids = self.index.get(tok)
            if ids:
                candidates |= ids
        for cid in sorted(candidates):
            cl = self.clusters[cid]
            j = jaccard(toks, cl["rep"])
            if j >= best_j:
                best, best_j = cl, j
        if best is None:
            if len(self.clusters) >= self.cap:
                self._drop(min(self.clusters, key=lambda k: self.clusters[k]["last"]))
            best = {"id": self.next_id, "rep": toks, "authors": {}, "samples": [],
                    "first": ts, "last": ts, "links": 0, "mass": 0, "domains": {}, "n_new": 0}
            self._insert(best)
            self.next_id += 1
        best["last"] = max(best["last"], ts)
        if author not in best["authors"] and len(best["authors"]) < 1000:
            best["authors"][author] = ts
            best["n_new"] += 1 if newcomer else 0
        if len(best["samples"]) < 5:
            best["samples"].append(content[:200])
        if flags.get("domains"):
            best["links"] += 1
            for d in flags["domains"][:3]:
                if len(best["domains"]) < 20:
                    best["domains"][d] = best["domains"].get(d, 0) + 1
        if flags.get("mass") or flags.get("mentions", 0) >= 5:
            best["mass"] += 1
        return best

    def _insert(self, cl: dict[str, Any]) -> None:
        self.clusters[cl["id"]] = cl
        for tok in _prefix(cl["rep"], self.threshold):
            self.index.setdefault(tok, set()).add(cl["id"])

    def _drop(self, cid: int) -> None:
        cl = self.clusters.pop(cid)
        for tok in _prefix(cl["rep"], self.threshold):
            ids = self.index.get(tok)
            if ids is not None:
                ids.discard(cid)
                if not ids:
                    del self.index[tok]

    def _expire(self, ts: float) -> None:
        if ts - self._last_expire < 10.0:
            return
        self._last_expire = ts
        for k in [k for k, c in self.clusters.items() if ts - c["last"] > self.horizon]:
            self._drop(k)

    def to_state(self) -> dict[str, Any]:
        cl = [dict(c, rep=sorted(c["rep"])) for c in self.clusters.values()]
        return {"clusters": cl, "next_id": self.next_id, "last_expire": self._last_expire}

    def load_state(self, st: dict[str, Any]) -> None:
        self.clusters, self.index = {}, {}
        for c in st["clusters"]:
            self._insert(dict(c, rep=frozenset(c["rep"])))
        self.next_id = int(st["next_id"])
        self._last_expire = float(st["last_expire"])
