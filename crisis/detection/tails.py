"""Tail probabilities shared by the detectors' tests."""
from __future__ import annotations

import math


def log_normal_sf(z: float) -> float:
    """log P(Z >= z) for a standard normal (asymptotic form where erfc underflows)."""
    p = 0.5 * math.erfc(z / math.sqrt(2.0))
    return math.log(p) if p > 0 else -0.5 * z * z - math.log(z * math.sqrt(2 * math.pi))


def betabinom_logsf(k: int, n: int, a: float, b: float) -> float:
    """log P(X >= k) for X ~ BetaBinomial(n, a, b), summed from k upward (pmf ratio recursion)."""
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    log_pk = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
              + math.lgamma(k + a) + math.lgamma(n - k + b) - math.lgamma(n + a + b)
              + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    total, term = 1.0, 1.0
    for i in range(k, n):
        term *= (n - i) / (i + 1) * (i + a) / (n - i - 1 + b)
        total += term
        if term < 1e-12 * total:
            break
    return min(0.0, log_pk + math.log(total))


def binom_logsf(k: int, n: int, p: float) -> float:
    """log P(X >= k) for X ~ Binomial(n, p), summed from k upward (pmf ratio recursion)."""
    if k <= 0:
        return 0.0
    if k > n or p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return 0.0
    log_pk = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
              + k * math.log(p) + (n - k) * math.log1p(-p))
    odds = p / (1.0 - p)
    total, term = 1.0, 1.0
    for i in range(k, n):
        term *= (n - i) / (i + 1) * odds
        total += term
        if term < 1e-12 * total:
            break
    return min(0.0, log_pk + math.log(total))
