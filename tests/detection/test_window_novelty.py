from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest

from crisis.detection.nab.recent import push_record
from crisis.detection.nab.valuemode import ValueRate
from crisis.detection.nab.window_novelty import WindowNovelty

T0 = 1_791_158_400.0


def test_it_finds_a_familiar_shape_close_and_a_new_shape_far() -> None:
    nov = WindowNovelty(width=8, capacity=300, k=3)
    gen = random.Random(1)
    wave = [math.sin(2 * math.pi * i / 24) for i in range(24)]
    for _ in range(20):
        for x in wave:
            nov.observe(x + gen.gauss(0, 0.02))
    usual = max(nov.observe(x + gen.gauss(0, 0.02)) for x in wave)
    # the same values, flattened at the top: never seen as a shape
    novel = max(nov.observe(0.9) for _ in range(8))
    assert usual < 0.05 < 0.1 < novel


def test_it_skips_the_windows_that_overlap_the_current_one() -> None:
    # a steady ramp: every past window is a shifted copy, but only overlapping ones are
    # close, so the ramp keeps looking new instead of matching its own recent rows
    nov = WindowNovelty(width=4, capacity=50, k=1)
    scores = [nov.observe(float(i)) for i in range(200)]
    assert min(scores[100:]) > 0.0


def test_it_keeps_a_bounded_ring_and_resumes_from_a_compact_checkpoint() -> None:
    gen = random.Random(2)
    xs = [gen.random() for _ in range(700)]
    whole = WindowNovelty(width=5, capacity=100)
    expected = [whole.observe(x) for x in xs]
    assert len(whole.ring) == 100
    part = WindowNovelty(width=5, capacity=100)
    for x in xs[:450]:
        part.observe(x)
    st = json.loads(json.dumps(part.to_state()))
    assert len(st["values"]) == 100 + 5 - 1  # values, not windows
    resumed = WindowNovelty.from_state(st)
    assert [resumed.observe(x) for x in xs[450:]] == expected[450:]


def test_it_calls_a_score_a_record_only_if_it_beats_the_recent_past() -> None:
    q: list[list[float]] = []
    flags = [push_record(q, i, s, 3) for i, s in enumerate([1.0, 5.0, 2.0, 5.0, 1.0, 1.0, 1.0, 1.5])]
    # 5 is not beaten by an equal 5; once the span has forgotten it, 1.5 is a record again
    assert flags == [True, True, False, False, False, False, False, True]
    assert len(q) <= 3


def _value_mode() -> ValueRate:
    r = ValueRate()
    r.enable_window_novelty(memory=300)
    r.enable_record_rule(memory=300)
    return r


def test_it_pages_a_restless_series_for_a_bigger_spike_not_for_each_spike() -> None:
    gen = random.Random(3)
    xs = [10 + gen.gauss(0, 1) for _ in range(1500)]
    for i in range(400, 1500, 100):
        xs[i] += 12.0  # the same spike every 100 rows
    xs[1450] += 40.0  # then a much bigger one
    r = _value_mode()
    lps = [r.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs)]
    paged = [i for i in range(800, 1500) if lps[i] < math.log(1e-5)]
    assert 1450 in paged
    assert len([i for i in paged if i % 100 == 0]) <= 1


def _symbol_novelty() -> ValueRate:
    r = ValueRate()
    r.enable_novelty()
    return r


@pytest.mark.parametrize("fresh", [_value_mode, _symbol_novelty], ids=["window+record", "symbol"])
def test_it_resumes_value_mode_with_its_options_from_a_checkpoint(fresh: Callable[[], ValueRate]) -> None:
    gen = random.Random(5)
    xs = [10 + 5 * math.sin(i / 20) + gen.gauss(0, 1) + (40 if i == 900 else 0) for i in range(1200)]
    whole = fresh()
    expected = [whole.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs)]
    part = fresh()
    for i, x in enumerate(xs[:600]):
        part.observe_value(T0 + 300 * i, x)
    resumed = ValueRate()  # the options come back with the checkpoint
    resumed.load_state(json.loads(json.dumps(part.to_state())))
    assert (resumed.v_record, resumed.window_nov is None, resumed.novelty is None) == (
        part.v_record, part.window_nov is None, part.novelty is None)
    got = [resumed.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs) if i >= 600]
    assert got == expected[600:]
    assert min(expected[880:920]) < math.log(1e-5)  # and the spike is found
