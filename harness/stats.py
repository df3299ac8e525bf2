"""Paired and unpaired comparisons of two systems evaluated on the same (or other) items.

A release gate must not fail a candidate that is as good as its baseline just because the
items are noisy. When base and candidate answered the *same* items, the per-item differences
carry far less noise than two independent means, so this module compares them item by item:

* binary metrics (0/1 per item): McNemar's exact test on the discordant pairs (items one system
  got right and the other wrong), with an Agresti-Min adjusted interval for the difference;
* continuous metrics: a paired percentile bootstrap of the mean difference;
* runs on different items: an unpaired difference of means (normal approximation), labelled so;
* corpus metrics (corpus BLEU, micro/macro F1, ROC-AUC): a paired bootstrap over items that
  recomputes the corpus metric of both systems on the same resample (`paired_statistic`);
* clustered items (several items share one source, e.g. one meaning representation phrased
  three ways): a mean difference is tested by randomly flipping the sign of whole clusters'
  differences (`paired_mean_clustered`), corpus metrics by resampling whole clusters, so
  dependent items count once;
* non-inferiority (one side of a TOST): is the candidate shown to be no worse than
  ``-margin``?
* power: the minimal detectable effect of a comparison at its n and alpha
  (`minimal_detectable_effect`) and the n needed to detect a given effect (`required_n`).

It is also the one home of the intervals and the bootstrap that metrics use (`wilson_interval`,
`bootstrap`, `percentile_interval`); `harness.mean_metric` and `harness.bootstrap_metric` wrap
them into metric values.

Only the standard library and numpy are used, so the numbers can be checked against scipy in
the tests without scipy being needed here. numpy is imported where it is used, so that
`import harness` (and ``harness --help``) does not load it.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["paired-binary", "paired-continuous", "unpaired"]
Z95 = 1.959963984540054  # normal_ppf(0.975)
# A task declares that its items come in clusters (the same source phrased several ways) by
# putting the cluster label under this key of each sample's metadata; comparisons then
# resample whole clusters.
CLUSTER_KEY = "cluster"


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


@dataclass
class Comparison:
    """The candidate-minus-baseline difference of one metric, with its evidence.

    Attributes:
        kind: "paired-binary", "paired-continuous" or "unpaired".
        test: The test behind ``p_value`` ("mcnemar-exact", "paired-bootstrap", "z",
            "cluster-sign-flip", "cluster-sign-flip-exact").
        n: Items compared (pairs when paired; candidate items when unpaired).
        n_baseline: Baseline items (differs from ``n`` only when unpaired).
        baseline: Baseline mean.
        candidate: Candidate mean.
        delta: ``candidate - baseline``.
        ci_low: Lower end of the two-sided ``1 - alpha`` interval of ``delta``.
        ci_high: Upper end of that interval.
        p_value: Two-sided p-value of "no difference".
        p_lower: One-sided p-value of "the candidate's mean is not lower" (small when it is).
        p_higher: One-sided p-value of "the candidate's mean is not higher" (small when it is).
        alpha: The interval is two-sided at level ``1 - alpha``.
        worse: Binary paired only: items right in the baseline and wrong in the candidate.
        better: Binary paired only: items wrong in the baseline and right in the candidate.
        se: Standard error of ``delta`` used for non-inferiority (bootstrap SD when paired
            continuous).
        draws: Bootstrap differences (paired continuous only; not serialised).
        resamples: Bootstrap resamples behind ``p_value`` (None for exact and normal tests);
            a p-value of ``1 / (resamples + 1)`` means "below the bootstrap's resolution".
        clusters: Clusters resampled or sign-flipped (None: items treated one by one).
        shifts: Cluster sign-flip test only: `flip_shifts` of the flips (not serialised);
            non-inferiority uses it.
    """

    kind: Kind
    test: str
    n: int
    n_baseline: int
    baseline: float
    candidate: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_lower: float
    p_higher: float
    alpha: float
    worse: int | None = None
    better: int | None = None
    se: float = math.nan
    draws: np.ndarray | None = field(default=None, repr=False)
    resamples: int | None = None
    clusters: int | None = None
    shifts: np.ndarray | None = field(default=None, repr=False)

    @property
    def significant(self) -> bool:
        """Whether ``p_value < alpha``."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without bootstrap draws)."""
        d = asdict(self)
        d.pop("draws")
        d.pop("shifts")
        return d


def is_binary(values: Sequence[float]) -> bool:
    """Whether every value is 0 or 1."""
    return all(v in (0.0, 1.0) for v in values)


def paired_binary(base: Sequence[float], cand: Sequence[float], alpha: float = 0.05) -> Comparison:
    """McNemar exact test and Agresti-Min interval for paired 0/1 outcomes."""
    _check_paired(base, cand)
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


def paired_bootstrap(
    base: Sequence[float],
    cand: Sequence[float],
    alpha: float = 0.05,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Percentile bootstrap interval and p-value of the mean paired difference."""
    import numpy as np

    _check_paired(base, cand)
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
    if clusters is not None and len(set(map(_canon, clusters))) < len(clusters):
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


@dataclass
class Pairing:
    """How two runs' samples line up.

    Attributes:
        paired: True when both runs hold exactly the same item ids with identical targets.
        ids: The ids to compare, in the baseline's order (all shared ids when paired).
        reason: Why the runs could not be paired (None when paired).
    """

    paired: bool
    ids: list[str]
    reason: str | None = None


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def pair_samples(base: Sequence[Any], cand: Sequence[Any]) -> Pairing:
    """Pairs two runs' samples by id, checking the items are the same.

    Args:
        base: Baseline `harness.record.SampleRecord`s (anything with ``id`` and ``target``).
        cand: Candidate sample records.

    Returns:
        A `Pairing`; unpaired (with the reason) when ids differ, repeat, or targets differ.
    """
    b_ids = [s.id for s in base]
    c_ids = [s.id for s in cand]
    if len(set(b_ids)) != len(b_ids) or len(set(c_ids)) != len(c_ids):
        return Pairing(False, [], "sample ids repeat within a run")
    if set(b_ids) != set(c_ids):
        only_b, only_c = len(set(b_ids) - set(c_ids)), len(set(c_ids) - set(b_ids))
        return Pairing(
            False, [], f"item ids differ ({only_b} only in baseline, {only_c} only in candidate)"
        )
    c_by_id = {s.id: s for s in cand}
    diff = [s.id for s in base if _canon(s.target) != _canon(c_by_id[s.id].target)]
    if diff:
        return Pairing(False, [], f"targets differ on {len(diff)} items (first: {diff[0]!r})")
    return Pairing(True, b_ids)


def _check_paired(base: Sequence[float], cand: Sequence[float]) -> None:
    if len(base) != len(cand):
        raise ValueError(f"paired samples need equal lengths ({len(base)} != {len(cand)})")
    if not base:
        raise ValueError("no paired items to compare")


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
        groups.setdefault(_canon(c), []).append(i)
    return [np.asarray(v, dtype=np.int64) for v in groups.values()]


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

    _check_paired(base, cand)
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


def minimal_detectable_effect(se: float, alpha: float, power: float = 0.8) -> float:
    """Smallest true worsening a one-sided level-``alpha`` test detects with ``power``.

    ``(z_{1-alpha} + z_{power}) * se``, with ``se`` the standard error of the difference at
    the comparison's n (normal approximation; nan when ``se`` is unknown).
    """
    if not se >= 0:
        return math.nan
    return (normal_ppf(1 - alpha) + normal_ppf(power)) * se


def required_n(n: int, mde: float, effect: float) -> int | None:
    """Items needed for the minimal detectable effect to shrink to ``effect`` (se ~ 1/sqrt(n)).

    None when ``effect`` is 0 (no finite sample detects any drop at 80% power) or unknown.
    """
    if not effect > 0 or not math.isfinite(mde):
        return None
    return max(n, math.ceil(n * (mde / effect) ** 2))


def format_p(p: float, resamples: int | None = None) -> str:
    """A p-value for people: ``< 1/B`` when a bootstrap of ``B`` resamples cannot resolve it."""
    if resamples and p <= 1.0 / (resamples + 1) * 1.000001:
        return f"< 1/{resamples}"
    return f"{p:.4g}"


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


def answer_profile(answers: Sequence[str]) -> dict[str, Any]:
    """How concentrated answers are: ``n``, ``distinct``, the most frequent (``top``, cut to
    80 characters) and its share (``top_share``); a share near 1 means constant output."""
    from collections import Counter

    if not answers:
        return {"n": 0, "distinct": 0, "top": None, "top_share": None}
    top, count = Counter(answers).most_common(1)[0]
    return {
        "n": len(answers),
        "distinct": len(set(answers)),
        "top": top[:80],
        "top_share": count / len(answers),
    }
