"""Turning per-sample values into metrics with standard errors and 95% intervals.

Binary metrics (every value 0 or 1) get a Wilson score interval, which stays inside [0, 1] and
behaves at small n; other means get a normal interval from the sample standard error. Corpus
metrics that are not means (BLEU, F1, ROC-AUC) get a percentile bootstrap over samples. The
intervals and the resampling themselves live in `harness.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from harness._types import MetricValue
from harness.stats import Z95, bootstrap, percentile_interval, scaled_wilson, wilson_interval


def mean_metric(
    values: Sequence[float | None], bounds: tuple[float, float] | None = None
) -> MetricValue:
    """Mean of the non-None values with stderr and a 95% interval.

    ``bounds`` is the range the values can take (e.g. (0, 1) for a per-sample rate, (1, 10) for
    a judge grade): the interval is then `harness.stats.scaled_wilson`, which stays inside the
    range and is wide at small n (a normal interval on n=2 grades can reach below 1 and above
    10; at n=1 it has zero width).
    """
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return MetricValue(value=math.nan, n=0)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    stderr = math.sqrt(var / n)
    # The scale is read first: grades of 1 on a 1-10 scale are not a 0/1 rate.
    rate = bounds is None or tuple(bounds) == (0.0, 1.0)
    if rate and all(x in (0.0, 1.0) for x in xs):
        lo, hi = wilson_interval(sum(xs), n)
        return MetricValue(mean, stderr, lo, hi, n, "wilson")
    if bounds is not None:  # an interval inside the scale, wide and honest at small n
        lo, hi = scaled_wilson(mean, n, *bounds)
        return MetricValue(mean, stderr, lo, hi, n, "wilson-scaled")
    lo, hi = mean - Z95 * stderr, mean + Z95 * stderr
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
    stats = bootstrap(
        n, lambda idx: statistic([items[i] for i in idx]), resamples, seed, rng="python"
    )
    return from_resamples(point, stats, n)


def bootstrap_many(
    n: int,
    statistics: Callable[[Any], Sequence[float]],
    points: Sequence[float],
    resamples: int = 1000,
    seed: int = 0,
) -> list[MetricValue]:
    """Bootstraps several statistics of the same ``n`` items together, resampled with numpy.

    `bootstrap_metric` resamples Python lists, which is fine for small runs; corpus metrics
    over thousands of items (a full TweetEval or DialogSum split) resample index arrays here and
    compute several statistics from each resample at once.

    Args:
        n: Number of items.
        statistics: Maps an index array (a resample of ``range(n)``) to one value per statistic.
        points: The statistics on the full data (reported as the values).
        resamples: Bootstrap resamples.
        seed: Seed of the resampling.
    """
    draws = bootstrap(n, statistics, resamples, seed)
    return [from_resamples(p, [d[k] for d in draws], n) for k, p in enumerate(points)]


def from_resamples(point: float, values: Sequence[float], n: int) -> MetricValue:
    """A metric with the stderr and 2.5/97.5 percentiles of its bootstrap ``values``."""
    vals = sorted(values)
    k = len(vals)
    mean = sum(vals) / k
    stderr = math.sqrt(sum((v - mean) ** 2 for v in vals) / max(1, k - 1))
    lo, hi = percentile_interval(vals)
    return MetricValue(point, stderr, lo, hi, n, "bootstrap")
