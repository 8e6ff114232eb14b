"""RecentIds: the replay's stand-in for ingest's index of accepted ids."""
from __future__ import annotations

import json

from crisis.detection import CommunityDetector, DetectorSettings, dedup, parse_event
from crisis.detection.dedup import DEDUP_HORIZON, RecentIds

from .streams import COMM, T0, Stream


def test_it_drops_an_id_seen_again_within_the_horizon() -> None:
    recent = RecentIds()
    assert recent.first_time("a", 1000.0)
    assert not recent.first_time("a", 1000.0 + DEDUP_HORIZON)  # the previous generation still holds it
    assert recent.first_time("b", 1000.0)


def test_it_forgets_an_id_after_two_generations() -> None:
    recent = RecentIds()
    assert recent.first_time("a", 0.0)
    assert recent.first_time("x", 2 * DEDUP_HORIZON)
    assert recent.first_time("a", 2 * DEDUP_HORIZON + 1)


def test_a_late_event_does_not_turn_the_generations_back() -> None:
    recent = RecentIds()
    recent.first_time("new", 5 * DEDUP_HORIZON)
    assert recent.first_time("old", 1 * DEDUP_HORIZON)
    assert not recent.first_time("new", 5 * DEDUP_HORIZON + 1)
    assert recent.epoch == 5


def test_it_stays_bounded_on_a_flood_of_ids(monkeypatch) -> None:
    monkeypatch.setattr(dedup, "MAX_SEEN", 100)
    recent = RecentIds()
    for i in range(1000):
        assert recent.first_time(f"e{i}", 10.0)
    assert len(recent) <= 200
    assert not recent.first_time("e999", 10.0)


def test_a_checkpoint_of_the_first_version_loads_its_ids_ignored() -> None:
    s = Stream()
    s.background(T0, 1.0)
    evs = [parse_event(w) for w in s.events()]
    first = CommunityDetector(COMM)
    first.process(evs[: len(evs) // 2])
    state = json.loads(json.dumps(first.to_state()))
    assert state["version"] == 2 and "seen" not in state
    old = dict(state, version=1, seen=[e.id for e in evs[:10]], seen_prev=[], seen_epoch=3)
    resumed = CommunityDetector.from_state(COMM, DetectorSettings(), old)
    fresh = CommunityDetector.from_state(COMM, DetectorSettings(), state)
    rest = evs[len(evs) // 2:]
    assert [a.episode_key for a in resumed.process(rest)] == [a.episode_key for a in fresh.process(rest)]
    assert resumed.to_state() == fresh.to_state()
