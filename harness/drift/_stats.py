"""The drift statistics: two samples in, a statistic and a p-value out.

* `ks_test`: two-sample Kolmogorov-Smirnov on numbers (token lengths); its p-value is from
  Kolmogorov's limit distribution (``scipy.stats.kstwobign.sf(sqrt(n*m/(n+m)) * D)``), which
  is neither scipy ``ks_2samp``'s default (exact for small samples) nor its ``method="asymp"``
  (``kstwo`` at the effective n), so the record names it ``ks_p_asymptotic``;
* `chi_square`: Pearson's chi-square test of homogeneity on a 2 x k table of counts
  (labels, top-k token frequencies), equal to ``scipy.stats.chi2_contingency``'s default
  (Yates' correction at one degree of freedom);
* on two sets of vectors (embeddings), each with a permutation p-value: `wasserstein_test`
  (per-dimension 1-Wasserstein, averaged), `mmd_rbf_test` (RBF kernel, median heuristic) and
  `permutation_test` with `mean_cosine_distance`.

Only numpy and the standard library, like `harness.stats`; the tests check the numbers
against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def ks_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test.

    Returns:
        The statistic D (largest gap between the two empirical distribution functions, as
        ``scipy.stats.ks_2samp``) and its two-sided p-value from Kolmogorov's limit
        distribution (``ks_p_asymptotic``; not scipy's default p-value).
    """
    import numpy as np

    xa, xb = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(xa) == 0 or len(xb) == 0:
        raise ValueError("the KS test needs at least one value on each side")
    grid = np.concatenate([xa, xb])
    cdf_a = np.searchsorted(xa, grid, side="right") / len(xa)
    cdf_b = np.searchsorted(xb, grid, side="right") / len(xb)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = math.sqrt(len(xa) * len(xb) / (len(xa) + len(xb)))
    return d, _kolmogorov_sf(en * d)


def _kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution."""
    if x < 0.2:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return min(1.0, max(0.0, 2.0 * total))


def chi_square(table: Sequence[Sequence[float]]) -> tuple[float, int, float]:
    """Pearson's chi-square test of homogeneity, as ``scipy.stats.chi2_contingency`` computes
    it by default: with Yates' continuity correction at one degree of freedom (each
    ``|observed - expected|`` reduced by up to 0.5), none otherwise.

    Args:
        table: One row per sample, one column per category (counts). Columns empty on every
            row are dropped.

    Returns:
        The statistic, its degrees of freedom and the p-value (1.0 with no degrees of freedom).
    """
    import numpy as np

    obs = np.asarray(table, float)
    obs = obs[:, obs.sum(axis=0) > 0]
    total = obs.sum()
    if total == 0 or obs.shape[1] < 2:
        return 0.0, 0, 1.0
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / total
    dof = (obs.shape[0] - 1) * (obs.shape[1] - 1)
    if dof == 1:  # Yates, as scipy applies it: move each cell up to 0.5 toward its expectation
        diff = expected - obs
        obs = obs + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    stat = float(((obs - expected) ** 2 / expected).sum())
    return stat, dof, chi2_sf(stat, dof)


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X ~ chi-square(dof): the regularized upper incomplete gamma Q(dof/2, x/2)."""
    if x <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma function (series below a + 1, continued fraction
    above; relative error ~1e-14)."""
    log_pre = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_pre))
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_pre) * h)


VectorStat = Callable[["np.ndarray", "np.ndarray"], float]


def permutation_test(
    a: np.ndarray, b: np.ndarray, stat: VectorStat, permutations: int, seed: int
) -> tuple[float, float]:
    """``stat(a, b)`` and the share of random relabellings of the pooled rows that reach it.

    Returns:
        The observed statistic and the p-value ``(1 + #{perm >= observed}) / (1 + permutations)``.
    """
    import numpy as np

    observed = stat(a, b)
    pooled = np.concatenate([a, b])
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        idx = rng.permutation(len(pooled))
        if stat(pooled[idx[: len(a)]], pooled[idx[len(a) :]]) >= observed - 1e-12:
            hits += 1
    return observed, (1 + hits) / (1 + permutations)


def wasserstein_test(
    a: np.ndarray, b: np.ndarray, permutations: int, seed: int
) -> tuple[float, float]:
    """The 1-Wasserstein distance between the two samples' distributions along each embedding
    dimension, averaged over dimensions, and its permutation p-value.

    The pooled values are sorted once; a relabelling only changes which side each sorted
    value counts for, so every permutation costs one cumulative sum.

    Returns:
        The mean distance and its p-value.
    """
    import numpy as np

    pooled = np.concatenate([a, b])
    order = np.argsort(pooled, axis=0, kind="stable")
    widths = np.diff(np.take_along_axis(pooled, order, axis=0), axis=0)
    n, m = len(a), len(b)

    def distance(is_a: np.ndarray) -> float:
        in_a = is_a[order][:-1]
        cum_a = np.cumsum(in_a, axis=0)
        cum_b = np.arange(1, n + m)[:, None] - cum_a
        return float(np.mean(np.sum(np.abs(cum_a / n - cum_b / m) * widths, axis=0)))

    labels = np.arange(n + m) < n
    observed = distance(labels)
    rng = np.random.default_rng(seed)
    hits = sum(distance(rng.permutation(labels)) >= observed - 1e-12 for _ in range(permutations))
    return observed, (1 + hits) / (1 + permutations)


def median_bandwidth(x: np.ndarray) -> float:
    """The median heuristic: the median pairwise Euclidean distance of the pooled rows."""
    import numpy as np

    d2 = _sq_dists(x)
    upper = d2[np.triu_indices(len(x), k=1)]
    med = float(np.sqrt(np.median(upper))) if upper.size else 1.0
    return med if med > 0 else 1.0


def _sq_dists(x: np.ndarray) -> np.ndarray:
    import numpy as np

    sq = np.sum(x * x, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)


def mmd_rbf_test(
    a: np.ndarray, b: np.ndarray, permutations: int, seed: int
) -> tuple[float, float, float]:
    """Unbiased squared MMD with an RBF kernel (median-heuristic bandwidth) and its
    permutation p-value; the kernel matrix is computed once and permuted.

    Returns:
        MMD², its p-value and the bandwidth.
    """
    import numpy as np

    pooled = np.concatenate([a, b])
    sigma = median_bandwidth(pooled)
    k = np.exp(-_sq_dists(pooled) / (2.0 * sigma * sigma))
    n = len(a)
    observed = _mmd2(k, np.arange(len(pooled)), n)
    rng = np.random.default_rng(seed)
    hits = sum(
        _mmd2(k, rng.permutation(len(pooled)), n) >= observed - 1e-12 for _ in range(permutations)
    )
    return observed, (1 + hits) / (1 + permutations), sigma


def _mmd2(k: np.ndarray, order: np.ndarray, n: int) -> float:
    import numpy as np

    ia, ib = order[:n], order[n:]
    kaa, kbb, kab = k[np.ix_(ia, ia)], k[np.ix_(ib, ib)], k[np.ix_(ia, ib)]
    m = len(ib)
    xx = (kaa.sum() - kaa.trace()) / (n * (n - 1))
    yy = (kbb.sum() - kbb.trace()) / (m * (m - 1))
    return float(xx + yy - 2.0 * kab.mean())


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of the two mean embeddings."""
    import numpy as np

    ma, mb = a.mean(axis=0), b.mean(axis=0)
    denom = float(np.linalg.norm(ma) * np.linalg.norm(mb))
    return float(ma @ mb) / denom if denom > 0 else 0.0


def mean_cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``1 - mean_cosine(a, b)``: grows with drift, so a permutation test can use it."""
    return 1.0 - mean_cosine(a, b)
