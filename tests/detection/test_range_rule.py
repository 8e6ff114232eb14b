from __future__ import annotations

import json
import math
import random

from crisis.detection.nab.range_rule import RangeRule
from crisis.detection.nab.valuemode import ValueRate
from tests.detection.series import resumed_and_whole

T0 = 1_791_158_400.0


def _noisy(n: int, seed: int = 1) -> list[float]:
    gen = random.Random(seed)
    return [10.0 + gen.uniform(-1.0, 1.0) for _ in range(n)]


def test_a_value_beyond_the_range_seen_by_more_than_the_tolerance_is_flagged() -> None:
    rule = RangeRule(warmup=100, tolerance=0.05)
    assert not any(rule.observe(x) for x in _noisy(300))
    span = rule.hi - rule.lo
    assert rule.observe(rule.hi + 0.2 * span)  # a new all-time high
    assert rule.observe(rule.lo - 0.2 * span)  # and a new low


def test_a_value_inside_the_tolerance_or_during_the_warmup_is_not_flagged() -> None:
    rule = RangeRule(warmup=100, tolerance=0.05)
    xs = _noisy(50)
    assert not any(rule.observe(x) for x in xs + [100.0])  # still warming up
    rule = RangeRule(warmup=100, tolerance=0.05)
    for x in _noisy(300):
        rule.observe(x)
    assert not rule.observe(rule.hi + 0.04 * (rule.hi - rule.lo))


def test_a_constant_series_has_no_range_to_leave() -> None:
    rule = RangeRule(warmup=10)
    assert not any(rule.observe(0.0) for _ in range(50))
    assert not rule.observe(1.0)  # the first change only shows the range


def test_the_rule_learns_each_value_so_a_repeated_high_is_not_news_again() -> None:
    rule = RangeRule(warmup=100)
    for x in _noisy(300):
        rule.observe(x)
    assert rule.observe(20.0)
    assert not rule.observe(20.0)


def test_its_state_round_trips_through_a_json_checkpoint() -> None:
    xs = _noisy(400, seed=3) + [30.0, 5.0, 31.0, 12.0]
    resumed, whole = resumed_and_whole(lambda: RangeRule(warmup=100, tolerance=0.05), RangeRule.from_state, xs, 200)
    assert resumed == whole


def test_value_mode_pages_a_new_all_time_high_and_resumes_the_rule_from_a_checkpoint() -> None:
    xs = _noisy(400, seed=4)
    rate = ValueRate(k_hod=60.0, k_how=60.0)
    rate.enable_range_rule()
    for i, x in enumerate(xs):
        rate.observe_value(T0 + 300 * i, x)
    st = json.loads(json.dumps(rate.to_state()))
    resumed = ValueRate(k_hod=60.0, k_how=60.0)
    resumed.load_state(st)
    assert resumed.range_rule is not None
    ts = T0 + 300 * len(xs)
    lp_a, lp_b = rate.observe_value(ts, 11.2), resumed.observe_value(ts, 11.2)
    assert lp_a == lp_b <= -10.0 * math.log(10.0)  # 11.2 lies 10 % of the range above the maximum
