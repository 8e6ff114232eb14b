"""Calendar buckets of the seasonal baselines."""
from __future__ import annotations


def hour_of_week(minute: int) -> int:
    """Minute index since epoch -> 0..167 with Monday 00:00 UTC = 0 (epoch was a Thursday)."""
    return (minute // 60 + 72) % 168
