"""When two raids of different communities are one campaign. Pure: evidence in, counts out.

Two raid or spam-wave incidents of different communities link when their detector
activity lies within `WINDOW` (an hour) of each other and at least one of:
- `accounts`: `MIN_ACCOUNTS` or more accounts in both (raiders reusing accounts across a
  game's Discord servers; three is the smallest cluster the raid detector itself calls
  coordinated, so fewer is what chance overlaps of big communities look like);
- `fingerprints`: a sample message of one whose normalised token set (the detectors'
  crisis.detection.text.tokens, links folded to their domain) is a near-duplicate
  (Jaccard >= `SAME_TEXT`, the same cut as raid clusters) of one of the other's, among
  samples of at least `MIN_TOKENS` tokens (shorter ones collide by chance);
- `domains`: a link domain both raids pushed (the evidence names only domains the
  community had not seen from its established members, so common hosts drop out).
Only counts leave this module: what matched is never stored or shown beyond them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crisis.detection.text import jaccard, tokens

ATTACKS = ("raid", "spam_wave")
WINDOW = timedelta(hours=1)
MIN_ACCOUNTS = 3
MIN_TOKENS = 3
SAME_TEXT = 0.6
KINDS = ("accounts", "fingerprints", "domains")


@dataclass(frozen=True)
class Traits:
    accounts: frozenset[str]
    domains: frozenset[str]
    texts: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Matched:
    accounts: int = 0
    fingerprints: int = 0
    domains: int = 0

    @property
    def linked(self) -> bool:
        return self.accounts >= MIN_ACCOUNTS or self.fingerprints > 0 or self.domains > 0

    @property
    def weight(self) -> int:
        return self.accounts + self.fingerprints + self.domains

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in KINDS if getattr(self, k)}


def traits(evidence: dict[str, Any] | None) -> Traits:
    ev = evidence or {}
    accounts = frozenset(str(a) for a in ev.get("accounts") or [] if isinstance(a, (str, int)))
    domains = frozenset(str(d) for d in (ev.get("link_domains") or {}) if d != "@mass")
    texts = tuple(t for t in (tokens(str(s)) for s in ev.get("samples") or []) if len(t) >= MIN_TOKENS)
    return Traits(accounts, domains, texts)


def compare(a: Traits, b: Traits) -> Matched:
    return Matched(accounts=len(a.accounts & b.accounts),
                   fingerprints=sum(1 for t in a.texts if any(jaccard(t, u) >= SAME_TEXT for u in b.texts)),
                   domains=len(a.domains & b.domains))


def shared(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, list[str]]:
    """What matched itself, for a viewer who is staff of both communities."""
    ta, tb = traits(a), traits(b)
    return {"accounts": sorted(ta.accounts & tb.accounts), "domains": sorted(ta.domains & tb.domains)}


def near(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    """Two activity spans (start, end) no more than WINDOW apart."""
    return b[0] - a[1] <= WINDOW and a[0] - b[1] <= WINDOW
