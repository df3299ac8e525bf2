"""The value every comparison returns (`Comparison`) and the checks its tests share."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["paired-binary", "paired-continuous", "unpaired"]


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


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def check_paired(base: Sequence[float], cand: Sequence[float]) -> None:
    if len(base) != len(cand):
        raise ValueError(f"paired samples need equal lengths ({len(base)} != {len(cand)})")
    if not base:
        raise ValueError("no paired items to compare")
