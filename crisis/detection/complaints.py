"""Complaint spikes (report rate) and mass leaves (leave rate).

Both are the same test: the count in a sliding window (several widths, so slow
and fast surges are both seen) against the seasonal baseline of this community
and time of day, judged by the negative-binomial upper tail, with a minimum
count. A weaker tail (p < 1e-2) only sustains an open episode (hysteresis).
"""
from __future__ import annotations

import math
from typing import Any

from crisis.detection.episodes import Detection
from crisis.detection.event import Event
from crisis.detection.settings import DetectorSettings
from crisis.detection.stats import SeasonalRate

REPORT_WINDOWS = (3, 10, 20, 40, 60)
REPORT_ALPHA = 1e-6
REPORT_MIN = 6
LEAVE_WINDOWS = (10, 30, 60)
LEAVE_ALPHA = 1e-7
LEAVE_MIN = 10
SUSTAIN_ALPHA = 1e-2
FULL_EVERY = 60.0  # seconds between full evidence builds (episode updates go out every 120 s)
MAX_EVIDENCE_REPORTS = 500
MAX_RECENT = 3000


def _thresholds(settings: DetectorSettings, alpha: float, minimum: int) -> tuple[float, float]:
    s = settings.s
    return math.log(alpha) / s, max(3.0, minimum / s)


class _RecentRate:
    """A count-rate test over one event kind, with the recent events kept for evidence
    (reports: [ts, reporter, target, reason]; leaves: [ts, actor])."""

    STATE_KEEP: int | None = None  # how many recent rows a checkpoint keeps (None: all)

    def __init__(self, community: str, settings: DetectorSettings, rate: SeasonalRate,
                 messages: SeasonalRate) -> None:
        self.community = community
        self.settings = settings
        self.rate = rate
        self.messages = messages
        self.recent: list[list[Any]] = []
        self.last_full = -1e18

    def _remember(self, ts: float, row: list[Any]) -> None:
        self.recent.append(row)
        if len(self.recent) > MAX_RECENT:
            del self.recent[: len(self.recent) - MAX_RECENT]
        self.rate.add(ts)

    def to_state(self) -> dict[str, Any]:
        keep = self.recent if self.STATE_KEEP is None else self.recent[-self.STATE_KEEP:]
        return {"recent": keep, "last_full": self.last_full}

    def load_state(self, st: dict[str, Any]) -> None:
        self.recent = [list(r) for r in st["recent"]]
        self.last_full = float(st["last_full"])


class ReportDetector(_RecentRate):

    def on_report(self, e: Event, excluded: bool) -> list[Detection]:
        if excluded:
            return []
        self._remember(e.ts, [e.ts, e.actor, e.target_user or e.target_msg or "?", e.reason or ""])
        lim, minimum = _thresholds(self.settings, REPORT_ALPHA, REPORT_MIN)
        recent_alarm = e.ts - self.last_full < 2400
        # Cheap pre-check: with fewer reports in the last hour than the minimum
        # count nothing can fire (and outside an alarm nothing needs sustaining).
        if not recent_alarm and len(self.recent) < minimum:
            return []
        lp, win, obs, exp = self.rate.surprise(e.ts, REPORT_WINDOWS, min_obs=2 if recent_alarm else minimum,
                                               covariate=self.messages)
        if lp < lim or (lp < math.log(SUSTAIN_ALPHA) and recent_alarm):
            self.rate.hold(e.ts, 15)  # an alarm, or the tail of one: not baseline
        if lp < lim and obs >= minimum:
            if e.ts - self.last_full < FULL_EVERY:
                return [Detection("complaint_spike", self.community, "community", 4, -lp, e.ts, "", {},
                               sustain_only=True)]
            self.last_full = e.ts
            return [self._signal(e.ts, lp, win, obs, exp)]
        if lp < math.log(SUSTAIN_ALPHA):
            return [Detection("complaint_spike", self.community, "community", 4, -lp, e.ts, "", {},
                           sustain_only=True)]
        return []

    def on_moderation(self, e: Event) -> list[Detection]:
        return []

    def _signal(self, ts: float, lp: float, win: int, obs: float, exp: float) -> Detection:
        window = [r for r in self.recent[-MAX_EVIDENCE_REPORTS:] if ts - r[0] <= win * 60]
        targets: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in window:
            targets[r[2]] = targets.get(r[2], 0) + 1
            reasons[r[3]] = reasons.get(r[3], 0) + 1
        top = sorted(targets.items(), key=lambda kv: -kv[1])[:10]
        top3 = sum(n for _, n in top[:3]) / max(1, len(window))
        # piled: a few targets draw most reports, and repeatedly (with only a
        # handful of reports the top-3 share alone would call anything piled)
        pattern = "piled" if top3 >= 0.5 and len(window) >= 2 * len(targets) else "spread"
        ratio = obs / max(exp, 1e-9)
        sev = 2 if ratio >= 20 and obs >= 30 else 3
        ev = {"observed": obs, "expected": round(exp, 3), "window_min": win,
              "log10_p": round(lp / math.log(10), 1), "pattern": pattern,
              "top3_share": round(top3, 2), "distinct_targets": len(targets),
              "distinct_reporters": len({r[1] for r in window}),
              "most_reported": dict(top),
              "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:10]),
              "accounts": [t for t, _ in top],
              "per_minute_reports": self.rate.series(61)}
        title = f"Complaint spike: {int(obs)} reports in {win} min (expected {exp:.1f}), {pattern}"
        return Detection("complaint_spike", self.community, "community", sev, -lp, ts, title, ev)

    def expire(self, now: float) -> None:
        drop = 0
        while drop < len(self.recent) and now - self.recent[drop][0] > 3600:
            drop += 1
        if drop:
            del self.recent[:drop]



class LeaveDetector(_RecentRate):
    """Leaves of established members (joined more than a day ago or before we watched)."""

    STATE_KEEP = 500


    def on_leave(self, e: Event, joined_at: float | None) -> list[Detection]:
        if joined_at is not None and e.ts - joined_at < 86400:
            return []  # newcomers leaving again is churn of the join wave, not a mass leave
        self._remember(e.ts, [e.ts, e.actor])
        lim, minimum = _thresholds(self.settings, LEAVE_ALPHA, LEAVE_MIN)
        recent_alarm = e.ts - self.last_full < 3600
        while self.recent and e.ts - self.recent[0][0] > 3600:
            del self.recent[0]
        if not recent_alarm and len(self.recent) < minimum:
            return []
        lp, win, obs, exp = self.rate.surprise(e.ts, LEAVE_WINDOWS, min_obs=2 if recent_alarm else minimum,
                                               covariate=self.messages)
        if lp < lim or (lp < math.log(SUSTAIN_ALPHA) and recent_alarm):
            self.rate.hold(e.ts, 15)
        if lp < lim and obs >= minimum and e.ts - self.last_full >= FULL_EVERY:
            self.last_full = e.ts
            leavers = [r[1] for r in self.recent if e.ts - r[0] <= win * 60][-100:]
            ev = {"observed": obs, "expected": round(exp, 3), "window_min": win,
                  "log10_p": round(lp / math.log(10), 1), "accounts": leavers,
                  "per_minute_leaves": self.rate.series(61)}
            title = f"Mass leave: {int(obs)} members left in {win} min (expected {exp:.1f})"
            return [Detection("mass_leave", self.community, "community", 3, -lp, e.ts, title, ev)]
        if lp < math.log(SUSTAIN_ALPHA):
            return [Detection("mass_leave", self.community, "community", 4, -lp, e.ts, "", {},
                           sustain_only=True)]
        return []

