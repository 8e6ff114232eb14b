"""What a report_backlog page shows: its title and evidence, from the report queue's records.

Also the record layout and the ladder of ages they share with crisis.detection.report_queue.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

from crisis.detection.event import iso

# record fields: [ts, reporter, target_user, target_msg, reason, handled_at, learned, gone]
# learned: bit j set once the report's verdict at AGES[j] is in the life table
TS, REPORTER, USER, MSG, REASON, HANDLED, LEARNED, GONE = range(8)
HANDLE_FLOOR = 900.0  # no backlog is worth a page before a report has waited a quarter of an hour
AGES = tuple(HANDLE_FLOOR * 2 ** j for j in range(8))  # 15 min .. 32 h
MAX_SAMPLES = 5
MAX_TARGETS = 10


def _span(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


class BacklogEvidence:
    """Mixed into ReportQueue, whose state it reads."""

    records: deque[list[Any]]
    ring: list[float]
    usual: float
    handled: float
    filed: float
    reached: list[list[float]]
    still_open: list[list[float]]
    dropped: int
    expired: int

    def _overdue(self, now: float) -> list[list[Any]]:
        return [r for r in self.records if r[HANDLED] is None and now - r[TS] > self.usual]

    def _title(self, now: float, j: int, n: int, o: int, expected: float) -> str:
        over = self._overdue(now)
        oldest = _span(now - over[0][TS]) if over else "-"
        return (f"Report backlog: {o} of the last {n} reports still open after {_span(AGES[j])} "
                f"(expected {expected:.1f}); {len(over)} overdue, oldest {oldest}")

    def _evidence(self, now: float, lp: float, j: int, n: int, o: int, expected: float,
                  since: float) -> dict[str, Any]:
        over = self._overdue(now)
        targets: dict[str, int] = {}
        users: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in over:
            t = r[USER] or r[MSG]
            targets[t] = targets.get(t, 0) + 1
            if r[USER]:
                users[r[USER]] = users.get(r[USER], 0) + 1
            reasons[r[REASON]] = reasons.get(r[REASON], 0) + 1
        ordered = sorted(self.ring)
        return {
            "open_overdue": len(over), "open_total": sum(1 for r in self.records if r[HANDLED] is None),
            "window_reports": n, "window_open": o, "expected_open": round(expected, 2),
            "window_since": iso(since), "judged_after_min": round(AGES[j] / 60, 1),
            "log10_p": round(lp / math.log(10), 1),
            "oldest_open_min": round((now - over[0][TS]) / 60, 1) if over else 0.0,
            "usual_handle_min": round(self.usual / 60, 1),
            "median_handle_min": round(ordered[len(ordered) // 2] / 60, 1) if ordered else None,
            "handled_share": round(self.handled / max(self.filed, 1e-9), 2),
            "usual_open_share": round((sum(self.still_open[j]) + 1.0) / (sum(self.reached[j]) + 2.0), 3),
            "most_reported": dict(sorted(targets.items(), key=lambda kv: -kv[1])[:MAX_TARGETS]),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:MAX_TARGETS]),
            "samples": [{"at": iso(r[TS]), "reporter": r[REPORTER], "target": r[USER] or r[MSG],
                         "reason": r[REASON]} for r in over[:MAX_SAMPLES]],
            "accounts": [u for u, _ in sorted(users.items(), key=lambda kv: -kv[1])[:100]],
            "dropped": self.dropped, "expired_open": self.expired,
        }
