"""What a tracker gets of one stored run: flat params, numeric metrics, artifact files.

Built from the run folder alone (``run.json``), so any stored run can be logged again later
and the tracker sees exactly what the record says. Every metric is logged with its interval
bounds and n (``acc``, ``acc/ci_low``, ``acc/ci_high``, ``acc/n``); usage and timing under
``usage/...`` and ``timing/...``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.record import RunRecord, read_run

ARTIFACTS = ("run.json", "samples.jsonl", "report.html", "report.md")


@dataclass
class RunPayload:
    """One run as a tracker sees it."""

    run_id: str
    group_id: str | None
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    artifacts: list[Path] = field(default_factory=list)


def run_payload(folder: Path) -> RunPayload:
    """The payload of the run stored in ``folder``."""
    record = read_run(folder)
    return RunPayload(
        run_id=record.run_id,
        group_id=record.group_id,
        name=record.run_id,
        params=run_params(record),
        metrics=run_metrics(record),
        tags={
            "harness.run_id": record.run_id,
            "harness.status": record.status,
            "harness.task": record.task.name,
            "harness.variant": _variant(record),
        },
        artifacts=[folder / name for name in ARTIFACTS if (folder / name).is_file()],
    )


def _variant(record: RunRecord) -> str:
    return record.model.adapter.name if record.model.adapter else "base"


def run_params(record: RunRecord) -> dict[str, str]:
    """The settings that identify the run: task, fingerprint, model, adapter, generation."""
    m, g = record.model, record.generation
    params: dict[str, Any] = {
        "task": record.task.name,
        "task_version": record.task.version,
        "task_params": record.task.params,
        "fingerprint": record.fingerprint.digest if record.fingerprint else None,
        "model": m.id,
        "model_weight_sha256": m.weight_sha256,
        "backend": m.backend,
        "dtype": m.dtype,
        "device": m.device,
        "chat_template": m.chat_template,
        "adapter": m.adapter.name if m.adapter else None,
        "adapter_sha256": m.adapter.sha256 if m.adapter else None,
        "harness_version": record.harness.version,
        "harness_git_sha": record.harness.git_sha,
        "dataset": record.dataset.name,
        "split": record.dataset.split,
        "n_evaluated": record.dataset.n_evaluated,
        "status": record.status,
    }
    params.update({f"generation.{k}": v for k, v in g.model_dump().items()})
    return {k: _text(v) for k, v in params.items() if v is not None}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def run_metrics(record: RunRecord) -> dict[str, float]:
    """Every metric with its bounds and n, then usage and timing figures (numbers only)."""
    out: dict[str, float] = {}
    for name, m in record.metrics.items():
        parts = {"": m.value, "/ci_low": m.ci_low, "/ci_high": m.ci_high, "/stderr": m.stderr}
        out.update({name + k: float(v) for k, v in parts.items() if v is not None})
        out[f"{name}/n"] = float(m.n)
    for prefix, model in (("usage", record.usage), ("timing", record.timing)):
        for key, value in model.model_dump().items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{prefix}/{key}"] = float(value)
    for key, value in record.counts.model_dump().items():
        out[f"counts/{key}"] = float(value)
    return out
