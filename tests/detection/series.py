"""Helpers for the tests of the value-mode rules (NAB): one checkpoint round trip."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any


def resumed_and_whole(make: Callable[[], Any], load: Callable[[Any], Any], xs: Sequence[float],
                      cut: int) -> tuple[list[Any], list[Any]]:
    """What a rule says about xs[cut:] when it resumes from a JSON checkpoint taken after
    xs[:cut], beside what one uninterrupted run of it says about the same rows."""
    whole = make()
    expected = [whole.observe(x) for x in xs]
    part = make()
    for x in xs[:cut]:
        part.observe(x)
    resumed = load(json.loads(json.dumps(part.to_state())))
    return [resumed.observe(x) for x in xs[cut:]], expected[cut:]
