"""How far a judge agrees with human labels: Cohen's kappa and Spearman's rho.

Scores are ordinal (1-10), so kappa is quadratic-weighted there: a 7 against a human 8 costs
less than a 2 against an 8. Pairwise verdicts are nominal (A / B / tie): plain kappa. Each
statistic comes with a bootstrap interval over items, and is absent (not zero) when fewer
than three items carry a label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from harness import MetricValue
from harness.stats import bootstrap, percentile_interval

MIN_ITEMS = 3


def cohen_kappa(a: Sequence[object], b: Sequence[object], weights: str | None = None) -> float:
    """Cohen's kappa between two raters (``weights``: None, "linear" or "quadratic").

    Weighted kappa needs numeric labels and weighs disagreements by their numeric distance
    (a 2 against an 8 costs the same whether or not 3-7 occur). On 1-10 grades this equals
    ``sklearn.metrics.cohen_kappa_score(a, b, labels=range(1, 11), weights=...)`` — the
    explicit labels matter: without them scikit-learn weighs by position among the labels
    seen, another number when grades have gaps. Grades between integers (means of several
    draws) keep their numeric distance. NaN when chance agreement is total.
    """
    import numpy as np

    labels = sorted(set(a) | set(b), key=lambda x: (str(type(x)), x))
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        values = np.array(labels, dtype=float)
        dist = np.abs(values[:, None] - values[None, :])
        w = dist if weights == "linear" else dist**2
    chance = float((w * expected).sum())
    if chance == 0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation, ties given their average rank (NaN when a side is constant)."""
    import numpy as np

    if len(set(a)) < 2 or len(set(b)) < 2:
        return math.nan
    ra, rb = _ranks(np.asarray(a, dtype=float)), _ranks(np.asarray(b, dtype=float))
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: Any) -> Any:
    import numpy as np

    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):  # average rank within ties
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def score_agreement(
    judge: Sequence[float | None], human: Sequence[float | None], prefix: str = "judge"
) -> dict[str, MetricValue]:
    """Quadratic-weighted kappa and Spearman between judge and human scores, on paired items."""
    pairs = [
        (float(j), float(h))
        for j, h in zip(judge, human, strict=False)
        if j is not None and h is not None
    ]
    if len(pairs) < MIN_ITEMS:
        return {}

    def kappa(items: Sequence[object]) -> float:
        ps = [p for p in items if isinstance(p, tuple)]
        return cohen_kappa([round(j) for j, _ in ps], [round(h) for _, h in ps], "quadratic")

    def rho(items: Sequence[object]) -> float:
        ps = [p for p in items if isinstance(p, tuple)]
        return spearman([j for j, _ in ps], [h for _, h in ps])

    return {
        f"{prefix}_human_kappa": _bootstrap(pairs, kappa),
        f"{prefix}_human_spearman": _bootstrap(pairs, rho),
    }


def verdict_agreement(
    judge: Sequence[str | None], human: Sequence[str | None]
) -> MetricValue | None:
    """Plain Cohen's kappa between pairwise verdicts (A / B / tie) and human ones."""
    pairs = [(j, h) for j, h in zip(judge, human, strict=False) if j is not None and h is not None]
    if len(pairs) < MIN_ITEMS:
        return None

    def kappa(items: Sequence[object]) -> float:
        ps = [p for p in items if isinstance(p, tuple)]
        return cohen_kappa([j for j, _ in ps], [h for _, h in ps])

    return _bootstrap(pairs, kappa)


def _bootstrap(
    items: Sequence[tuple[object, object]],
    statistic: Callable[[Sequence[object]], float],
    resamples: int = 500,
    seed: int = 0,
) -> MetricValue:
    """Point estimate with a percentile interval; resamples where the statistic is undefined
    (one class only) are skipped rather than sorted in as NaN."""
    point = statistic(items)
    n = len(items)
    draws = bootstrap(
        n, lambda idx: statistic([items[i] for i in idx]), resamples, seed, rng="python"
    )
    stats = sorted(v for v in draws if math.isfinite(v))
    if not math.isfinite(point) or len(stats) < resamples // 2:
        return MetricValue(point, None, None, None, n, "none")
    mean_b = sum(stats) / len(stats)
    stderr = math.sqrt(sum((s - mean_b) ** 2 for s in stats) / max(1, len(stats) - 1))
    lo, hi = percentile_interval(stats)
    return MetricValue(point, stderr, lo, hi, n, "bootstrap")
