"""IFEval's four metrics from per-prompt verdicts, overall and per instruction group.

Prompt-level accuracy is a mean over prompts (Wilson interval). Instruction-level accuracy is
lm-eval's ``agg_inst_level_acc``: followed instructions over all instructions, pooled across
prompts; its interval is a percentile bootstrap over *prompts* (one prompt's instructions are
judged on one answer, so they are not independent), and its n is the number of instructions.
``METRIC@GROUP`` counts only the instructions of that group, on the prompts that have one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from harness import MetricValue, Score, mean_metric
from harness.stats import bootstrap, percentile_interval

MODES = ("strict", "loose")


def _group(instruction_id: str) -> str:
    return instruction_id.split(":")[0]


def _counts(scores: Sequence[Score], mode: str, group: str | None) -> tuple[Any, Any]:
    """Per prompt: instructions followed and instructions (of ``group``, or all)."""
    import numpy as np

    followed, total = [], []
    for s in scores:
        pairs = [
            ok
            for iid, ok in zip(s.metadata["instructions"], s.metadata[mode], strict=True)
            if group is None or _group(iid) == group
        ]
        followed.append(sum(pairs))
        total.append(len(pairs))
    return np.asarray(followed, dtype=float), np.asarray(total, dtype=float)


def _ratio(followed: Any, total: Any) -> Callable[[Any], float]:
    def stat(idx: Any) -> float:
        t = float(total[idx].sum())
        return float(followed[idx].sum()) / t if t else math.nan

    return stat


def _ratio_metric(followed: Any, total: Any, resamples: int = 1000, seed: int = 0) -> MetricValue:
    import numpy as np

    keep = np.flatnonzero(total > 0)
    if len(keep) == 0:
        return MetricValue(value=math.nan, n=0)
    f, t = followed[keep], total[keep]
    stat = _ratio(f, t)
    point = stat(np.arange(len(keep)))
    draws = np.asarray(bootstrap(len(keep), stat, resamples, seed), dtype=float)
    lo, hi = percentile_interval(np.sort(draws))
    sd = float(draws.std(ddof=1)) if len(draws) > 1 else 0.0
    return MetricValue(point, sd, float(lo), float(hi), int(t.sum()), "bootstrap")


def groups_of(scores: Sequence[Score]) -> list[str]:
    """The instruction groups present, sorted."""
    return sorted({_group(i) for s in scores for i in s.metadata["instructions"]})


def aggregate_ifeval(scores: Sequence[Score]) -> dict[str, MetricValue]:
    """The four metrics, then each as ``METRIC@GROUP`` for every group present."""
    out: dict[str, MetricValue] = {}
    for suffix in ["", *(f"@{g}" for g in groups_of(scores))]:
        group = suffix[1:] or None
        for mode in MODES:
            name = f"prompt_level_{mode}_acc{suffix}"
            out[name] = mean_metric([s.values.get(name) for s in scores])
            out[f"inst_level_{mode}_acc{suffix}"] = _ratio_metric(*_counts(scores, mode, group))
    return out


def inst_statistics(scores: Sequence[Score]) -> dict[str, Callable[[Any], float]]:
    """The instruction-level metrics (overall and per group) as functions of an index array
    into ``scores``, for paired bootstrap comparisons and gates."""
    out: dict[str, Callable[[Any], float]] = {}
    for suffix in ["", *(f"@{g}" for g in groups_of(scores))]:
        for mode in MODES:
            out[f"inst_level_{mode}_acc{suffix}"] = _ratio(
                *_counts(scores, mode, suffix[1:] or None)
            )
    return out
