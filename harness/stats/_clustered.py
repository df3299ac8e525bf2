"""Clustered items: the cluster sign-flip randomisation test of a mean difference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.stats._comparison import Comparison, check_paired, is_binary
from harness.stats._resample import cluster_members

if TYPE_CHECKING:
    import numpy as np


def paired_mean_clustered(
    base: Sequence[float],
    cand: Sequence[float],
    clusters: Sequence[Any],
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Cluster sign-flip randomisation test of the mean difference (0/1 or continuous values).

    McNemar's test and the plain bootstrap assume independent items; when items come in
    clusters (the same source phrased several ways) they are not. The percentile cluster
    bootstrap is anti-conservative with few clusters, so the p-values here come from a
    randomisation test instead: when the two systems are interchangeable (identical systems,
    the null a gate must not fail), swapping base and candidate answers within any cluster —
    flipping the sign of that cluster's summed difference — leaves the data's distribution
    unchanged. The p-value counts the sign flips whose mean difference is at least as extreme
    as the observed one: all ``2**G`` flips when ``G`` clusters allow (exact), otherwise
    ``resamples`` random flips with the observed one counted in, ``(1 + hits) / (B + 1)``,
    which is still exactly valid (never below ``alpha`` more than ``alpha`` of the time). The
    interval is the set of shifts ``s`` the same test does not reject when each item's
    difference is lowered by ``s`` (a location-shift model); ``se`` is the cluster-robust
    standard error (for the minimal detectable effect).
    """
    import numpy as np

    check_paired(base, cand)
    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    members = cluster_members(clusters)
    diffs = c - b
    totals = np.asarray([diffs[m].sum() for m in members], dtype=float)
    sizes = np.asarray([len(m) for m in members], dtype=np.int64)
    signs, exact = sign_flips(len(members), resamples, seed)
    shifts = flip_shifts(totals, sizes, signs, exact)
    delta = float(diffs.mean())
    lo, hi = _shift_interval(shifts, alpha, float(diffs.min()), float(diffs.max()))
    p_lower, p_higher = shift_p(shifts, 0.0, upper=False), shift_p(shifts, 0.0, upper=True)
    comp = Comparison(
        kind="paired-continuous",
        test="cluster-sign-flip" + ("-exact" if exact else ""),
        n=len(b),
        n_baseline=len(b),
        baseline=float(b.mean()),
        candidate=float(c.mean()),
        delta=delta,
        ci_low=lo,
        ci_high=hi,
        p_value=min(1.0, 2 * min(p_lower, p_higher)),
        p_lower=p_lower,
        p_higher=p_higher,
        alpha=alpha,
        se=_cluster_se(totals, sizes, delta),
        resamples=None if exact else len(signs),
        clusters=len(members),
        shifts=shifts,
    )
    if is_binary(base) and is_binary(cand):
        comp.worse = int(np.sum((b == 1) & (c == 0)))
        comp.better = int(np.sum((b == 0) & (c == 1)))
    return comp


def sign_flips(groups: int, resamples: int, seed: int = 0) -> tuple[np.ndarray, bool]:
    """(``(k, groups)`` array of +1/-1, exact): every one of the ``2**groups`` sign vectors
    when there are no more of them than ``resamples``, else ``resamples`` random ones."""
    import numpy as np

    if groups <= 20 and 2**groups <= resamples:
        bits = (np.arange(2**groups)[:, None] >> np.arange(groups)[None, :]) & 1
        return (1 - 2 * bits).astype(np.int64), True
    rng = np.random.default_rng(seed)
    return (1 - 2 * rng.integers(0, 2, size=(resamples, groups))).astype(np.int64), False


def flip_shifts(
    totals: np.ndarray, sizes: np.ndarray, signs: np.ndarray, exact: bool
) -> np.ndarray:
    """For each sign flip, the shift ``s`` at which its statistic ties the observed one.

    Flipping the clusters in ``F`` ties the observed sum of ``totals - s * sizes`` exactly at
    ``s`` = the mean difference over the items of ``F``; below it the flipped statistic is
    smaller, above it larger. Flips that change nothing (no cluster flipped, or only clusters
    of zero size) tie at every shift and are stored as nan, with one more nan for the observed
    data itself in a Monte-Carlo run, so that every p-value is a count over this array.
    """
    import numpy as np

    flipped = signs < 0
    moved = flipped.astype(np.int64) @ sizes
    free = moved > 0
    ratio = (flipped[free].astype(float) @ totals) / moved[free]
    fixed = int((~free).sum()) + (0 if exact else 1)
    return np.concatenate([np.full(fixed, np.nan), np.sort(ratio)])


def shift_p(shifts: np.ndarray, s: float, *, upper: bool) -> float:
    """Randomisation p-value of "the mean difference is not above ``s``" (``upper``; small
    when it is above) or "not below ``s``" (small when it is below), from `flip_shifts`."""
    import numpy as np

    fixed = np.isnan(shifts)
    r = shifts[~fixed]
    tol = 1e-12 * (1.0 + float(np.abs(r).max(initial=0.0)))
    hits = np.sum(r <= s + tol) if upper else np.sum(r >= s - tol)
    return float((int(fixed.sum()) + int(hits)) / len(shifts))


def _shift_interval(
    shifts: np.ndarray, alpha: float, floor: float, ceiling: float
) -> tuple[float, float]:
    """The shifts neither one-sided ``alpha / 2`` test rejects (``floor`` / ``ceiling``, the
    smallest and largest item difference, where the flips are too few to bound it)."""
    import numpy as np

    fixed = int(np.isnan(shifts).sum())
    r = shifts[fixed:]  # sorted
    need = math.ceil(alpha / 2 * len(shifts) - 1e-9) - fixed
    if need <= 0 or need > len(r):
        return floor, ceiling
    return float(r[need - 1]), float(r[len(r) - need])


def _cluster_se(totals: np.ndarray, sizes: np.ndarray, delta: float) -> float:
    """Cluster-robust standard error of the mean difference (small-sample factor G/(G-1))."""
    g = len(totals)
    if g < 2:
        return math.nan
    resid = totals - sizes * delta
    return math.sqrt(g / (g - 1) * float((resid**2).sum())) / float(sizes.sum())
