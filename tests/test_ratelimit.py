"""The ingest limiter counts in the round trip that rings the detectors and refuses from
what its process last saw (crisis.api.ratelimit.IngestLimiter)."""
from __future__ import annotations

from typing import Any

from flask import Flask

from crisis.api import ratelimit


class _Pipe:
    """Stands in for a Redis pipeline: INCR answers from a shared counter."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.replies: list[Any] = []

    def incr(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.replies.append(self.counts[key])

    def expire(self, key: str, seconds: int) -> None:
        self.replies.append(True)


def _post(limiter: ratelimit.IngestLimiter, counts: dict[str, int], now: float) -> int | None:
    wait = limiter.wait("a" * 64, now=now)
    if wait is None:
        pipe = _Pipe(counts)
        limiter.count(pipe, "a" * 64, now=now)(pipe.replies[0])
    return wait


def test_one_process_refuses_exactly_past_the_limit_until_the_window_turns() -> None:
    app = Flask(__name__)
    app.config["RATELIMIT_INGEST"] = ratelimit.Limit(3, 10)
    limiter, counts = ratelimit.IngestLimiter(), {}
    with app.app_context():
        assert [_post(limiter, counts, 100.0 + i) for i in range(4)] == [None, None, None, 7]
        assert _post(limiter, counts, 110.0) is None  # a new window


def test_a_second_process_learns_the_shared_count_after_one_request() -> None:
    app = Flask(__name__)
    app.config["RATELIMIT_INGEST"] = ratelimit.Limit(3, 10)
    first, second, counts = ratelimit.IngestLimiter(), ratelimit.IngestLimiter(), {}
    with app.app_context():
        assert [_post(first, counts, 100.0) for _ in range(3)] == [None, None, None]
        assert _post(second, counts, 101.0) is None  # it had not seen the count: one over
        assert _post(second, counts, 101.5) == 9
        assert _post(first, counts, 102.0) == 8
