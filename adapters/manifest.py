"""The adapter manifest (``adapter_manifest.json``) and the loss-curve plot beside it.

The manifest says how an adapter was made, so an evaluation of it can be traced back: the base
model and its weight hash, the data and its hash, the full recipe, the code's git sha, the
train/validation loss history, tokens seen, wall time and device. It is a versioned pydantic
model that depends on nothing else of ours.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.distributed import settings
from harness.contamination import TrainingData

MANIFEST = "adapter_manifest.json"
# 2: method, distributed sharding settings and global batch; 3: contamination (training data)
MANIFEST_VERSION = 3


class LossPoint(BaseModel):
    """Losses logged at one optimiser step (either may be missing at a given step)."""

    step: int
    train_loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None  # logged with the train loss


class BaseModelRef(BaseModel):
    id: str
    path: str
    weight_sha256: str


class DataRef(BaseModel):
    kind: str
    name: str
    split: str | None
    files: dict[str, str]
    train_examples: int
    eval_examples: int


class AdapterManifest(BaseModel):
    """Everything needed to say how an adapter was trained."""

    model_config = ConfigDict(extra="forbid")

    version: int = MANIFEST_VERSION
    name: str
    method: str = "lora"  # lora, qlora or full (a whole model folder, not an adapter)
    created: str
    base_model: BaseModelRef
    data: DataRef
    recipe: dict[str, Any]
    recipe_source: str
    template: str
    git_sha: str | None
    loss_history: list[LossPoint]
    steps: int
    best_checkpoint: str | None
    best_eval_loss: float | None
    resumed_from: str | None
    tokens_seen: int
    wall_time_s: float
    device: str
    dtype: str
    versions: dict[str, str]
    drift: dict[str, Any] | None = Field(
        None, description="validation vs training prompts: a harness.drift record (drift.json)"
    )
    # world_size, strategy (single/ddp/fsdp/deepspeed), backend, global_batch_size, and for
    # fsdp / deepspeed: sharding / zero_stage, cpu_offload
    distributed: dict[str, Any] = {}
    contamination: TrainingData | None = Field(
        None,
        description="the training data's files (paths, sha256, fields, rows read) or task "
        "split, and their fingerprint: what `harness run --adapter` re-reads to check the "
        "evaluated items against (harness.contamination)",
    )


def loss_history(log_history: list[dict[str, Any]]) -> list[LossPoint]:
    """Merges the trainer's log entries into one point per step with train and/or eval loss."""
    points: dict[int, LossPoint] = {}
    for entry in log_history:
        step = int(entry.get("step", 0))
        if "loss" in entry:
            point = points.setdefault(step, LossPoint(step=step))
            point.train_loss = float(entry["loss"])
            if "learning_rate" in entry:
                point.learning_rate = float(entry["learning_rate"])
        if "eval_loss" in entry:
            points.setdefault(step, LossPoint(step=step)).eval_loss = float(entry["eval_loss"])
    return [points[s] for s in sorted(points)]


def git_sha(cwd: Path | None = None) -> str | None:
    """The current commit of the checkout, or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "peft", "trl"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return found


def build_manifest(session: Any, **fields: Any) -> AdapterManifest:
    """The manifest for a finished training `Session` plus the trainer's figures in ``fields``."""
    req = session.request
    src = session.source
    return AdapterManifest(
        name=req.out.name,
        method=req.recipe.method,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        base_model=BaseModelRef(
            id=session.base.id, path=str(session.base.path), weight_sha256=session.base.sha256
        ),
        data=DataRef(
            kind=src.kind,
            name=src.name,
            split=src.split,
            files=src.files,
            train_examples=len(session.train_rows),
            eval_examples=len(session.eval_rows),
        ),
        recipe=req.recipe.model_dump(),
        recipe_source=req.recipe_source,
        template=session.template,
        git_sha=git_sha(),
        resumed_from=session.resumed_from,
        device=session.device,
        dtype=session.dtype,
        versions=_versions(),
        drift=getattr(session, "drift", None),
        distributed=settings(session.device, req.recipe),
        contamination=training_reference(req, src.files),
        **fields,
    )


def training_reference(request: Any, files: dict[str, str]) -> TrainingData:
    """What the trainer read, for the contamination check: the data file (its first
    ``max_train_items`` rows, validation holdout included) or the task's train split (its
    data ``files``, name -> sha256, as loaded)."""
    from harness import DataOptions
    from harness.contamination import TrainingTask, file_reference

    limit = request.recipe.max_train_items
    if request.data is not None:
        return TrainingData(files=[file_reference(request.data, rows=limit)]).with_fingerprint()
    root = DataOptions(data_dir=request.data_dir).resolved_data_dir()
    task = TrainingTask(
        task=request.task,
        split="train",
        data_dir=str(root.resolve()) if root else None,
        limit=limit,
        files=dict(files),
    )
    return TrainingData(tasks=[task]).with_fingerprint()


def validation_drift(train: list[Any], validation: list[Any]) -> dict[str, Any]:
    """How far the validation prompts drift from the training prompts (`harness.drift`)."""
    from harness.drift import texts_drift

    return texts_drift([e.text for e in train], [e.text for e in validation]).model_dump()


def write_manifest(folder: Path, manifest: AdapterManifest) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(manifest.model_dump_json(indent=2) + "\n")
    return path


def read_manifest(folder: Path) -> AdapterManifest:
    return AdapterManifest.model_validate(json.loads((Path(folder) / MANIFEST).read_text()))


def plot_loss(history: list[LossPoint], path: Path, title: str = "") -> Path:
    """Train and validation loss against step, as a PNG; the learning rate on a second axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key, label in (("train_loss", "train"), ("eval_loss", "validation")):
        pts = [(p.step, getattr(p, key)) for p in history if getattr(p, key) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o" if len(pts) < 30 else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    rates = [(p.step, p.learning_rate) for p in history if p.learning_rate is not None]
    if rates:
        lr_ax = ax.twinx()
        (line,) = lr_ax.plot(*zip(*rates, strict=True), color="grey", linestyle=":", label="lr")
        lr_ax.set_ylabel("learning rate")
        lr_ax.set_ylim(bottom=0)
        handles, labels = [*handles, line], [*labels, "learning rate"]
    ax.legend(handles, labels)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
