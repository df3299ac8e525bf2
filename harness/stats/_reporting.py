"""Figures for people: power (detectable effect, n needed), p-values, answer profiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from harness.stats._dist import normal_ppf


def minimal_detectable_effect(se: float, alpha: float, power: float = 0.8) -> float:
    """Smallest true worsening a one-sided level-``alpha`` test detects with ``power``.

    ``(z_{1-alpha} + z_{power}) * se``, with ``se`` the standard error of the difference at
    the comparison's n (normal approximation; nan when ``se`` is unknown).
    """
    if not se >= 0:
        return math.nan
    return (normal_ppf(1 - alpha) + normal_ppf(power)) * se


DETECTABLE_ALPHA = 0.05  # the report's level: the gate's default alpha


def detectable_name(alpha: float = DETECTABLE_ALPHA) -> str:
    """The one name every table, message and record gives `minimal_detectable_effect`'s
    number, stating its sidedness, level and power (the report, the gate's lines, its JUnit
    and Markdown summary, and the paired table of ``harness run --base`` all use it)."""
    return f"detectable Δ (one-sided α={alpha:g}, 80% power)"


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
