"""Signals -> episodes: one open episode per crisis, closed after a quiet period.

Detectors emit `Detection`s whenever their test is met (and "sustain" signals while a
weaker stay-open condition holds). Signals with the same (kind, scope) merge into
the open episode; a later, stronger wave raises its severity. An episode closes
only after `QUIET[kind]` seconds of event time without any signal (hysteresis),
so one crisis pages once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisis.detection.event import iso

QUIET = {"raid": 1200.0, "spam_wave": 1200.0, "complaint_spike": 2400.0,
         "dispute": 1800.0, "mass_leave": 3600.0, "report_backlog": 3600.0}
UPDATE_EVERY = 120.0  # seconds between evidence-only updates (severity changes are immediate)
MAX_ACCOUNTS = 100


@dataclass
class Detection:
    kind: str
    community: str
    scope: str
    severity: int  # 1 (worst) .. 4
    score: float
    ts: float
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    sustain_only: bool = False  # may keep an episode open but never opens one
    news: bool = False  # a new kind of evidence for an open episode: send the update at once


@dataclass
class Episode:
    key: str
    kind: str
    community: str
    scope: str
    severity: int
    title: str
    opened_at: float
    last_signal: float
    last_update: float
    evidence: dict[str, Any]
    signals: int = 1
    score: float = 0.0

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EpisodeAction:
    action: str  # "open" | "update" | "close"
    episode_key: str
    kind: str
    community: str
    severity: str  # "sev1".."sev4"
    title: str
    opened_at: str  # ISO event time of the opening signal
    ts: str  # event time of this action
    evidence: dict[str, Any]
    scope: str = ""  # e.g. "community" or "channel:general"
    score: float = 0.0  # strength of the latest full signal (kind-specific scale)

    @property
    def at(self) -> str:
        """Event time of this action (alias of ts, for callers that say "at")."""
        return self.ts

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _merge_accounts(old: list[str], new: list[str]) -> list[str]:
    seen = dict.fromkeys(old)
    for a in new:
        if len(seen) >= MAX_ACCOUNTS:
            break
        seen.setdefault(a)
    return list(seen)


class EpisodeBook:
    """Open episodes of one community, keyed by (kind, scope)."""

    def __init__(self, community: str) -> None:
        self.community = community
        self.open: dict[str, Episode] = {}

    def find(self, kind: str, scope: str) -> Episode | None:
        return self.open.get(f"{kind}|{scope}")

    def is_open(self, kind: str) -> bool:
        return any(ep.kind == kind for ep in self.open.values())

    def apply(self, sig: Detection) -> EpisodeAction | None:
        ident = f"{sig.kind}|{sig.scope}"
        ep = self.open.get(ident)
        if ep is None:
            if sig.sustain_only:
                return None
            key = f"{self.community}:{sig.kind}:{sig.scope}:{int(sig.ts)}"
            ep = Episode(key, sig.kind, self.community, sig.scope, sig.severity, sig.title,
                         sig.ts, sig.ts, sig.ts, dict(sig.evidence), score=sig.score)
            self.open[ident] = ep
            return self._action("open", ep, sig.ts)
        ep.last_signal = max(ep.last_signal, sig.ts)
        ep.signals += 1
        if sig.sustain_only:
            return None
        raised = sig.severity < ep.severity
        accounts = _merge_accounts(ep.evidence.get("accounts", []), sig.evidence.get("accounts", []))
        ep.evidence = dict(sig.evidence, accounts=accounts)
        ep.score = sig.score
        if raised:
            ep.severity, ep.title = sig.severity, sig.title
        if raised or sig.news or sig.ts - ep.last_update >= UPDATE_EVERY:
            ep.last_update = sig.ts
            return self._action("update", ep, sig.ts)
        return None

    def expire(self, now: float) -> list[EpisodeAction]:
        """Close episodes whose quiet period has passed (event time)."""
        out = []
        for ident, ep in list(self.open.items()):
            if now - ep.last_signal >= QUIET.get(ep.kind, 1800.0):
                del self.open[ident]
                out.append(self._action("close", ep, ep.last_signal + QUIET.get(ep.kind, 1800.0)))
        return out

    def _action(self, what: str, ep: Episode, ts: float) -> EpisodeAction:
        return EpisodeAction(what, ep.key, ep.kind, self.community, f"sev{ep.severity}", ep.title,
                             iso(ep.opened_at), iso(ts), ep.evidence, ep.scope, ep.score)

    def to_state(self) -> dict[str, Any]:
        return {k: ep.to_state() for k, ep in self.open.items()}

    def load_state(self, st: dict[str, Any]) -> None:
        self.open = {k: Episode(**v) for k, v in st.items()}
