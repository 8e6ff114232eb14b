"""Message text features: normalization, links, mentions, hostility, near-duplicates.

Only messages from new or suspicious accounts (or carrying links/mentions) are
normalized and clustered, which keeps the per-message cost of ordinary traffic
at a couple of dict lookups.
"""
from __future__ import annotations

import math
import re
import zlib
from typing import Any

_URL = re.compile(r"(?:https?://|www\.)([^\s/?#]+)[^\s]*", re.I)
_MENTION = re.compile(r"@(everyone|here|[\w.\-]+)")
_WORD = re.compile(r"[a-z0-9$@]+")
# leetspeak folding so "h0t s1ngles" and "hot singles" normalize alike
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"})

# Generic English hostility lexicon (insults, dismissals). Deliberately short and
# unspecific to any community; friendly markers cancel banter like "you idiot lol".
HOSTILE = frozenset("""idiot idiots idiotic stupid stupidity moron morons moronic dumb dumbest
trash garbage clown clowns pathetic liar liars lying lies hypocrite hypocrisy loser losers
ridiculous shut wrong nobody asked stfu gtfo fool fools foolish jerk scum disgusting worthless
useless hate hateful troll trolling toxic coward cowards cringe shameful incompetent clueless
ignorant delusional braindead nonsense absurd embarrassing joke laughable bs bullshit crap
damn wtf screw pig rat creep freak weirdo shameless""".split())
HOSTILE_PHRASES = ("shut up", "grow up", "nobody asked", "get lost", "who asked", "go away",
                   "screw you", "you're wrong", "you are wrong", "how dare", "get a life")
FRIENDLY = frozenset("""lol haha hahaha lmao thanks thank love awesome nice great agree totally
exactly yes same friend cool glad""".split())


def link_domains(content: str) -> list[str]:
    """Registrable-ish host names (lowercased, without 'www.') of links in the text."""
    out = []
    for host in _URL.findall(content):
        host = host.lower().rstrip(".,;:!)")
        if host.startswith("www."):
            host = host[4:]
        out.append(host)
    return out


def mention_count(content: str) -> tuple[int, bool]:
    """(number of mentions, whether a mass mention @everyone/@here is present)."""
    found = _MENTION.findall(content)
    mass = any(m in ("everyone", "here") for m in found)
    return len(found), mass


def tokens(content: str) -> frozenset[str]:
    """Normalized token set: links -> 'url:<domain>', leet folded, digits dropped."""
    text = _URL.sub(lambda m: " url" + m.group(1).lower().translate(_LEET).replace(".", "") + " ", content.lower())
    toks = set()
    for w in _WORD.findall(text.translate(_LEET)):
        w = w.strip("0123456789")
        if len(w) >= 2 or w in ("i", "a", "u"):
            toks.add(w)
    return frozenset(toks)


def hostility(content: str) -> float:
    """Hostility of one message: lexicon hits, shouting; friendly markers subtract."""
    low = content.lower()
    words = low.split()
    hits = sum(1 for w in words if w.strip("!?.,") in HOSTILE)
    hits += sum(1 for p in HOSTILE_PHRASES if p in low)
    friendly = sum(1 for w in words if w.strip("!?.,:)") in FRIENDLY)
    letters = [c for c in content if c.isalpha()]
    shouting = len(letters) >= 8 and sum(1 for c in letters if c.isupper()) >= 0.7 * len(letters)
    score = min(hits, 4) * 1.0 - friendly * 1.0
    if shouting:
        score += 1.0 if hits else 0.5
    if content.count("!") >= 2:
        score += 0.25
    return max(0.0, score)


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
