from __future__ import annotations

import itertools
import json
import math
import random

from crisis.detection.nab.dispersion import DispersionTest, markov_tail
from crisis.detection.nab.valuemode import ValueRate
from tests.detection.series import resumed_and_whole

T0 = 1_791_158_400.0
ALPHA = math.log(1e-5)  # bench/nab.py's fixed threshold 0.5


def _noise(n: int, sd: float = 1.0, seed: int = 1) -> list[float]:
    gen = random.Random(seed)
    return [10.0 + gen.gauss(0.0, sd) for _ in range(n)]


def _pages(test: DispersionTest, xs: list[float]) -> list[int]:
    out = []
    for i, x in enumerate(xs):
        lp = test.observe(x)
        if lp is not None and lp < ALPHA:
            out.append(i)
    return out


def test_the_markov_tail_is_the_binomial_one_for_independent_trials() -> None:
    for w, p, k in ((32, 0.1, 15), (64, 0.1, 8), (128, 0.3, 50)):
        binom = sum(math.comb(w, j) * p ** j * (1 - p) ** (w - j) for j in range(k, w + 1))
        assert math.isclose(markov_tail(w, p, p, 0, k), binom, rel_tol=1e-9)
        assert math.isclose(markov_tail(w, p, p, 1, k), binom, rel_tol=1e-9)


def test_the_markov_tail_matches_enumeration_of_every_path() -> None:
    a, b, w = 0.2, 0.7, 10
    for start in (0, 1):
        dist = [0.0] * (w + 1)
        for path in itertools.product((0, 1), repeat=w):
            pr, prev = 1.0, start
            for s in path:
                on = b if prev else a
                pr *= on if s else 1.0 - on
                prev = s
            dist[sum(path)] += pr
        for k in range(5, w + 1):  # above the chain's mean count (the lower ones are taken as 1)
            assert math.isclose(markov_tail(w, a, b, start, k), sum(dist[k:]), rel_tol=1e-9)


def test_clustered_exceedances_widen_the_null() -> None:
    # the same exceedance rate (1/10), bursty against independent: 20 of 64 is far less surprising
    b = 0.5
    a = 0.1 * (1 - b) / 0.9  # stationary chance a / (1 - b + a) = 0.1
    assert markov_tail(64, a, b, 0, 20) > markov_tail(64, 0.1, 0.1, 0, 20) * 100


def test_a_stationary_noisy_series_stays_quiet() -> None:
    test = DispersionTest()
    lps = [lp for lp in (test.observe(x) for x in _noise(20_000)) if lp is not None]
    assert len(lps) > 600  # tested every 32 rows once warm
    assert min(lps) > ALPHA


def test_isolated_spikes_do_not_page_it() -> None:
    gen = random.Random(4)
    xs = [x + (40.0 if gen.random() < 0.01 else 0.0) for x in _noise(20_000, seed=4)]
    assert _pages(DispersionTest(), xs) == []  # the residual test's job, not this one's


def test_a_rise_in_variance_pages_within_a_few_windows() -> None:
    test = DispersionTest()
    assert _pages(test, _noise(2000)) == []
    pages = _pages(test, _noise(600, sd=2.0, seed=2))
    assert pages and pages[0] < 256


def test_a_fall_in_variance_does_not_page() -> None:
    test = DispersionTest()
    _pages(test, _noise(2000))
    assert _pages(test, _noise(2000, sd=0.3, seed=3)) == []


def test_it_is_made_only_as_a_window_ends_and_once_its_reference_is_long_enough() -> None:
    test, made = DispersionTest(), []
    for i, x in enumerate(_noise(1000)):
        lp = test.observe(x)
        assert test.scored == (lp is not None)
        if lp is not None:
            made.append(i)
    # the first change is row 1; 32-row windows open once 128 changes are in the reference
    assert made[0] == 128 + 32
    assert all((i - made[0]) % 32 == 0 for i in made)


def test_its_state_round_trips_through_a_json_checkpoint() -> None:
    xs = _noise(1500, seed=5) + _noise(500, sd=3.0, seed=6)
    resumed, whole = resumed_and_whole(DispersionTest, DispersionTest.from_state, xs, 1517)  # mid-window
    assert resumed == whole


def test_value_mode_pages_a_variance_rise_and_resumes_the_test_from_a_checkpoint() -> None:
    xs = _noise(1500, seed=7)
    rate = ValueRate(k_hod=60.0, k_how=60.0)
    rate.enable_dispersion()
    for i, x in enumerate(xs):
        rate.observe_value(T0 + 300 * i, x)
    resumed = ValueRate(k_hod=60.0, k_how=60.0)
    resumed.load_state(json.loads(json.dumps(rate.to_state())))
    assert resumed.dispersion is not None
    lps = []
    for j, x in enumerate(_noise(300, sd=4.0, seed=8)):
        ts = T0 + 300 * (len(xs) + j)
        lp_a, lp_b = rate.observe_value(ts, x), resumed.observe_value(ts, x)
        assert lp_a == lp_b
        lps.append(lp_a)
    assert min(lps) < ALPHA
