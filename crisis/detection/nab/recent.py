"""Record rule: is a score higher than every score of the series' recent past?

A restless series produces the same kind of single-row surprise again and
again (a spike every few hours); after the first, another one of the same
size is not news. `push_record` keeps a monotonic queue of (row, score) pairs,
decreasing in score, over the last `span` rows: the oldest entry is the
maximum of the span, each row is pushed and popped at most once (O(1)
amortised), and the queue holds at most `span` pairs.

A record must beat the previous maximum by a share of it (`margin`), as the
range rule (range_rule.py) asks a value to leave the range seen by 5 % of it:
in a stationary series a record of the last `span` rows comes about once per
`span` rows by chance alone, most of them by a hair; a change of regime beats
the old maximum clearly.
"""
from __future__ import annotations


def push_record(queue: list[list[float]], row: int, score: float, span: int, margin: float = 0.0) -> bool:
    """Push (row, score); True if score beats every score of the previous `span` rows by
    more than `margin` of their maximum."""
    is_record = not queue or score > queue[0][1] * (1.0 + margin)
    while queue and queue[-1][1] <= score:
        queue.pop()
    queue.append([row, score])
    while queue[0][0] <= row - span:
        del queue[0]
    return is_record
