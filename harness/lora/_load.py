"""Loading LoRA adapter folders into `AdapterSpec`s.

An adapter is given as a PEFT folder path or as the name of an adapter the trainer
registered. Its weights are hashed (part of every cache key and run record); the base model
it was trained on comes from ``adapter_config.json`` and, when the trainer wrote one, from
``adapter_manifest.json`` (which also records the base weights' hash).
"""

from __future__ import annotations

import json
from typing import Any

from harness._errors import ModelError
from harness._models import weights_sha256
from harness.backends._base import AdapterSpec
from harness.lora.registry import find_adapter

MANIFEST = "adapter_manifest.json"


def load_adapter(name_or_path: str, name: str | None = None) -> AdapterSpec:
    """Reads an adapter folder (or registered name) into an `AdapterSpec`.

    Raises:
        ModelError: No such adapter, or the folder is not a PEFT LoRA adapter.
    """
    path = find_adapter(name_or_path)
    cfg_path = path / "adapter_config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{path} has no adapter_config.json; pass a PEFT adapter folder")
    try:
        cfg: dict[str, Any] = json.loads(cfg_path.read_text())
    except ValueError as e:
        raise ModelError(f"{cfg_path} is not valid JSON ({e})") from None
    manifest: dict[str, Any] = {}
    if (path / MANIFEST).is_file():
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except ValueError:
            raise ModelError(f"{path / MANIFEST} is not valid JSON; retrain or delete it") from None
    targets = cfg.get("target_modules") or []
    if isinstance(targets, str):
        targets = [targets]
    base = manifest.get("base_model") or {}
    return AdapterSpec(
        name=name or path.resolve().name,
        path=path.resolve(),
        sha256=weights_sha256(path),
        base_model=cfg.get("base_model_name_or_path"),
        rank=cfg.get("r"),
        target_modules=tuple(targets),
        base_model_sha256=base.get("weight_sha256")
        if isinstance(base, dict)
        else manifest.get("base_model_sha256"),
    )
