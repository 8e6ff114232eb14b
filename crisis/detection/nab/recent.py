"""Record rule: is a score higher than every score of the series' recent past?

A restless series produces the same kind of single-row surprise again and
again (a spike every few hours); after the first, another one of the same
size is not news. `push_record` keeps a monotonic queue of (row, score) pairs,
decreasing in score, over the last `span` rows: the oldest entry is the
maximum of the span, each row is pushed and popped at most once (O(1)
amortised), and the queue holds at most `span` pairs.
"""
from __future__ import annotations


def push_record(queue: list[list[float]], row: int, score: float, span: int) -> bool:
    """Push (row, score); True if score beats every score of the previous `span` rows."""
    is_record = not queue or score > queue[0][1]
    while queue and queue[-1][1] <= score:
        queue.pop()
    queue.append([row, score])
    while queue[0][0] <= row - span:
        del queue[0]
    return is_record
