"""MLflow sink: a parent run per group with each harness run nested under it.

Uses `mlflow.MlflowClient` with an explicit tracking URI (no global active run), so logging
never touches the caller's MLflow state. Metric names MLflow cannot store (``acc@clean``:
``@`` is not allowed) are written with braces (``acc{clean}``); the original names are kept in
each run's ``harness.metric_names`` tag when any was changed.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from harness.tracking._group import GroupPayload
from harness.tracking._payload import RunPayload

EXPERIMENT = "harness"
_BAD = re.compile(r"[^\w\-. /:{}]")
_AT = re.compile(r"@([^/]+)")


def mlflow_key(name: str) -> str:
    """``acc@abstract_algebra/ci_low`` -> ``acc{abstract_algebra}/ci_low``; other bad
    characters become ``_``."""
    return _BAD.sub("_", _AT.sub(r"{\1}", name))


class MlflowSink:
    """Logs groups to one MLflow tracking URI (None: MLflow's default)."""

    def __init__(self, uri: str | None) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
        found = self.client.get_experiment_by_name(name)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(name)

    def log_group(self, group: GroupPayload) -> list[str]:
        """Logs the group; returns the MLflow run ids, parent first (if one was made)."""
        parent: str | None = None
        ids: list[str] = []
        if len(group.children) > 1 or group.has_own_content:
            parent = self._start(group.name, {**group.tags, "harness.job": group.job}, None)
            runs = ",".join(c.run_id for c in group.children)
            params = {**group.params, **({"runs": runs} if runs else {})}
            self._log(parent, params, group.metrics, group.tags)
            for series in group.series:
                self._batch(parent, metrics=[_metric(series.key, v, s) for s, v in series.points])
            self._artifacts(parent, group.artifacts)
            ids.append(parent)
        ids += [self._child(child, parent) for child in group.children]
        if parent is not None:
            self.client.set_terminated(parent, "FINISHED")
        return ids

    def _child(self, run: RunPayload, parent: str | None) -> str:
        run_id = self._start(run.name, {**run.tags, "harness.job": "eval"}, parent)
        self._log(run_id, run.params, run.metrics, run.tags)
        self._artifacts(run_id, run.artifacts)
        status = "FINISHED" if run.tags.get("harness.status") == "complete" else "FAILED"
        self.client.set_terminated(run_id, status)
        return run_id

    def _start(self, name: str, tags: dict[str, str], parent: str | None) -> str:
        if parent is not None:
            tags = {**tags, "mlflow.parentRunId": parent}
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        return str(run.info.run_id)

    def _log(
        self, run_id: str, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
    ) -> None:
        from mlflow.entities import Param

        renamed = {mlflow_key(k): k for k in metrics if mlflow_key(k) != k}
        if renamed:
            self.client.set_tag(run_id, "harness.metric_names", json.dumps(renamed)[:5000])
        self._batch(
            run_id,
            metrics=[_metric(k, v, 0) for k, v in metrics.items()],
            params=[Param(mlflow_key(k), v[:6000]) for k, v in params.items()],
        )

    def _batch(self, run_id: str, metrics: list[Any], params: list[Any] | None = None) -> None:
        # MLflow takes at most 1,000 metrics and 100 params per batch.
        params = params or []
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i : i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])

    def _artifacts(self, run_id: str, paths: list[Any]) -> None:
        for path in paths:
            self.client.log_artifact(run_id, str(path))


def _metric(key: str, value: float, step: int) -> Any:
    from mlflow.entities import Metric

    return Metric(mlflow_key(key), value, int(time.time() * 1000), step)
