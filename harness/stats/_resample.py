"""The one bootstrap resampler, its percentile intervals, and resampling by cluster."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from harness.stats._comparison import canonical

if TYPE_CHECKING:
    import numpy as np


def bootstrap(
    n: int,
    statistic: Callable[[Any], Any],
    resamples: int = 1000,
    seed: int = 0,
    *,
    rng: Literal["numpy", "python"] = "numpy",
    batched: bool = False,
) -> list[Any]:
    """``statistic`` of each of ``resamples`` bootstrap resamples of the items ``range(n)``.

    The one resampler behind every bootstrap in harness. Each ``rng`` is its own random
    stream, and both are kept so that a seed reproduces stored numbers bit for bit.

    Args:
        n: Number of items (resamples are index draws with replacement from ``range(n)``).
        statistic: Maps one resample's indices to its value (any type; returned as is).
        resamples: Number of resamples.
        seed: Seed of the stream.
        rng: ``"numpy"``: each resample is an index array from
            ``numpy.random.default_rng(seed).integers(0, n, n)``; ``"python"``: a list of
            ``n`` draws of ``random.Random(seed).randrange(n)`` (no numpy needed).
        batched: numpy only: ``statistic`` gets a ``(k, n)`` array whose rows are ``k``
            consecutive resamples (about 2 million indices at a time) and returns ``k``
            values. The draws are the same as unbatched; only the calls are fewer.
    """
    if rng == "python":
        gen = random.Random(seed)
        return [statistic([gen.randrange(n) for _ in range(n)]) for _ in range(resamples)]
    import numpy as np

    np_rng = np.random.default_rng(seed)
    if not batched:
        return [statistic(np_rng.integers(0, n, n)) for _ in range(resamples)]
    out: list[Any] = []
    chunk = max(1, 2_000_000 // max(1, n))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        out.extend(statistic(np_rng.integers(0, n, size=(stop - start, n))))
    return out


def percentile_interval(
    draws: Sequence[float] | Any,
    alpha: float = 0.05,
    *,
    method: Literal["order", "linear"] = "order",
) -> tuple[float, float]:
    """Two-sided ``1 - alpha`` percentile interval of bootstrap ``draws``.

    ``"order"`` takes the sorted draws at ranks ``int(alpha / 2 * k)`` and
    ``int((1 - alpha / 2) * k)`` (capped at ``k - 1``) of ``k`` draws; ``"linear"`` interpolates
    between order statistics as `numpy.quantile` does.
    """
    if method == "linear":
        import numpy as np

        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return float(lo), float(hi)
    vals = sorted(draws)
    k = len(vals)
    return vals[int(alpha / 2 * k)], vals[min(k - 1, int((1 - alpha / 2) * k))]


def bootstrap_mean_diffs(
    diffs: Sequence[float],
    resamples: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples of ``diffs`` (numpy, vectorised in chunks)."""
    import numpy as np

    d = np.asarray(diffs, dtype=float)
    means = bootstrap(len(d), lambda idx: d[idx].mean(axis=1), resamples, seed, batched=True)
    return np.asarray(means, dtype=float)


def resample_indices(
    n: int,
    resamples: int,
    seed: int = 0,
    clusters: Sequence[Any] | None = None,
) -> Iterator[np.ndarray]:
    """Bootstrap resamples of the items ``range(n)``, as index arrays.

    Without ``clusters`` each resample draws ``n`` items with replacement (the same stream as
    `bootstrap`). With ``clusters`` (one label per item) each resample draws as many clusters
    as there are, with replacement, and takes every item of each drawn cluster, so items that
    share a source move together.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if clusters is None:
        for _ in range(resamples):
            yield rng.integers(0, n, n)
        return
    members = cluster_members(clusters)
    for _ in range(resamples):
        chosen = rng.integers(0, len(members), len(members))
        yield np.concatenate([members[k] for k in chosen])


def cluster_members(clusters: Sequence[Any]) -> list[np.ndarray]:
    """Item indices of each cluster, clusters in order of first appearance."""
    import numpy as np

    groups: dict[str, list[int]] = {}
    for i, c in enumerate(clusters):
        groups.setdefault(canonical(c), []).append(i)
    return [np.asarray(v, dtype=np.int64) for v in groups.values()]


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], float],
    n: int,
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
    clusters: Sequence[Any] | None = None,
) -> tuple[float, float, float]:
    """(point, low, high): a statistic of one run with its percentile-bootstrap interval."""
    import numpy as np

    point = float(statistic(np.arange(n)))
    draws = np.asarray(
        [statistic(idx) for idx in resample_indices(n, resamples, seed, clusters)], dtype=float
    )
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return point, math.nan, math.nan
    lo, hi = percentile_interval(draws, alpha, method="linear")
    return point, float(lo), float(hi)
