"""Ingest → detection lag, read from outside: batches are never written back once stored
(progress is each community's DetectorState.last_seq), so a thread samples every
community's last_seq every few milliseconds, and an event's lag is the first sample that
covers its seq minus its received_at. Resolution is the sampling interval plus one query,
so the figure errs high, never low.
"""
from __future__ import annotations

import bisect
import statistics
import threading
import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from crisis.models import DetectorState, EventBatch


class LagWatch:
    def __init__(self, sessions: Any, interval: float = 0.02) -> None:
        self.sessions = sessions
        self.interval = interval
        self.samples: dict[int, list[tuple[int, datetime]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LagWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self.sessions() as s:
            while not self._stop.is_set():
                rows = s.execute(select(DetectorState.community_id, DetectorState.last_seq)).all()
                s.rollback()  # a fresh snapshot next time
                now = datetime.now(timezone.utc)
                for cid, last in rows:
                    seen = self.samples.setdefault(cid, [])
                    if not seen or seen[-1][0] != last:
                        seen.append((last, now))
                time.sleep(self.interval)

    def lags(self, since: datetime) -> list[float]:
        """Seconds from receipt to the first sample at or past each event received since `since`
        (events not yet covered when the watch stopped are left out; check the backlog).
        One figure per event: a batch's events share its seq and arrival time."""
        with self.sessions() as s:
            rows = s.execute(select(EventBatch.community_id, EventBatch.seq, EventBatch.received_at, EventBatch.count)
                             .where(EventBatch.received_at >= since)).all()
        out = []
        for cid, seq, received, count in rows:
            seen = self.samples.get(cid, [])
            i = bisect.bisect_left([last for last, _ in seen], seq)
            if i < len(seen):
                out.extend([(seen[i][1] - received).total_seconds()] * count)
        return out


def percentiles(lags: list[float]) -> tuple[float, float]:
    if len(lags) < 2:
        return 0.0, 0.0
    qs = statistics.quantiles(lags, n=100)
    return qs[49], qs[98]
