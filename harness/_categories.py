"""Per-category metrics: every metric also reported per category as ``METRIC@CATEGORY``.

A task that names a category field (`Task.categories`: the `Sample.metadata` key holding an
MMLU subject, an IFEval instruction group, a YAML task's ``categories: FIELD``) gets each of
its metrics recomputed on the items of every category, with that category's own n and
interval, under the name ``METRIC@CATEGORY``. A sample's category may be one string or a list
of strings (an IFEval prompt holds instructions of several groups): it then counts in each.

Tasks whose categories are one per item also get ``METRIC_macro``: the unweighted mean of the
per-category values (lm-eval's macro average of MMLU subjects), with a percentile-bootstrap
interval over items; the plain ``METRIC`` stays the micro average over all items.

A scorer may itself report ``METRIC@CATEGORY`` values (IFEval's prompt-level score restricted
to one group's instructions); those win over the generic recomputation. The ``@`` suffix is
general: `split_metric` parses any ``METRIC@SUBSET`` name, so other item subsets (``@clean``)
share the scheme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness._types import MetricValue

MACRO_SUFFIX = "_macro"


def split_metric(name: str) -> tuple[str, str | None]:
    """``("acc", "abstract_algebra")`` for ``acc@abstract_algebra``; ``(name, None)`` without
    an ``@`` (the first ``@`` separates, so a category name may itself hold one)."""
    base, sep, subset = name.partition("@")
    return (base, subset) if sep and base and subset else (name, None)


def categories_of(metadata: Mapping[str, Any], key: str | None) -> list[str]:
    """The categories of one sample: its ``metadata[key]`` as a list of strings (empty when
    the task declares no category field or the sample has no value)."""
    if key is None:
        return []
    value = metadata.get(key)
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return list(dict.fromkeys(str(v) for v in values if v is not None and str(v) != ""))


def single_valued(metadatas: Sequence[Mapping[str, Any]], key: str) -> bool:
    """Whether every sample belongs to exactly one category (macro averages need that)."""
    return all(len(categories_of(m, key)) == 1 for m in metadatas)


def members(metadatas: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[int]]:
    """Category -> indices of its samples, categories in sorted order."""
    out: dict[str, list[int]] = {}
    for i, m in enumerate(metadatas):
        for c in categories_of(m, key):
            out.setdefault(c, []).append(i)
    return dict(sorted(out.items()))


def macro_statistic(
    values: Sequence[float | None], labels: Sequence[str]
) -> Callable[[Any], float]:
    """The unweighted mean over categories of each category's mean, as a function of an index
    array into ``values`` (a resample may miss a category: the mean is over those present)."""
    import numpy as np

    vals = np.asarray([math.nan if v is None else float(v) for v in values], dtype=float)
    codes_of = {c: k for k, c in enumerate(sorted(set(labels)))}
    codes = np.asarray([codes_of[c] for c in labels], dtype=int)
    k = len(codes_of)

    def stat(idx: Any) -> float:
        idx = np.asarray(idx, dtype=int)
        v, c = vals[idx], codes[idx]
        keep = np.isfinite(v)
        sums = np.bincount(c[keep], weights=v[keep], minlength=k)
        counts = np.bincount(c[keep], minlength=k)
        present = counts > 0
        return float((sums[present] / counts[present]).mean()) if present.any() else math.nan

    return stat


def macro_metric(
    values: Sequence[float | None], labels: Sequence[str], resamples: int = 1000, seed: int = 0
) -> MetricValue:
    """``METRIC_macro`` with a percentile-bootstrap 95% interval over items."""
    from harness._aggregate import from_resamples
    from harness.stats import bootstrap

    kept = [(v, c) for v, c in zip(values, labels, strict=True) if v is not None]
    if not kept:
        return MetricValue(value=math.nan, n=0)
    stat = macro_statistic([v for v, _ in kept], [c for _, c in kept])
    point = stat(list(range(len(kept))))
    draws = [d for d in bootstrap(len(kept), stat, resamples, seed) if math.isfinite(d)]
    return from_resamples(point, draws, len(kept))


MEAN_METHODS = ("wilson", "wilson-scaled", "normal")


def per_category(
    scorer: Any, scores: Sequence[Any], samples: Sequence[Any], key: str
) -> dict[str, MetricValue]:
    """Every metric of ``scorer`` on each category's items as ``METRIC@CATEGORY`` (values the
    scorer reports under such names itself are kept; none for a scorer that
    ``reports_categories`` itself), plus ``METRIC_macro`` for per-item mean
    metrics when each item has one category.

    Args:
        scorer: The `harness.Scorer` whose ``aggregate`` is recomputed per category.
        scores: Its per-sample scores, aligned with ``samples``.
        samples: The scored samples (their metadata holds the categories).
        key: The metadata key of the category (`Task.categories`).
    """
    if scorer.reports_categories:
        return {}
    metas = [s.metadata for s in samples]
    groups = members(metas, key)
    own = {k for sc in scores for k in sc.values if split_metric(k)[1] is not None}
    out: dict[str, MetricValue] = {}
    for cat, idx in groups.items():
        sub = scorer.aggregate([scores[i] for i in idx], [samples[i] for i in idx])
        for name, mv in sub.items():
            if split_metric(name)[1] is None and f"{name}@{cat}" not in own:
                out[f"{name}@{cat}"] = mv
    if len(groups) > 1 and single_valued(metas, key):
        overall = scorer.aggregate(scores, samples)
        labels = [categories_of(m, key)[0] for m in metas]
        for name, mv in overall.items():
            per_item = [sc.values.get(name) for sc in scores]
            if (
                split_metric(name)[1] is None
                and mv.method in MEAN_METHODS
                and any(v is not None for v in per_item)
            ):
                out[name + MACRO_SUFFIX] = macro_metric(per_item, labels)
    return out
