"""Scorers: small callables that judge one sample and declare how their metrics aggregate.

A scorer is called with the sample and the model's output and returns a `Score` whose
``values`` map metric names to per-sample numbers. By default every metric is aggregated as a
mean with its interval; a scorer with corpus-level metrics (BLEU, macro-F1) overrides
``aggregate``, and one with run-level facts (a confusion matrix, how programs ran) overrides
``extra``.

The `scorer` class decorator declares a scorer's registry name and metrics and captures the
arguments it was built with, so a run record names the exact scorers that rebuild it
(``scorers.get(spec["name"])(**spec["args"])``)::

    @scorer("exact_match", metrics=("exact_match",))
    class ExactMatch(Scorer):
        def __call__(self, sample, output): ...
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness._aggregate import mean_metric
from harness._registry import Registry
from harness._types import MetricValue, Output, Sample, Score

if TYPE_CHECKING:
    from harness._context import RunContext

scorers: Registry[Any] = Registry("scorer", list_command="harness scorers")

S = TypeVar("S", bound="type[Scorer]")


class Scorer:
    """Base class for scorers.

    Subclasses implement ``__call__`` and are declared with `scorer`; ``name`` prefixes the
    scorer's entries in a run record (an instance may rename itself, e.g. a regex label).

    Attributes:
        name: The scorer's name in run records.
        registry_name: The name it is registered (and rebuilt) under.
        metrics: The metric names it reports (may depend on arguments; informative).
        args: The arguments it was built with (captured by `scorer`).
        reports_categories: The scorer reports ``METRIC@CATEGORY`` itself (per-item values
            and ``aggregate``), so the runner does not recompute its metrics per category.
    """

    name: str = "scorer"
    reports_categories: bool = False
    registry_name: str = "scorer"
    metrics: tuple[str, ...] = ()
    spec_exclude: tuple[str, ...] = ()

    def __init__(self, **args: Any) -> None:
        self.args = args  # `scorer` replaces these with the captured constructor arguments

    def __call__(self, sample: Sample, output: Output) -> Score:
        raise NotImplementedError

    def preflight(self, ctx: RunContext) -> None:
        """Checks, before any model call, that this scorer will be able to run (permissions,
        tools, endpoints), so a run fails in seconds rather than after generation."""

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        """Scores every sample; the runner calls this. Override to batch or parallelise
        (judge requests, sandboxed executions); the default calls ``__call__`` per sample.
        ``ctx`` None means a default `RunContext` (no code execution, no judge)."""
        return [self(s, o) for s, o in zip(samples, outputs, strict=True)]

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        """Aggregates per-sample values; default: the mean of each metric."""
        keys: list[str] = []
        for s in scores:
            keys.extend(k for k in s.values if k not in keys)
        return {k: mean_metric([s.values.get(k) for s in scores]) for k in keys}

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """Run-level facts for the record's ``extra`` (default: none)."""
        return {}

    def corpus_statistics(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, Callable[[Any], float]]:
        """The corpus metrics of ``aggregate`` as functions of an index array into ``scores``.

        Reports and the gate compare corpus metrics (corpus BLEU, micro/macro F1) by a paired
        bootstrap that recomputes them on resampled items; a scorer with corpus metrics returns
        one function per metric name here (default: none, every metric is a per-item mean).
        """
        return {}

    def problems(self, scores: Sequence[Score], samples: Sequence[Sample]) -> list[str]:
        """Why this scorer's results do not make a complete run (default: none), e.g. a
        judge whose verdicts mostly could not be read. Any problem marks the run incomplete."""
        return []

    def spec(self) -> dict[str, Any]:
        """Registry name and arguments, as stored in the run record."""
        return {"name": self.registry_name, "args": _jsonable(self.args)}


def scorer(name: str, *, metrics: Sequence[str] = (), register: bool = True) -> Callable[[S], S]:
    """Declares a `Scorer` subclass: its registry name, its metrics, and argument capture.

    Args:
        name: Registry name (``metrics: [name]`` in a task file); also the default ``name``.
        metrics: The metric names it reports.
        register: Register the class under ``name`` unless a (lazy) entry already exists.
    """

    def wrap(cls: S) -> S:
        init = cls.__init__
        sig = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self: Scorer, *args: Any, **kwargs: Any) -> None:
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            captured = _captured(bound, type(self).spec_exclude)
            init(self, *args, **kwargs)
            if type(self).registry_name == name:  # the most derived declared class wins
                self.args = captured

        cls.__init__ = __init__  # type: ignore[method-assign]
        cls.registry_name = name
        cls.metrics = tuple(metrics)
        if "name" not in cls.__dict__:
            cls.name = name
        if register:
            scorers.register_if_absent(name, cls)
        return cls

    return wrap


def _captured(bound: inspect.BoundArguments, exclude: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in list(bound.arguments.items())[1:]:  # drop self
        kind = bound.signature.parameters[key].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL and key not in exclude:
            out[key] = value
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Scorer):
        return obj.spec()
    if hasattr(obj, "model_dump"):
        return _jsonable(obj.model_dump(exclude_none=True))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)
