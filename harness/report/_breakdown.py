"""The report's per-category breakdown: ``METRIC@CATEGORY`` of every run, and paired deltas.

Runs of a task with a category field (`harness.Task.categories`) record each metric per
category (`harness._categories`). The leaderboard keeps the overall numbers; this section shows
one table per task with a row per category and metric, a column per model or adapter (value,
95% interval and n), and each adapter's paired difference from its base run on that category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness._categories import categories_of, split_metric
from harness.report._sections import Section


def run_categories(run: Any) -> set[str]:
    """The categories of the items of ``run`` (empty when its task declares none)."""
    key = run.record.task.categories
    return {c for s in run.samples for c in categories_of(s.metadata, key)} if key else set()


def is_category_metric(run: Any, metric: str) -> bool:
    """Whether ``metric`` is one category's ``METRIC@CATEGORY`` of ``run``."""
    subset = split_metric(metric)[1]
    return subset is not None and subset in run_categories(run)


def _cell(m: Any) -> str:
    if m.value is None:
        return f"– (n={m.n})"
    ci = f" [{m.ci_low:.4f}, {m.ci_high:.4f}]" if m.ci_low is not None else ""
    return f"{m.value:.4f}{ci} n={m.n}"


def _delta_text(d: Any) -> str:
    r = d.comparison.result
    return f"{d.cand_label}: {r.delta:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] p={d.p_text}"


def breakdown_sections(
    runs: Sequence[Any], column_of: dict[str, str], deltas: Sequence[Any]
) -> list[Section]:
    """One section per task column whose runs have per-category metrics."""
    by_column: dict[str, list[Any]] = {}
    for run in runs:
        if run_categories(run):
            by_column.setdefault(column_of[run.record.run_id], []).append(run)
    out = []
    for column, group in by_column.items():
        labels = list(dict.fromkeys(r.label for r in group))
        keys = sorted(
            {m for r in group for m in r.record.metrics if is_category_metric(r, m)},
            key=lambda m: (split_metric(m)[1], split_metric(m)[0]),
        )
        rows = []
        for metric in keys:
            base, category = split_metric(metric)
            cells = {
                r.label: _cell(r.record.metrics[metric])
                for r in group
                if metric in r.record.metrics
            }
            d = [_delta_text(x) for x in deltas if x.task == column and x.metric == metric]
            rows.append(
                [category or "", base, *(cells.get(lb, "–") for lb in labels), "; ".join(d) or "–"]
            )
        key = group[0].record.task.categories
        out.append(
            Section(
                f"Per-category breakdown: {column}",
                ["category", "metric", *labels, "paired delta vs base"],
                rows,
                note=f"category field {key!r}; each category's own n and 95% interval; "
                "deltas are paired (adapter minus base) with 95% intervals, not corrected for "
                "multiple comparisons (the gate's per_category checks are)",
            )
        )
    return out
