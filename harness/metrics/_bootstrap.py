"""Percentile-bootstrap intervals for corpus metrics, resampled with numpy.

`harness.bootstrap_metric` resamples Python lists, which is fine for small runs; corpus metrics
over thousands of items (a full TweetEval or DialogSum split) resample index arrays here and
compute several statistics from each resample at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness._types import MetricValue


def from_resamples(point: float, values: Sequence[float], n: int) -> MetricValue:
    """A metric with the stderr and 2.5/97.5 percentiles of its bootstrap ``values``."""
    vals = sorted(values)
    k = len(vals)
    mean = sum(vals) / k
    stderr = (sum((v - mean) ** 2 for v in vals) / max(1, k - 1)) ** 0.5
    return MetricValue(
        point, stderr, vals[int(0.025 * k)], vals[min(k - 1, int(0.975 * k))], n, "bootstrap"
    )


def bootstrap_many(
    n: int,
    statistics: Callable[[Any], Sequence[float]],
    points: Sequence[float],
    resamples: int = 1000,
    seed: int = 0,
) -> list[MetricValue]:
    """Bootstraps several statistics of the same ``n`` items together.

    Args:
        n: Number of items.
        statistics: Maps an index array (a resample of ``range(n)``) to one value per statistic.
        points: The statistics on the full data (reported as the values).
        resamples: Bootstrap resamples.
        seed: Seed of the resampling.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    draws = [statistics(rng.integers(0, n, n)) for _ in range(resamples)]
    return [from_resamples(p, [d[k] for d in draws], n) for k, p in enumerate(points)]
