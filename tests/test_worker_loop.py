"""The worker's outer loop: rq's work() returning on its own (it does after logging an
unhandled error, e.g. Redis restarting while it watches a work horse) must not end the
process; a stop request or a burst run does."""
from __future__ import annotations

from typing import Any

import pytest

from crisis.jobs import worker


class _FakeWorker:
    runs = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._stop_requested = False

    def work(self, **kwargs: Any) -> bool:
        type(self).runs += 1
        self._stop_requested = type(self).runs >= 3  # two crashes, then a SIGTERM
        return True

    def register_death(self) -> None:
        pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[_FakeWorker]:
    _FakeWorker.runs = 0
    monkeypatch.setattr(worker, "CrisisWorker", _FakeWorker)
    monkeypatch.setattr(worker.time, "sleep", lambda _s: None)
    monkeypatch.setattr(worker.bells, "queue", lambda *_a: None)
    return _FakeWorker


class _Rt:
    redis = None


def test_the_work_loop_starts_again_until_a_stop_is_requested(fake: type[_FakeWorker]) -> None:
    worker._work_until_stopped(_Rt(), burst=False, name="w", log_level="INFO")  # type: ignore[arg-type]
    assert fake.runs == 3


def test_a_burst_run_ends_after_one_pass(fake: type[_FakeWorker]) -> None:
    worker._work_until_stopped(_Rt(), burst=True, name="w", log_level="INFO")  # type: ignore[arg-type]
    assert fake.runs == 1
