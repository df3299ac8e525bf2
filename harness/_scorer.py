"""Scorers: small callables that judge one sample and declare how their metrics aggregate.

A scorer is called with the sample and the model's output and returns a `Score` whose
``values`` map metric names to per-sample numbers. By default every metric is aggregated as a
mean with its interval; a scorer with corpus-level metrics (BLEU, macro-F1) overrides
``aggregate``. Each scorer records its name and arguments (``spec``) so a stored run can be
re-scored without the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness._aggregate import mean_metric
from harness._registry import Registry
from harness._types import MetricValue, Output, Sample, Score

scorers: Registry[Any] = Registry("scorer")


class Scorer:
    """Base class for scorers.

    Subclasses set ``name`` and implement ``__call__``; ``args`` holds the constructor
    arguments so the scorer can be rebuilt from a run record.
    """

    name: str = "scorer"

    def __init__(self, **args: Any) -> None:
        self.args = args

    def __call__(self, sample: Sample, output: Output) -> Score:
        raise NotImplementedError

    def preflight(self) -> None:
        """Checks, before any model call, that this scorer will be able to run (permissions,
        tools, endpoints), so a run fails in seconds rather than after generation."""

    def score_all(self, samples: Sequence[Sample], outputs: Sequence[Output]) -> list[Score]:
        """Scores every sample; the runner calls this. Override to batch or parallelise
        (judge requests, sandboxed executions); the default calls ``__call__`` per sample."""
        return [self(s, o) for s, o in zip(samples, outputs, strict=True)]

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        """Aggregates per-sample values; default: the mean of each metric."""
        keys: list[str] = []
        for s in scores:
            keys.extend(k for k in s.values if k not in keys)
        return {k: mean_metric([s.values.get(k) for s in scores]) for k in keys}

    def spec(self) -> dict[str, Any]:
        """Name and arguments, as stored in the run record."""
        return {"name": self.name, "args": _jsonable(self.args)}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)
