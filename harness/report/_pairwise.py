"""Pairwise-judge records in a report: their own section, never a leaderboard cell.

``harness judge-pairwise RUN_A RUN_B`` writes a record shaped like run A's (same model and
task) whose metrics are A's win / tie / loss rates against B. Folded into the leaderboard it
would sit in A's model row as if it were one of A's own scores; here it gets one row per
record naming both runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report._sections import Section

RATES = ("win_rate", "lc_win_rate", "tie_rate", "loss_rate", "position_consistency")


def is_pairwise(run: Any) -> bool:
    """Whether a loaded run is a ``harness judge-pairwise`` record."""
    return "pairwise_of" in run.record.extra


def pairwise_section(runs: list[Any]) -> list[Section]:
    """One table of the pairwise records (none when there are none)."""
    if not runs:
        return []
    rows = []
    for run in runs:
        a, b = (Path(p).name for p in run.record.extra["pairwise_of"])
        cells = []
        for name in RATES:
            m = run.record.metrics.get(name)
            cells.append("–" if m is None or m.value is None else f"{m.value:.3f}")
        n = run.record.metrics.get("win_rate")
        rows.append([run.record.run_id, run.label, run.task, a, b, *cells, str(n.n if n else 0)])
    return [
        Section(
            "Pairwise judgements",
            ["record", "model (A)", "task", "run A", "run B", *RATES, "n"],
            rows,
            note="Each row: run A's answers judged against run B's on the same items, both "
            "orders; these records are not leaderboard cells.",
        )
    ]
