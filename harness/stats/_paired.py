"""Comparing two systems: McNemar, paired bootstrap, unpaired z, and non-inferiority."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from harness.stats._clustered import paired_mean_clustered, shift_p
from harness.stats._comparison import Comparison, canonical, check_paired, is_binary
from harness.stats._dist import binom_cdf_half, mcnemar_exact, normal_cdf, normal_ppf
from harness.stats._resample import (
    bootstrap_mean_diffs,
    cluster_members,
    percentile_interval,
    resample_indices,
)

if TYPE_CHECKING:
    import numpy as np


def paired_binary(base: Sequence[float], cand: Sequence[float], alpha: float = 0.05) -> Comparison:
    """McNemar exact test and Agresti-Min interval for paired 0/1 outcomes."""
    check_paired(base, cand)
    n = len(base)
    worse = sum(1 for x, y in zip(base, cand, strict=True) if x == 1 and y == 0)
    better = sum(1 for x, y in zip(base, cand, strict=True) if x == 0 and y == 1)
    delta = (better - worse) / n
    # Agresti & Min (2005): add 1/2 to each cell of the 2x2 table, then a Wald interval.
    m = n + 2
    p_w, p_b = (worse + 0.5) / m, (better + 0.5) / m
    d_adj = p_b - p_w
    se = math.sqrt(max(0.0, (p_w + p_b - d_adj**2) / m))
    z = normal_ppf(1 - alpha / 2)
    return Comparison(
        kind="paired-binary",
        test="mcnemar-exact",
        n=n,
        n_baseline=n,
        baseline=sum(base) / n,
        candidate=sum(cand) / n,
        delta=delta,
        ci_low=max(-1.0, d_adj - z * se),
        ci_high=min(1.0, d_adj + z * se),
        p_value=mcnemar_exact(worse, better),
        p_lower=binom_cdf_half(better, worse + better),
        p_higher=binom_cdf_half(worse, worse + better),
        alpha=alpha,
        worse=worse,
        better=better,
        se=se,
    )


def paired_bootstrap(
    base: Sequence[float],
    cand: Sequence[float],
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Percentile bootstrap interval and p-value of the mean paired difference."""
    import numpy as np

    check_paired(base, cand)
    diffs = np.asarray(cand, dtype=float) - np.asarray(base, dtype=float)
    draws = bootstrap_mean_diffs(diffs, resamples, seed)
    return from_draws(
        draws, float(np.mean(base)), float(np.mean(cand)), len(diffs), alpha, "paired-bootstrap"
    )


def from_draws(
    draws: np.ndarray,
    baseline: float,
    candidate: float,
    n: int,
    alpha: float,
    test: str,
    clusters: int | None = None,
) -> Comparison:
    """A paired comparison from bootstrap draws of the candidate-minus-baseline difference."""
    import numpy as np

    k = len(draws)
    lo, hi = percentile_interval(draws, alpha, method="linear")
    # Percentile p-values from the tail masses beyond zero; the +1s keep them above 0, as a
    # finite number of resamples cannot show a p-value smaller than 1 / (resamples + 1).
    below = (int(np.sum(draws <= 0)) + 1) / (k + 1)
    above = (int(np.sum(draws >= 0)) + 1) / (k + 1)
    return Comparison(
        kind="paired-continuous",
        test=test,
        n=n,
        n_baseline=n,
        baseline=baseline,
        candidate=candidate,
        delta=candidate - baseline,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=min(1.0, 2 * min(below, above)),
        p_lower=min(1.0, above),
        p_higher=min(1.0, below),
        alpha=alpha,
        se=float(draws.std(ddof=1)) if k > 1 else math.nan,
        draws=draws,
        resamples=k,
        clusters=clusters,
    )


def unpaired(base: Sequence[float], cand: Sequence[float], alpha: float = 0.05) -> Comparison:
    """Difference of two independent means with a normal (Welch-type) interval and z-test."""
    import numpy as np

    if not base or not cand:
        raise ValueError("both runs need at least one scored item")
    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    vb = b.var(ddof=1) if len(b) > 1 else 0.0
    vc = c.var(ddof=1) if len(c) > 1 else 0.0
    se = math.sqrt(vb / len(b) + vc / len(c))
    delta = float(c.mean() - b.mean())
    z = normal_ppf(1 - alpha / 2)
    if se > 0:
        p, p_lower = 2 * (1 - normal_cdf(abs(delta) / se)), normal_cdf(delta / se)
        p_higher = normal_cdf(-delta / se)
    else:
        p = 1.0 if delta == 0 else 0.0
        p_lower, p_higher = (0.0 if delta < 0 else 1.0), (0.0 if delta > 0 else 1.0)
    return Comparison(
        kind="unpaired",
        test="z",
        n=len(c),
        n_baseline=len(b),
        baseline=float(b.mean()),
        candidate=float(c.mean()),
        delta=delta,
        ci_low=delta - z * se,
        ci_high=delta + z * se,
        p_value=min(1.0, p),
        p_lower=p_lower,
        p_higher=p_higher,
        alpha=alpha,
        se=se,
    )


def compare(
    base: Sequence[float],
    cand: Sequence[float],
    *,
    paired: bool,
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
    clusters: Sequence[Any] | None = None,
) -> Comparison:
    """Chooses the right comparison: McNemar, cluster sign-flip, paired bootstrap or unpaired."""
    if not paired:
        return unpaired(base, cand, alpha)
    if clusters is not None and len(set(map(canonical, clusters))) < len(clusters):
        return paired_mean_clustered(base, cand, clusters, alpha, resamples, seed)
    if is_binary(base) and is_binary(cand):
        return paired_binary(base, cand, alpha)
    return paired_bootstrap(base, cand, alpha, resamples, seed)


def non_inferiority_p(comp: Comparison, margin: float, lower_is_better: bool = False) -> float:
    """One-sided p-value of H0: ``delta <= -margin`` (the lower test of a TOST).

    Rejecting it (p < alpha) shows the candidate is worse by less than ``margin``; this is
    equivalent to the lower end of the two-sided ``1 - 2*alpha`` interval lying above
    ``-margin``. With ``lower_is_better`` the hypothesis is mirrored: H0 ``delta >= margin``.
    """
    import numpy as np

    if margin < 0:
        raise ValueError("the non-inferiority margin must be >= 0")
    sign = -1.0 if lower_is_better else 1.0
    if comp.shifts is not None:
        if lower_is_better:
            return shift_p(comp.shifts, margin, upper=False)
        return shift_p(comp.shifts, -margin, upper=True)
    if comp.draws is not None:
        return float(np.mean(sign * comp.draws <= -margin))
    centre = comp.delta
    if comp.kind == "paired-binary" and comp.worse is not None and comp.better is not None:
        m = comp.n + 2  # same Agresti-Min adjustment as the interval
        centre = (comp.better + 0.5) / m - (comp.worse + 0.5) / m
    if not comp.se > 0:
        return 0.0 if sign * centre > -margin else 1.0
    return 1 - normal_cdf((sign * centre + margin) / comp.se)


def paired_statistic(
    base: Callable[[np.ndarray], float],
    cand: Callable[[np.ndarray], float],
    n: int,
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
    clusters: Sequence[Any] | None = None,
    test: str = "paired-bootstrap",
) -> Comparison:
    """Paired bootstrap of any statistic of two systems' answers on the same ``n`` items.

    ``base`` and ``cand`` map an index array (items in a shared order) to the statistic of
    that resample — a corpus BLEU, a micro-F1, or a mean. Each resample is applied to both
    systems, so the interval and p-values reflect only the item-level disagreement. With
    ``clusters`` the resampling is by cluster (`resample_indices`).
    """
    import numpy as np

    if n <= 0:
        raise ValueError("no paired items to compare")
    full = np.arange(n)
    b0, c0 = float(base(full)), float(cand(full))
    draws = np.asarray(
        [cand(idx) - base(idx) for idx in resample_indices(n, resamples, seed, clusters)],
        dtype=float,
    )
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        raise ValueError("the statistic is undefined on every resample")
    n_clusters = len(cluster_members(clusters)) if clusters is not None else None
    name = test if clusters is None else f"{test}-clustered"
    return from_draws(draws, b0, c0, n, alpha, name, n_clusters)
