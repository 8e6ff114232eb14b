"""Duplicate event ids in a replayed stream, forgotten after a horizon of event time.

The detectors expect each event once. On the live path the ingest index of every
accepted id (crisis.ingest, `event_ids`) already guarantees that, forever, so the
detectors' checkpoint carries no memory of ids. A replay of files has no such index:
it filters its stream through RecentIds, which remembers ids in two rotating
generations of DEDUP_HORIZON seconds each (O(1) per event, no per-id expiry), so a
redelivery within 10-20 minutes of event time is dropped, as a retrying client's is.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from crisis.detection.event import Event

DEDUP_HORIZON = 600.0
# A generation that outgrows this rotates early: memory stays bounded on any stream.
MAX_SEEN = 200_000


class RecentIds:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.prev: set[str] = set()
        self.epoch = 0
        # Where the next generation begins: one float comparison per event instead of the
        # epoch's floor division (ts // H > epoch exactly when ts >= (epoch + 1) * H).
        self.next_epoch_at = DEDUP_HORIZON

    def first_time(self, event_id: str, ts: float) -> bool:
        """True the first time an id is offered within the horizon (and remembers it)."""
        seen = self.seen
        if event_id in seen or event_id in self.prev:
            return False
        if ts >= self.next_epoch_at or len(seen) >= MAX_SEEN:
            epoch = int(ts // DEDUP_HORIZON)
            # An old event (epoch behind) does not turn the generations back.
            self.prev = seen if epoch == self.epoch + 1 or len(seen) >= MAX_SEEN else set()
            seen = self.seen = set()
            self.epoch = max(epoch, self.epoch)
            self.next_epoch_at = (self.epoch + 1) * DEDUP_HORIZON
        seen.add(event_id)
        return True

    def filter(self, events: Iterable[Event]) -> Iterator[Event]:
        for e in events:
            if self.first_time(e.id, e.ts):
                yield e

    def __len__(self) -> int:
        return len(self.seen) + len(self.prev)
