"""Experiment trackers: ``--log-to mlflow[:URI]`` and ``--log-to wandb[:PROJECT]``.

Every harness run becomes one tracker run (params, every metric with its interval bounds and
n, usage, timing, the record files as artifacts); a run group becomes an MLflow parent run or a
W&B group; a training logs its loss curve and manifest on the parent of its ``--eval`` runs; a
gate logs its verdict per check. Logging happens after the run folders are written, from the
folders alone, and a tracker that is down or missing costs one line on stderr: it never fails
or changes the evaluation. Install the clients with ``pip install harness-eval[tracking]``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from harness.tracking._gate import gate_group
from harness.tracking._group import GroupPayload, Series
from harness.tracking._payload import RunPayload, run_payload
from harness.tracking._spec import TrackerSpec, parse_tracker
from harness.tracking._training import training_group

__all__ = [
    "GroupPayload",
    "RunPayload",
    "Series",
    "TrackerSpec",
    "log_gate",
    "log_runs",
    "log_training",
    "parse_tracker",
    "run_payload",
]

PROBE_TIMEOUT_S = 15.0


class Sink(Protocol):
    def log_group(self, group: GroupPayload) -> list[str]: ...


def _sink(spec: TrackerSpec) -> Sink:
    if spec.kind == "mlflow":
        _probe(spec.target)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        from harness.tracking._mlflow import MlflowSink

        return MlflowSink(spec.target)
    from harness.tracking._wandb import WandbSink

    return WandbSink(spec.target)


def _probe(uri: str | None) -> None:
    """A tracking server that does not answer within seconds is reported, not retried for
    minutes (MLflow's client backs off for a long time)."""
    if uri and uri.startswith(("http://", "https://")):
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S):
            pass


def _groups(folders: Sequence[Path]) -> list[GroupPayload]:
    """Run folders grouped by ``group_id`` (runs without one are groups of their own)."""
    groups: dict[str, GroupPayload] = {}
    for folder in folders:
        payload = run_payload(Path(folder))
        key = payload.group_id or payload.run_id
        task = payload.tags["harness.task"]
        group = groups.setdefault(key, GroupPayload(name=f"{task} {key}", job="eval"))
        group.children.append(payload)
        group.tags = {"harness.group_id": key, "harness.task": task}
    return list(groups.values())


def _send(specs: Sequence[TrackerSpec], groups: list[GroupPayload]) -> None:
    for spec in specs:
        try:  # the clients print links on stdout: keep stdout for harness's own output (--json)
            with contextlib.redirect_stdout(sys.stderr):
                sink = _sink(spec)
                ids = [i for g in groups for i in sink.log_group(g)]
        except Exception as e:  # noqa: BLE001 -- a tracker never fails or changes the evaluation
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            print(
                f"warning: --log-to {spec}: not logged ({type(e).__name__}: {first}); "
                f"the evaluation and its run folders are unaffected",
                file=sys.stderr,
            )
            continue
        print(f"logged to {spec}: {len(ids)} tracker run(s)", file=sys.stderr)


def log_runs(specs: Sequence[TrackerSpec], folders: Sequence[Path]) -> None:
    """Logs stored runs, one tracker run each, grouped by their ``group_id``."""
    if specs and folders:
        _send(specs, _groups(folders))


def log_training(
    specs: Sequence[TrackerSpec], adapter_dir: Path, eval_folders: Sequence[Path] = ()
) -> None:
    """Logs a training (manifest, loss curve) with its evaluation runs under it."""
    if not specs:
        return
    try:
        group = training_group(adapter_dir)
    except (OSError, ValueError) as e:
        print(f"warning: --log-to: no training manifest in {adapter_dir} ({e})", file=sys.stderr)
        log_runs(specs, eval_folders)
        return
    group.children = [run_payload(Path(f)) for f in eval_folders]
    _send(specs, [group])


def log_gate(
    specs: Sequence[TrackerSpec], result: Any, policy_path: Path, files: Sequence[Path] = ()
) -> None:
    """Logs a gate decision: its verdict per check, with the JUnit, summary and report files."""
    if specs:
        _send(specs, [gate_group(result, policy_path, list(files))])
