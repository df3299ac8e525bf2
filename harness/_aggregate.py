"""Turning per-sample values into metrics with standard errors and 95% intervals.

Binary metrics (every value 0 or 1) get a Wilson score interval, which stays inside [0, 1] and
behaves at small n; other means get a normal interval from the sample standard error. Corpus
metrics that are not means (BLEU, F1, ROC-AUC) get a percentile bootstrap over samples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from harness._types import MetricValue

Z95 = 1.959963984540054


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


def mean_metric(
    values: Sequence[float | None], bounds: tuple[float, float] | None = None
) -> MetricValue:
    """Mean of the non-None values with stderr and a 95% interval.

    ``bounds`` is the range the values can take (e.g. (0, 1) for a per-sample rate): the normal
    interval is clipped to it, so a rate never gets a negative lower bound.
    """
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return MetricValue(value=math.nan, n=0)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    stderr = math.sqrt(var / n)
    if all(x in (0.0, 1.0) for x in xs):
        lo, hi = wilson_interval(sum(xs), n)
        return MetricValue(mean, stderr, lo, hi, n, "wilson")
    lo, hi = mean - Z95 * stderr, mean + Z95 * stderr
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return MetricValue(mean, stderr, lo, hi, n, "normal")


def bootstrap_metric(
    items: Sequence[object],
    statistic: Callable[[Sequence[object]], float],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> MetricValue:
    """A corpus statistic with a percentile-bootstrap 95% interval over ``items``."""
    n = len(items)
    if n == 0:
        return MetricValue(value=math.nan, n=0)
    point = statistic(items)
    rng = random.Random(seed)
    stats = sorted(statistic([items[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    mean_b = sum(stats) / resamples
    stderr = math.sqrt(sum((s - mean_b) ** 2 for s in stats) / max(1, resamples - 1))
    lo = stats[int(0.025 * resamples)]
    hi = stats[min(resamples - 1, int(0.975 * resamples))]
    return MetricValue(point, stderr, lo, hi, n, "bootstrap")
