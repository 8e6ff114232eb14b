"""The record rule's margin (crisis.detection.nab.recent, ValueRate.enable_record_rule)."""
from __future__ import annotations

import json
import math
import random

from crisis.detection.nab.recent import push_record
from crisis.detection.nab.valuemode import ValueRate

T0 = 1_700_000_000.0


def test_it_does_not_call_a_score_a_hair_above_the_old_maximum_a_record() -> None:
    q: list[list[float]] = []
    flags = [push_record(q, i, s, 10, margin=0.05) for i, s in enumerate([1.0, 4.0, 4.1, 4.2, 4.5])]
    # 4.1 and 4.2 beat 4.0 by less than 5 % of it; 4.5 beats 4.2 (the maximum now) by 7 %
    assert flags == [True, True, False, False, True]


def test_it_keeps_the_plain_record_rule_without_a_margin() -> None:
    q: list[list[float]] = []
    assert [push_record(q, i, s, 10) for i, s in enumerate([1.0, 4.0, 4.1])] == [True, True, True]


def _spiky(last: float) -> list[float]:
    gen = random.Random(7)
    xs = [10 + gen.gauss(0, 1) for _ in range(1500)]
    for i in range(400, 1400, 100):
        xs[i] += 12.0  # the same spike every 100 rows
    xs[1450] += last
    return xs


def _rate(margin: float) -> ValueRate:
    r = ValueRate()
    r.enable_record_rule(memory=1000, margin=margin)
    return r


def _single_row_pages(r: ValueRate, xs: list[float]) -> list[int]:
    lps = [r.observe_value(T0 + 300 * i, x) for i, x in enumerate(xs)]
    return [i for i in range(800, 1500) if lps[i] < math.log(1e-5)]


def test_it_pages_a_spike_that_clearly_beats_the_series_past_spikes() -> None:
    assert 1450 in _single_row_pages(_rate(0.05), _spiky(30.0))


def test_it_does_not_page_a_spike_barely_above_the_past_ones_with_a_margin() -> None:
    xs = _spiky(0.0)
    xs[1450] = max(xs[i] for i in range(400, 1400, 100)) + 0.01  # a record by a hair
    assert 1450 in _single_row_pages(_rate(0.0), xs)  # the plain record rule pages it
    assert 1450 not in _single_row_pages(_rate(0.05), xs)


def test_it_resumes_the_margin_from_a_checkpoint() -> None:
    part = _rate(0.05)
    for i, x in enumerate(_spiky(30.0)[:600]):
        part.observe_value(T0 + 300 * i, x)
    resumed = ValueRate()
    resumed.load_state(json.loads(json.dumps(part.to_state())))
    assert (resumed.v_record, resumed.v_record_margin) == (1000, 0.05)
