"""Finding the base-model run that was evaluated with an adapter run, when only the adapter
run is given.

``harness run --adapter x --base`` writes the base and adapter runs of one engine invocation
side by side under one ``group_id``. A gate given only the adapter run folder looks in the
folder that holds it for the base run of the same task and group: the paired comparison the
pair was made for, instead of an unpaired fallback or an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.record import read_run
from harness.runstore import LoadedRun, load_run


def paired_bases(candidates: Sequence[LoadedRun]) -> list[LoadedRun]:
    """Base runs of the adapter candidates' groups that sit beside them, not already given.

    Only ``run.json`` of each neighbouring folder is read until a match is found; a
    neighbour that is not a readable run is skipped (it is not what was asked for).
    """
    given = {r.path.resolve() for r in candidates}
    wanted = {
        (r.task, r.record.group_id)
        for r in candidates
        if r.adapter is not None
        and r.record.group_id is not None
        and not any(
            b.adapter is None and b.task == r.task and b.record.group_id == r.record.group_id
            for b in candidates
        )
    }
    found: list[LoadedRun] = []
    for parent in sorted({r.path.resolve().parent for r in candidates if r.adapter}):
        for folder in sorted(p.parent for p in parent.glob("*/run.json")):
            if folder.resolve() in given or not wanted:
                continue
            key = _base_key(folder)
            if key in wanted:
                found.append(load_run(folder))
                given.add(folder.resolve())
    return found


def _base_key(folder: Path) -> tuple[str, str | None] | None:
    """(task, group id) of a base-model run folder; None for adapter runs and unreadable ones."""
    try:
        record = read_run(folder)
    except (OSError, ValueError):
        return None
    if record.model.adapter is not None:
        return None
    return record.task.name, record.group_id
