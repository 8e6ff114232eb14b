"""Tail probabilities shared by the count-rate and novelty tests."""
from __future__ import annotations

import math


def log_normal_sf(z: float) -> float:
    """log P(Z >= z) for a standard normal (asymptotic form where erfc underflows)."""
    p = 0.5 * math.erfc(z / math.sqrt(2.0))
    return math.log(p) if p > 0 else -0.5 * z * z - math.log(z * math.sqrt(2 * math.pi))
