from __future__ import annotations

import math
import random

from crisis.detection.nab.novelty import ContextNovelty, NoveltyLikelihood, RobustRange
from crisis.detection.nab.valuemode import ValueRate

T0 = 1_791_158_400.0


def test_it_finds_a_repeating_pattern_unsurprising_and_a_break_in_it_novel() -> None:
    nov = ContextNovelty()
    cycle = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    for _ in range(200):
        for x in cycle:
            nov.observe(x)
    usual = [nov.observe(x) for x in cycle]
    assert sum(usual) / len(usual) < 0.15  # (the edges of the range may flicker)
    # the same values, in an order never seen: each is familiar, the sequence is not
    broken = [nov.observe(x) for x in (7.0, 0.0, 7.0, 0.0)]
    assert min(broken[:2]) > 0.5


def test_it_quantises_by_a_range_that_one_outlier_does_not_stretch() -> None:
    rng = RobustRange(levels=8)
    gen = random.Random(1)
    for _ in range(2000):
        rng.learn(gen.uniform(0.0, 10.0))
    rng.learn(1e6)
    assert rng.hi < 20.0
    assert rng.symbol(1e6) == 9 and rng.symbol(-5.0) == 0
    assert 1 <= rng.symbol(5.0) <= 8


def test_it_keeps_context_counts_bounded() -> None:
    nov = ContextNovelty(levels=4, order=2, cap=50.0)
    gen = random.Random(2)
    for _ in range(20_000):
        nov.observe(gen.random())
    assert len(nov.counts) <= 1 + 6 + 36
    assert max(nov.totals.values()) <= 50.0


def test_it_reports_a_sustained_run_of_novelty_but_not_one_novel_row() -> None:
    gen = random.Random(3)
    lik = NoveltyLikelihood(windows=(10,))
    for _ in range(2000):
        lik.observe(0.6 * gen.random())
    single = lik.observe(1.0)
    lik2 = NoveltyLikelihood(windows=(10,))
    for _ in range(2000):
        lik2.observe(0.6 * gen.random())
    run = min(lik2.observe(1.0) for _ in range(10))
    assert single > math.log(1e-5) > run


def test_it_leaves_count_mode_checkpoints_unchanged() -> None:
    r = ValueRate()
    r.add(T0, 3.0)
    assert set(r.to_state()) == {"cur", "total", "cum_end", "cg", "eg", "ch", "eh", "cw", "ew",
                                 "prior_rate", "hold", "first", "acc"}
