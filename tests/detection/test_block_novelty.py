from __future__ import annotations

import json
import math
import random

from crisis.detection.nab.block_novelty import BlockNovelty
from crisis.detection.nab.valuemode import ValueRate

T0 = 1_791_158_400.0  # a midnight UTC
STEP = 300.0  # 5-minute rows
DAY = 288  # rows per day
PAGE = math.log(1e-5)  # bench/nab.py's fixed threshold 0.5


def _daily(days: int, seed: int, missing_peak_day: int = -1) -> list[float]:
    """A daily curve with a peak around noon and noise; one day may lose its peak."""
    gen = random.Random(seed)
    xs = []
    for i in range(days * DAY):
        hour = (i % DAY) / 12.0
        peak = 20.0 * math.exp(-((hour - 12.0) ** 2) / 8.0)
        if i // DAY == missing_peak_day:
            peak = 0.0
        xs.append(10.0 + peak + gen.gauss(0.0, 1.0))
    return xs


def _block_lps(xs: list[float]) -> list[float]:
    nov = BlockNovelty()
    return [nov.observe(T0 + STEP * i, x) for i, x in enumerate(xs)]


def test_it_stays_quiet_on_a_steady_daily_series() -> None:
    lps = _block_lps(_daily(40, seed=1))
    assert min(lps[10 * DAY:]) > PAGE


def test_it_pages_a_day_whose_peak_does_not_come() -> None:
    # every row of the flat day lies within the series' usual range and next to
    # neighbours like it: only the day as a shape is new
    lps = _block_lps(_daily(40, seed=1, missing_peak_day=30))
    day = lps[30 * DAY:31 * DAY + 1]
    assert min(day) < PAGE
    assert min(lps[10 * DAY:30 * DAY]) > PAGE


def test_it_scores_only_when_a_block_ends() -> None:
    lps = _block_lps(_daily(40, seed=2, missing_peak_day=30))
    per_block = 10_800 // int(STEP)
    assert all(lp == 0.0 for i, lp in enumerate(lps) if i % per_block)


def test_it_ignores_a_row_older_than_its_block() -> None:
    nov = BlockNovelty(block_seconds=3600.0)
    nov.observe(T0 + 7200.0, 5.0)
    nov.observe(T0 + 10.0, 1000.0)  # an hour too late: its block is gone
    assert (nov.total, nov.count) == (5.0, 1)


def test_it_resumes_from_a_checkpoint_and_scores_as_before() -> None:
    xs = _daily(40, seed=3, missing_peak_day=30)
    whole = _block_lps(xs)
    part = BlockNovelty()
    cut = 25 * DAY + 17  # inside a block
    for i, x in enumerate(xs[:cut]):
        part.observe(T0 + STEP * i, x)
    resumed = BlockNovelty.from_state(json.loads(json.dumps(part.to_state())))
    assert [resumed.observe(T0 + STEP * i, x) for i, x in enumerate(xs) if i >= cut] == whole[cut:]


def test_it_joins_value_mode_and_comes_back_with_its_checkpoint() -> None:
    xs = _daily(40, seed=4, missing_peak_day=30)
    whole = ValueRate()
    whole.enable_block_novelty()
    expected = [whole.observe_value(T0 + STEP * i, x) for i, x in enumerate(xs)]
    assert min(expected[30 * DAY:31 * DAY + 1]) < PAGE
    part = ValueRate()
    part.enable_block_novelty()
    for i, x in enumerate(xs[:20 * DAY]):
        part.observe_value(T0 + STEP * i, x)
    resumed = ValueRate()  # the option comes back with the checkpoint
    resumed.load_state(json.loads(json.dumps(part.to_state())))
    assert resumed.block_nov is not None
    got = [resumed.observe_value(T0 + STEP * i, x) for i, x in enumerate(xs) if i >= 20 * DAY]
    assert got == expected[20 * DAY:]


def test_it_counts_in_the_bonferroni_factor_only_on_rows_that_end_a_block() -> None:
    # rows that end no block are tested by the other tests alone, so they must score
    # exactly as without the day-shape test; rows that end one may differ
    xs = _daily(12, seed=5)
    plain, with_block = ValueRate(), ValueRate()
    plain.enable_window_novelty(memory=300)
    with_block.enable_window_novelty(memory=300)
    with_block.enable_block_novelty()
    per_block = 10_800 // int(STEP)
    pairs = [(plain.observe_value(T0 + STEP * i, x), with_block.observe_value(T0 + STEP * i, x))
             for i, x in enumerate(xs)]
    inside = [p for i, p in enumerate(pairs) if i % per_block]
    assert all(a == b for a, b in inside)
    assert any(a < 0.0 for a, _ in inside)  # the comparison is not between zeros


def _paging_blocks(xs: list[float], overlap_rule: bool) -> list[int]:
    nov = BlockNovelty(overlap_rule=overlap_rule)
    return [i for i, x in enumerate(xs) if nov.observe(T0 + STEP * i, x) < PAGE]


def test_it_pages_a_flat_day_once_not_through_every_window_that_overlaps_it() -> None:
    xs = _daily(40, seed=1, missing_peak_day=30)
    assert len(_paging_blocks(xs, overlap_rule=False)) > 1  # the overlapping windows page too
    paged = _paging_blocks(xs, overlap_rule=True)
    assert len(paged) == 1 and paged[0] // DAY == 30


def test_it_still_pages_a_second_anomaly_once_the_first_has_left_the_window() -> None:
    xs = _daily(40, seed=1, missing_peak_day=25)
    for i in range(33 * DAY, 34 * DAY):
        xs[i] += 25.0  # eight days later, a day lifted by 25: a different anomaly
    assert sorted({i // DAY for i in _paging_blocks(xs, overlap_rule=True)}) == [25, 33]


def test_it_resumes_the_overlap_rule_from_a_checkpoint_and_reads_older_checkpoints() -> None:
    nov = BlockNovelty()
    for i, x in enumerate(_daily(5, seed=2)):
        nov.observe(T0 + STEP * i, x)
    st = json.loads(json.dumps(nov.to_state()))
    resumed = BlockNovelty.from_state(st)
    assert (resumed.overlap_rule, resumed.n_blocks, resumed.surprises) == (True, nov.n_blocks, nov.surprises)
    del st["overlap_rule"]  # a checkpoint written before the rule scores as it did then
    assert BlockNovelty.from_state(st).overlap_rule is False
