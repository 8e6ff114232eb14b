"""How often this community's replies are hostile: the null model of the early dispute test.

A Beta posterior (Jeffreys prior) over the share of replies that score at least one
hostile hit, with counts decaying with a 14-day half-life. Replies count at once; a hostile
reply is learned LAG seconds later, and not at all if its speaker was in a dispute signal
meanwhile, so a dispute never teaches the model that disputes are ordinary (as the count
baselines hold their minutes during an alarm).
"""
from __future__ import annotations

from typing import Any

HALF_LIFE = 14 * 86400.0
LAG = 1800.0
MAX_PENDING = 5000


class HostileRate:
    def __init__(self) -> None:
        self.replies = 0.0
        self.hostile = 0.0
        self.decayed_at: float | None = None
        self.pending: list[list[Any]] = []  # [ts, speaker, weight] of hostile replies not yet learned
        self.disputants: dict[str, float] = {}  # speaker -> last dispute signal naming them

    def share(self) -> float:
        return (self.hostile + 0.5) / (self.replies + 1.0)

    def reply(self, ts: float, speaker: str, hostile: bool, weight: float = 1.0) -> None:
        self.replies += weight
        if hostile and len(self.pending) < MAX_PENDING:
            self.pending.append([ts, speaker, weight])

    def in_dispute(self, ts: float, speakers: list[str]) -> None:
        for s in speakers:
            self.disputants[s] = ts

    def learn(self, now: float) -> None:
        """Housekeeping (every few minutes): decay, then learn the hostile replies past LAG."""
        if self.decayed_at is None:
            self.decayed_at = now
        elif now > self.decayed_at:
            f = 0.5 ** ((now - self.decayed_at) / HALF_LIFE)
            self.replies *= f
            self.hostile *= f
            self.decayed_at = now
        done = 0
        for ts, speaker, weight in self.pending:
            if now - ts < LAG:
                break
            done += 1
            seen = self.disputants.get(speaker)
            if seen is None or seen < ts - LAG:
                self.hostile += weight
        if done:
            del self.pending[:done]
        for s in [s for s, t in self.disputants.items() if now - t > 2 * LAG]:
            del self.disputants[s]

    def to_state(self) -> dict[str, Any]:
        return {"replies": self.replies, "hostile": self.hostile, "decayed_at": self.decayed_at,
                "pending": self.pending, "disputants": self.disputants}

    def load_state(self, st: dict[str, Any]) -> None:
        self.replies, self.hostile = float(st["replies"]), float(st["hostile"])
        self.decayed_at = st["decayed_at"]
        self.pending = [list(p) for p in st["pending"]]
        self.disputants = dict(st["disputants"])
