"""Which leaderboard numbers come first: a task's primary metrics, and the rates that qualify them.

A task names its headline metrics (`harness.Task.primary_metrics`, recorded in run.json as
``task.primary_metrics``); the report shows those first and the rest behind a toggle. Failure,
error and no-match rates (``answer_correctness_failure_rate``, ``judge_error_rate``,
``strict_no_match``, ``reasoning_truncated_rate``, ...) say how far another number can be
trusted, so they are never columns: each becomes a `Badge` on the cell it qualifies
(``<metric>_failure_rate`` on ``<metric>``, ``judge_error_rate`` on ``judge_score``,
``strict_no_match`` on ``strict_match``), or on every primary cell of its run when it names no
single metric (``invalid_rate``, the output rates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness._output_split import OUTPUT_RATES

#: Endings of the names of rates that qualify another metric, longest first.
QUALIFIER_SUFFIXES = ("_parse_failure_rate", "_failure_rate", "_error_rate", "_no_match")
#: Whole names of rates that qualify every primary metric of their run.
RUN_QUALIFIERS = ("invalid_rate", "error_rate", *OUTPUT_RATES)
#: What a qualified metric's name may add to the rate's stem (``judge`` -> ``judge_score``).
_STEM_ENDINGS = ("", "_score", "_match")


@dataclass
class Badge:
    """A rate shown beside the cell it qualifies (e.g. ``judge_error_rate 0.100``)."""

    metric: str
    value: float


def is_qualifier(metric: str) -> bool:
    """Whether ``metric`` is a failure, error or no-match rate rather than a quality number."""
    return metric in RUN_QUALIFIERS or metric.endswith(QUALIFIER_SUFFIXES)


def qualified_metric(rate: str, present: set[str]) -> str | None:
    """The metric among ``present`` that ``rate`` qualifies; None: every primary metric."""
    for suffix in QUALIFIER_SUFFIXES:
        if rate.endswith(suffix) and rate != suffix:
            stem = rate[: -len(suffix)]
            for ending in _STEM_ENDINGS:
                if stem + ending in present and not is_qualifier(stem + ending):
                    return stem + ending
            return None
    return None


def primary_of(run: Any, metrics: list[str]) -> list[str]:
    """The primary metrics of ``run`` among its quality ``metrics``, in the task's order;
    all of them when the task names none that the run produced."""
    declared = [m for m in (run.record.task.primary_metrics or []) if m in metrics]
    return declared or [m for m in metrics if not is_qualifier(m)]


def badges_of(run: Any, metrics: list[str], primary: list[str]) -> dict[str, list[Badge]]:
    """Metric -> the non-zero rates of ``run`` that qualify it."""
    present = set(metrics)
    out: dict[str, list[Badge]] = {}
    names = [*metrics, *(m for m in OUTPUT_RATES if m in run.record.metrics)]
    for rate in names:
        if not is_qualifier(rate):
            continue
        value = run.record.metrics[rate].value
        if value is None or value != value or value <= 0:
            continue
        target = qualified_metric(rate, present)
        for metric in [target] if target else primary:
            out.setdefault(metric, []).append(Badge(rate, value))
    return out
