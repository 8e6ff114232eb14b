from __future__ import annotations

import json

from crisis.detection.nab.contexts import ContextDetector, ContextMemory
from crisis.detection.nab.valuemode import ValueRate

T0 = 1_791_158_400.0
CYCLE = [0, 2, 5, 7, 5, 2]


def test_it_is_silent_on_a_repeating_pattern_and_scores_a_new_one() -> None:
    mem = ContextMemory(rest=5)
    for _ in range(40):
        for lvl in CYCLE:
            mem.observe(lvl)
    usual = [mem.observe(lvl) for lvl in CYCLE * 3]
    assert max(usual) == 0.0  # every value was predicted
    # familiar levels in an order never seen
    novel = [mem.observe(lvl) for lvl in [7, 0, 7, 0, 3, 3]]
    assert max(novel) >= 0.75


def test_it_rests_after_an_alarm() -> None:
    mem = ContextMemory(rest=10)
    for _ in range(40):
        for lvl in CYCLE:
            mem.observe(lvl)
    scores = [mem.observe(lvl) for lvl in [7, 0, 7, 0, 3, 3, 1, 6, 1, 6]]
    first = next(i for i, s in enumerate(scores) if s >= 0.75)
    assert all(s == 0.0 for s in scores[first + 1:])


def test_it_freezes_the_range_after_the_warmup_and_clips() -> None:
    det = ContextDetector(warmup=3, rest=5)
    for x in (10.0, 20.0, 17.0):
        det.observe(x)
    det.observe(100.0)
    assert (det.lo, det.hi) == (10.0, 20.0)
    assert (det.level(100.0), det.level(-5.0), det.level(15.0)) == (7, 0, 3)


def test_it_stops_storing_contexts_at_capacity() -> None:
    mem = ContextMemory(rest=5, capacity=50)
    for i in range(500):
        mem.observe((i * 7 + i // 3) % 8)
    assert len(mem.contexts) == 50


def test_it_resumes_from_a_checkpoint() -> None:
    levels = [(i * 5 + (i // 17) % 3) % 8 for i in range(600)]
    whole = ContextMemory(rest=7)
    expected = [whole.observe(lvl) for lvl in levels]
    part = ContextMemory(rest=7)
    for lvl in levels[:350]:
        part.observe(lvl)
    resumed = ContextMemory.from_state(json.loads(json.dumps(part.to_state())))
    assert [resumed.observe(lvl) for lvl in levels[350:]] == expected[350:]


def test_it_resumes_value_mode_with_the_context_detector() -> None:
    xs = [10 + CYCLE[i % 6] + (30 if i == 700 else 0) for i in range(900)]

    def fresh() -> ValueRate:
        r = ValueRate()
        r.enable_contexts(warmup=200, rest=20)
        return r

    whole = fresh()
    expected = [whole.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs)]
    part = fresh()
    for i, x in enumerate(xs[:500]):
        part.observe_value(T0 + 300 * i, x)
    resumed = ValueRate()
    resumed.load_state(json.loads(json.dumps(part.to_state())))
    assert resumed.contexts is not None
    got = [resumed.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs) if i >= 500]
    assert got == expected[500:]
    assert resumed.context_score == whole.context_score
