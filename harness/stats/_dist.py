"""Distributions and intervals: normal, binomial, Clopper-Pearson, Wilson, McNemar."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

Z95 = 1.959963984540054  # normal_ppf(0.975)


def normal_cdf(x: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """Inverse of `normal_cdf` (bisection on erfc; exact to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p} must lie strictly between 0 and 1")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if normal_cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), computed exactly with integers."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    total = sum(math.comb(n, i) for i in range(k + 1))
    return float(Fraction(total, 2**n))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (relative error ~1e-12)."""
    import numpy as np

    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    # log P(X = i) for i = 0..k by the ratio P(X = i + 1) / P(X = i) = (n - i) p / ((i + 1) q)
    i = np.arange(k, dtype=float)
    steps = np.log((n - i) / (i + 1)) + (math.log(p) - math.log1p(-p))
    logs = np.concatenate(([0.0], np.cumsum(steps))) + n * math.log1p(-p)
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided ``1 - alpha`` interval for a binomial proportion."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0 (k={k}, n={n})")

    def solve(f: Callable[[float], float]) -> float:  # f increases from <0 to >0 on (0, 1)
        lo, hi = 0.0, 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
        return (lo + hi) / 2

    lower = 0.0 if k == 0 else solve(lambda p: (1 - binom_cdf(k - 1, n, p)) - alpha / 2)
    upper = 1.0 if k == n else solve(lambda p: alpha / 2 - binom_cdf(k, n, p))
    return lower, upper


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; the formula leaves rounding dust.
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return (lo, hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value.

    Args:
        b: Items the baseline got right and the candidate wrong.
        c: Items the baseline got wrong and the candidate right.

    Returns:
        ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 when there are
        no discordant pairs.
    """
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_cdf_half(min(b, c), n))


def scaled_wilson(mean: float, n: int, low: float, high: float) -> tuple[float, float]:
    """An interval for the mean of ``n`` values bounded in ``[low, high]`` that stays inside.

    The mean is rescaled to [0, 1] and given the Wilson interval of a proportion with that
    mean; a bounded variable's variance is at most that of a 0/1 one with the same mean, so
    the interval is conservative — wide at small n, never outside the scale.
    """
    if n <= 0 or not high > low:
        return (math.nan, math.nan)
    share = min(1.0, max(0.0, (mean - low) / (high - low)))
    lo, hi = wilson_interval(share * n, n)
    return low + lo * (high - low), low + hi * (high - low)
