"""Promoting a run to a baseline: a copy of its record with a manifest saying where it came from.

The gate compares a candidate that has no base-model run of its own with the runs under
``runs/baselines`` (the policy's ``baseline``); a baseline is only trustworthy if one can tell
what it is, so each promoted folder holds ``baseline.json``: the run, its task, model and
adapter, when it was promoted, and the commit it was made and promoted at.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from harness._errors import HarnessError
from harness._host import git_state
from harness.runstore import LoadedRun

MANIFEST = "baseline.json"
FILES = ("run.json", "samples.jsonl")


def promote_run(run: LoadedRun, dest: Path) -> Path:
    """Copies ``run.json`` and ``samples.jsonl`` of ``run`` to ``dest/<run_id>`` with a manifest.

    Raises:
        HarnessError: The run is incomplete, or a different baseline of that id exists.
    """
    r = run.record
    if r.status != "complete":
        raise HarnessError(
            f"{run.path}: run is {r.status}; only complete runs can be baselines "
            "(rerun it to completion first)"
        )
    folder = dest / r.run_id
    if (
        folder.exists()
        and (folder / "run.json").read_bytes() != (run.path / "run.json").read_bytes()
    ):
        raise HarnessError(f"{folder} already holds a different run; remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (run.path / name).exists():
            shutil.copyfile(run.path / name, folder / name)
    sha, dirty = git_state()
    manifest = {
        "run_id": r.run_id,
        "task": r.task.name,
        "task_params": r.task.params,
        "model": r.model.id,
        "adapter": r.model.adapter.name if r.model.adapter else None,
        "n_evaluated": r.dataset.n_evaluated,
        "metrics": {k: m.value for k, m in r.metrics.items()},
        "run_created_at": r.created_at,
        "run_git_sha": r.harness.git_sha,
        "promoted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "promoted_git_sha": sha,
        "promoted_git_dirty": dirty,
        "source": str(run.path),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder
