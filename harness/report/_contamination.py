"""The leaderboard's contamination column: per task, an adapter's items flagged / n.

An adapter run records its training data checked against the items it was scored on
(`harness.contamination`). Beside each task's metric columns the leaderboard shows, for each
adapter row, ``flagged/n`` (``5/12``), ``unchecked`` (the training data could not be read as it
was trained on) or ``unknown`` (no record of it); base rows have none. The writers place the
column with `leaderboard_columns` and read the text from `Row.contamination`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.runstore import LoadedRun

HEADER = "contamination (flagged/n)"


def contamination_text(run: LoadedRun) -> str | None:
    """``flagged/n``, ``unchecked`` or ``unknown`` for an adapter run (None: nothing recorded)."""
    c = run.record.contamination
    if c is None:
        return None
    return f"{len(c.flagged)}/{c.n}" if c.status == "checked" else c.status


def add_contamination(row: Any, run: LoadedRun, column: str, tasks: list[str]) -> None:
    """Records ``run``'s contamination text in ``row`` (a `harness.report.Row`) under its task
    column label."""
    text = contamination_text(run)
    if text is None:
        return
    row.contamination[column] = text
    if column not in tasks:
        tasks.append(column)


def leaderboard_columns(
    report: Any, columns: list[str] | None = None
) -> list[tuple[str, str | None]]:
    """(header, task) per leaderboard column (``columns``, default: the report's): a metric
    column has task None; each task with a contamination record gets its column right after
    its last metric column."""
    out: list[tuple[str, str | None]] = []
    columns = report.columns if columns is None else columns
    for k, col in enumerate(columns):
        out.append((col, None))
        task = col.split("/", 1)[0]
        last = k + 1 == len(columns) or columns[k + 1].split("/", 1)[0] != task
        if last and task in report.contaminated_tasks:
            out.append((f"{task}/{HEADER}", task))
    return out
