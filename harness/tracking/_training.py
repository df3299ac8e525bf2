"""The training side of a tracker run: the adapter manifest's settings and its loss curve.

Reads ``adapter_manifest.json`` as plain JSON (``harness`` never imports ``adapters``), so an
adapter folder written by any version of ``harness train`` can be logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.tracking._group import GroupPayload, Series
from harness.tracking._payload import _text

MANIFEST = "adapter_manifest.json"
LOSS_PLOT = "loss_curve.png"


def training_group(adapter_dir: Path) -> GroupPayload:
    """A parent payload for the training in ``adapter_dir`` (children are added by the caller)."""
    manifest: dict[str, Any] = json.loads((adapter_dir / MANIFEST).read_text(encoding="utf-8"))
    base = manifest.get("base_model") or {}
    data = manifest.get("data") or {}
    params: dict[str, Any] = {
        "adapter": manifest.get("name"),
        "method": manifest.get("method"),
        "base_model": base.get("id"),
        "base_model_weight_sha256": base.get("weight_sha256"),
        "data": data.get("name"),
        "data_files": data.get("files"),
        "train_examples": data.get("train_examples"),
        "recipe_source": manifest.get("recipe_source"),
        "harness_git_sha": manifest.get("git_sha"),
        "device": manifest.get("device"),
        "dtype": manifest.get("dtype"),
    }
    params.update({f"recipe.{k}": v for k, v in (manifest.get("recipe") or {}).items()})
    history = manifest.get("loss_history") or []
    series = [
        Series(key, [(p["step"], float(p[key])) for p in history if p.get(key) is not None])
        for key in ("train_loss", "eval_loss", "learning_rate")
    ]
    figures = {
        "steps": manifest.get("steps"),
        "best_eval_loss": manifest.get("best_eval_loss"),
        "tokens_seen": manifest.get("tokens_seen"),
        "wall_time_s": manifest.get("wall_time_s"),
    }
    files = [adapter_dir / MANIFEST, adapter_dir / LOSS_PLOT]
    return GroupPayload(
        name=f"train {manifest.get('name', adapter_dir.name)}",
        job="train",
        params={k: _text(v) for k, v in params.items() if v is not None},
        metrics={f"train/{k}": float(v) for k, v in figures.items() if v is not None},
        series=[s for s in series if s.points],
        artifacts=[f for f in files if f.is_file()],
        tags={"harness.adapter": str(manifest.get("name", adapter_dir.name))},
    )
