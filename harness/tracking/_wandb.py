"""Weights & Biases sink: one W&B run per harness run, a harness run group as a W&B group.

``WANDB_MODE=offline`` keeps everything in ``$WANDB_DIR/wandb/offline-run-*`` for a later
``wandb sync``. Metrics keep their harness names (``acc@clean``); the final figures go to the
run summary, a loss curve to the history step by step, and the record files into one
artifact per run. W&B's console capture, code saving and error reporting are off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from harness.tracking._group import GroupPayload
from harness.tracking._payload import RunPayload
from harness.tracking._spec import DEFAULT_WANDB_PROJECT

_ARTIFACT_NAME = re.compile(r"[^\w\-.]")


class WandbSink:
    """Logs groups to one W&B project (``ENTITY/PROJECT`` or ``PROJECT``)."""

    def __init__(self, project: str | None) -> None:
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.wandb = wandb
        entity, _, name = (project or DEFAULT_WANDB_PROJECT).rpartition("/")
        self.entity = entity or None
        self.project = name

    def log_group(self, group: GroupPayload) -> list[str]:
        """Logs the group's own run (if it has content) and each child; returns W&B run ids."""
        ids: list[str] = []
        try:
            if group.has_own_content:
                ids.append(self._own(group))
            ids += [self._child(child, group.name) for child in group.children]
        finally:
            self.wandb.teardown()  # waits until W&B's service has written every run out
        return ids

    def _init(self, name: str, group: str, job: str, config: dict[str, str]) -> Any:
        settings = self.wandb.Settings(console="off", save_code=False, disable_git=True)
        return self.wandb.init(
            project=self.project,
            entity=self.entity,
            name=name,
            group=group,
            job_type=job,
            config=config,
            settings=settings,
            reinit="create_new",
        )

    def _own(self, group: GroupPayload) -> str:
        run = self._init(group.name, group.name, group.job, group.params)
        try:
            for series in group.series:
                for step, value in series.points:
                    run.log({series.key: value}, step=step)
            run.summary.update(group.metrics)
            run.tags = tuple(f"{k}={v}" for k, v in group.tags.items())[:20]
            self._artifact(run, group.name, group.job, group.artifacts)
        finally:
            run.finish()
        return str(run.id)

    def _child(self, payload: RunPayload, group: str) -> str:
        run = self._init(payload.name, payload.group_id or group, "eval", payload.params)
        try:
            run.summary.update(payload.metrics)
            run.summary.update(payload.tags)
            self._artifact(run, payload.run_id, "harness-run", payload.artifacts)
        finally:
            run.finish(exit_code=0 if payload.tags.get("harness.status") == "complete" else 1)
        return str(run.id)

    def _artifact(self, run: Any, name: str, kind: str, paths: list[Path]) -> None:
        if not paths:
            return
        artifact = self.wandb.Artifact(_ARTIFACT_NAME.sub("_", name), type=kind)
        for path in paths:
            artifact.add_file(str(path), name=path.name)
        run.log_artifact(artifact)
