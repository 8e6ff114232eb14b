from __future__ import annotations

import json
import math
import random

from crisis.detection.nab.flatline import FlatlineTest
from crisis.detection.nab.valuemode import ValueRate
from tests.detection.series import resumed_and_whole

T0 = 1_791_158_400.0
ALPHA = math.log(1e-5)  # bench/nab.py's fixed threshold 0.5


def _noisy(n: int, seed: int = 1) -> list[float]:
    """Noise rounded to 0.01: an exact repeat now and then (about one row in 280)."""
    gen = random.Random(seed)
    return [round(10.0 + gen.gauss(0.0, 1.0), 2) for _ in range(n)]


def _pages(test: FlatlineTest, xs: list[float]) -> list[int]:
    out = []
    for i, x in enumerate(xs):
        lp = test.observe(x)
        if lp is not None and lp < ALPHA:
            out.append(i)
    return out


def test_a_noisy_series_with_an_occasional_repeated_value_does_not_alarm() -> None:
    xs = _noisy(5000)
    assert sum(a == b for a, b in zip(xs, xs[1:])) >= 5  # it does repeat itself
    test = FlatlineTest()
    assert _pages(test, xs) == []
    assert 0.0 < test.start_chance() < 0.02


def test_a_genuine_flatline_alarms_within_a_few_rows() -> None:
    test = FlatlineTest()
    xs = _noisy(2000)
    assert _pages(test, xs) == []
    pages = _pages(test, [xs[-1]] * 10)  # the signal sticks at its last value
    assert pages and pages[0] <= 3


def test_a_value_repeated_once_is_not_a_flatline() -> None:
    test = FlatlineTest()
    _pages(test, _noisy(2000))
    lp = test.observe(7.0), test.observe(7.0)
    assert lp[0] is None and lp[1] is not None and lp[1] > ALPHA


def test_runs_that_are_ordinary_for_the_series_do_not_alarm() -> None:
    # a count that rests at zero for 30-60 rows every 200 rows, noisy in between
    gen = random.Random(2)
    xs: list[float] = []
    for _ in range(20):
        xs += [0.0] * gen.randint(30, 60) + [float(gen.randint(5, 50)) for _ in range(150)]
    test = FlatlineTest()
    late = [i for i in _pages(test, xs) if i > 1000]
    assert late == []  # once a few rests have been seen, a rest is not news
    assert _pages(test, [0.0] * 400)  # but one of 400 rows is


def test_a_series_constant_from_its_first_row_never_alarms() -> None:
    test = FlatlineTest()
    assert _pages(test, [3.0] * 20_000) == []


def test_the_run_under_test_is_not_learned_until_it_ends() -> None:
    test = FlatlineTest()
    _pages(test, _noisy(1000))
    before = (test.n01, test.n10, test.n11)
    for _ in range(20):
        test.observe(1.5)
    assert test.n01 <= before[0] and test.n10 <= before[1] and test.n11 <= before[2]  # only forgetting
    assert test.run == 19  # the first 1.5 is not a repeat
    test.observe(2.5)  # the run ends: its start, 18 continuations and its end are learned
    assert test.n11 > before[2] + 17.9 and test.n10 > before[1] + 0.9 and test.run == 0


def test_its_state_round_trips_through_a_json_checkpoint() -> None:
    xs = _noisy(1500, seed=3) + [4.0] * 12 + _noisy(100, seed=4)
    resumed, whole = resumed_and_whole(FlatlineTest, FlatlineTest.from_state, xs, 1505)
    assert resumed == whole


def test_value_mode_pages_a_flatline_and_resumes_the_test_from_a_checkpoint() -> None:
    xs = _noisy(1500, seed=5)
    rate = ValueRate(k_hod=60.0, k_how=60.0)
    rate.enable_flatline()
    for i, x in enumerate(xs):
        rate.observe_value(T0 + 300 * i, x)
    st = json.loads(json.dumps(rate.to_state()))
    resumed = ValueRate(k_hod=60.0, k_how=60.0)
    resumed.load_state(st)
    assert resumed.flatline is not None
    lps = []
    for j in range(4):
        ts = T0 + 300 * (len(xs) + j)
        lp_a, lp_b = rate.observe_value(ts, xs[-1]), resumed.observe_value(ts, xs[-1])
        assert lp_a == lp_b
        lps.append(lp_a)
    assert min(lps) < ALPHA
