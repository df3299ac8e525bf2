"""The paired adapter-vs-base table that ``harness run --adapter x --base`` prints last.

Base and adapter answered the same items in one engine, so each metric is compared item by
item (McNemar for 0/1 metrics, paired bootstrap otherwise, a recomputed corpus score for
corpus metrics, by cluster when the task clusters its items), as the report and gate do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness._output_split import quality_names


def print_paired(results: list[Any]) -> None:
    """Prints one table per adapter run that has a base run of the same task and group."""
    from rich.console import Console
    from rich.table import Table

    from harness.runstore import LoadedRun, compare_metric, name_mismatch
    from harness.stats import DETECTABLE_ALPHA, detectable_name, format_p, minimal_detectable_effect

    runs = [LoadedRun(r.folder or Path("."), r.record, r.samples) for r in results]
    console = Console()
    for cand in runs:
        base = next(
            (
                r
                for r in runs
                if r.adapter is None
                and r.task == cand.task
                and r.record.group_id == cand.record.group_id
            ),
            None,
        )
        if cand.adapter is None or base is None:
            continue
        table = Table(title=f"{cand.task} · {cand.adapter} vs base · paired")
        for col in ("metric", "base", cand.adapter, "delta [95%]", "p", "flips -/+", "detect."):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for metric in quality_names(cand.record):
            rc = None if name_mismatch(cand, metric) else compare_metric(base, cand, metric)
            if rc is None:
                continue
            r = rc.result
            flips = f"{r.worse} / {r.better}" if r.worse is not None else "–"
            table.add_row(
                metric + (" (corpus)" if rc.corpus else ""),
                f"{r.baseline:.4f}",
                f"{r.candidate:.4f}",
                f"{r.delta:+.4f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
                format_p(r.p_value, r.resamples),
                flips,
                f"{minimal_detectable_effect(r.se, DETECTABLE_ALPHA):.3g}",
            )
        console.print(table)
        console.print(
            f"  flips: right->wrong / wrong->right; detect.: {detectable_name()}, the smallest "
            "difference detected; `harness report` lists the flipped items"
        )
