"""CommunityDetector: all detectors of one community, driven by event time.

process() is the only entry point for events (live batches, replay and tests
alike), and takes each event once: the live path stores an id only once (the
ingest index), a replay filters its stream (dedup.RecentIds), so the checkpoint
carries no memory of ids. Per event the cost is a per-minute counter and, for
the few suspicious events, the detector that cares. Once per event-time minute
the detector housekeeps: baselines learn the completed minute, memories expire
and quiet episodes close.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crisis.detection.complaints import LeaveDetector, ReportDetector
from crisis.detection.dispute import DisputeDetector
from crisis.detection.episodes import Detection, EpisodeAction, EpisodeBook
from crisis.detection.event import Event
from crisis.detection.raid import RaidDetector
from crisis.detection.report_backlog import ReportQueue
from crisis.detection.settings import DetectorSettings
from crisis.detection.stats import SeasonalRate
from crisis.detection.text.normalize import hides_latin

MAX_POSTERS = 300_000
POSTER_MEMORY = 30 * 86400.0
# 2: no remembered ids (version 1 carried them; it loads, its ids ignored).
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Size-scaled cold-start priors (per message of this community): before any
# history, expected joins/reports/leaves are a small fraction of message traffic.
PRIOR_PER_MESSAGE = {"joins": 0.02, "reports": 0.01, "leaves": 0.01}


class CommunityDetector:
    def __init__(self, community: str, settings: DetectorSettings | None = None) -> None:
        self.community = community
        self.settings = settings or DetectorSettings()
        self.clock = float("-inf")
        self.minute = -1
        self.posters: dict[str, float] = {}  # accounts seen posting in the last 30 days
        self.messages = SeasonalRate()
        self.rates = {name: SeasonalRate() for name in PRIOR_PER_MESSAGE}
        for r in self.rates.values():
            r.shape_fn = self.messages.hod_factor  # pooled hour-of-day prior from activity
        self.book = EpisodeBook(community)
        self.raid = RaidDetector(community, self.settings, self.rates["joins"])
        self.dispute = DisputeDetector(community, self.settings)
        self.reports = ReportDetector(community, self.settings, self.rates["reports"], self.messages)
        self.leaves = LeaveDetector(community, self.settings, self.rates["leaves"], self.messages)
        self.queue = ReportQueue(community, self.settings)

    # ---- driving --------------------------------------------------------------------
    def process(self, events: Iterable[Event]) -> list[EpisodeAction]:
        """Feed events (any order within seconds; each once) -> episode actions."""
        out: list[EpisodeAction] = []
        settings = self.settings
        allow_users = settings._allow_users
        msgs, posters, members = self.messages, self.posters, self.raid.members
        dispute_on_message = self.dispute.on_message
        clock = self.clock
        next_minute = (self.minute + 1) * 60.0
        for e in events:
            ts = e.ts
            if ts > clock:
                clock = ts
                if ts >= next_minute:
                    self.clock = ts
                    out += self._tick(ts)
                    next_minute = (self.minute + 1) * 60.0
            if e.extra or allow_users:
                if settings.is_allowed(e.actor, e.roles, e.bot):
                    if e.type == "moderation.action":
                        # Moderators and their bots are typically allowlisted, and their
                        # actions are exactly the handling the report queue must see.
                        self.queue.on_action(e)
                    continue
            if e.type == "message.create":
                # hot path: most events are ordinary messages; keep this branch lean
                m = int(ts // 60)
                if m == msgs.cur:
                    msgs.total += 1.0
                else:
                    msgs.add(ts)
                actor = e.actor
                if posters.get(actor, -1e18) < ts - 86400.0:
                    posters.pop(actor, None)  # refreshed daily: the dict stays in recency order
                    posters[actor] = ts
                c = e.content
                sigs = None
                if c and (actor in members or "http" in c or "@" in c or "www." in c
                          or (not c.isascii() and hides_latin(c))):
                    sigs = self.raid.on_message(e, self.book.is_open)
                sig2 = dispute_on_message(e)  # replies are examined; others may be answered
                if sig2:
                    sigs = sig2 if not sigs else sigs + sig2
                if not sigs:
                    continue
            else:
                sigs = self._other(e)
            self.clock = clock
            for sig in sigs:
                out += self._apply(sig)
        self.clock = clock
        return out

    def _other(self, e: Event) -> list[Detection]:
        t = e.type
        if t == "report.create":
            excluded = self._excluded(e)
            if not excluded:  # reports a raid explains are that incident's, not the queue's
                self.queue.on_report(e)
            return self.dispute.on_report(e) + self.reports.on_report(e, excluded)
        if t == "member.join":
            self.rates["joins"].add(e.ts)
            return self.raid.on_join(e, self.book.is_open)
        if t == "member.leave":
            return self.leaves.on_leave(e, self.raid.joined_at(e.actor))
        if t == "moderation.action":
            self.queue.on_action(e)
            return self.reports.on_moderation(e)
        return []

    def advance_to(self, ts: float) -> list[EpisodeAction]:
        """Move event time forward without events (e.g. a quiet feed): closes quiet episodes."""
        if ts <= self.clock:
            return []
        self.clock = ts
        return self._tick(ts, live=False)

    def _tick(self, ts: float, live: bool = True) -> list[EpisodeAction]:
        """live: driven by an event. Only then is the report queue judged: a silent
        feed cannot show reports being handled, so it must not look like a backlog."""
        self.minute = int(ts // 60)
        out: list[EpisodeAction] = []
        if live:
            for sig in self.queue.check(ts):
                out += self._apply(sig)
        # Baselines learn lazily (each catches up on its next add/test); only the
        # size-scaled priors follow the message rate here.
        if self.minute % 5 == 0:  # slow-moving housekeeping, every five minutes
            base = self.messages.global_rate()
            for name, r in self.rates.items():
                r.prior_rate = PRIOR_PER_MESSAGE[name] * base
            self.dispute.expire(ts)
            self.reports.expire(ts)
        posters = self.posters
        while posters:  # forget accounts silent for POSTER_MEMORY (or beyond the cap)
            k = next(iter(posters))
            if ts - posters[k] <= POSTER_MEMORY and len(posters) <= MAX_POSTERS:
                break
            del posters[k]
        self.raid.expire(ts)
        return out + self.book.expire(ts)

    def _excluded(self, e: Event) -> bool:
        """Reports explained by a raid or spam wave are evidence for it, not complaints.

        While one is open, reports on newcomers, on suspects, or on accounts never
        seen posting (reports can arrive before the reported message) belong to it.
        """
        tgt = e.target_user
        if tgt is None:
            return False
        if tgt in self.raid.suspects:
            return True
        if self.book.is_open("raid") or self.book.is_open("spam_wave"):
            return tgt not in self.posters or self.raid.is_newcomer(tgt, e.ts)
        return False

    def _apply(self, sig: Detection) -> list[EpisodeAction]:
        if sig.kind not in self.settings.enabled_kinds:
            return []
        if sig.kind == "spam_wave" and self.book.is_open("raid"):
            sig.kind, sig.sustain_only = "raid", True  # same crisis: keep the raid open
        if sig.evidence and "per_minute_messages" not in sig.evidence:
            sig.evidence["per_minute_messages"] = self.messages.series(61)
        if sig.kind == "raid":
            self.rates["joins"].hold(sig.ts)  # a raid's joins must not become the baseline
        act = self.book.apply(sig)
        return [act] if act is not None else []

    # ---- checkpoint -------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-serializable snapshot; from_state() resumes exactly where this left off."""
        return {"version": STATE_VERSION, "clock": self.clock if self.clock != float("-inf") else None,
                "minute": self.minute, "posters": self.posters,
                "messages": self.messages.to_state(),
                "rates": {k: r.to_state() for k, r in self.rates.items()},
                "book": self.book.to_state(), "raid": self.raid.to_state(),
                "dispute": self.dispute.to_state(), "reports": self.reports.to_state(),
                "leaves": self.leaves.to_state(), "queue": self.queue.to_state()}

    @classmethod
    def from_state(cls, community: str, settings: DetectorSettings | None,
                   state: dict[str, Any]) -> CommunityDetector:
        det = cls(community, settings)
        if not state or state.get("version") not in READABLE_VERSIONS:
            return det  # unknown snapshot: start cold rather than misread it
        det.clock = state["clock"] if state["clock"] is not None else float("-inf")
        det.minute = state["minute"]
        det.posters = dict(state["posters"])
        det.messages.load_state(state["messages"])
        for k, r in det.rates.items():
            r.load_state(state["rates"][k])
        det.book.load_state(state["book"])
        det.raid.load_state(state["raid"])
        det.dispute.load_state(state["dispute"])
        det.reports.load_state(state["reports"])
        det.leaves.load_state(state["leaves"])
        if "queue" in state:  # snapshots from before report_backlog start with an empty queue
            det.queue.load_state(state["queue"])
        return det
