"""``method: full`` on the bundled model: a few steps change every kind of weight, the folder
is a whole model (weights, config, tokenizer, manifest; no adapter, nothing registered), and
``harness run --model FOLDER`` evaluates it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FEW_STEPS = [
    "max_train_items=8",
    "batch_size=4",
    "max_steps=2",
    "lr=1e-4",
    "warmup_ratio=0",
    "validation.max_items=2",
    "validation.every_steps=2",
    "logging_steps=1",
]


@pytest.mark.slow
def test_full_fine_tuning_trains_saves_and_evaluates(
    tmp_path: Path, bundled_model: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import load_file

    from harness.lora import known_adapters
    from tests.cli._cli_helpers import invoke

    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "viggo-full"
    res = invoke(["train", "--task", "viggo", "--recipe", "full", "--out", str(out), *FEW_STEPS])
    assert res.exit_code == 0, res.output
    assert res.stdout == f"model written to {out} (evaluate it: harness run --model {out})\n"
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "adapter_manifest.json"} <= files
    assert "adapter_config.json" not in files and "checkpoints" not in files
    assert "viggo-full" not in known_adapters()  # a model, not an adapter
    manifest = json.loads((out / "adapter_manifest.json").read_text())
    assert manifest["method"] == "full" and manifest["steps"] == 2
    assert manifest["distributed"]["world_size"] == 1
    tuned = load_file(str(out / "model.safetensors"))
    base = load_file(str(Path(bundled_model.path) / "model.safetensors"))
    changed = {k for k in base if not (tuned[k].float() == base[k].float()).all()}
    # Attention, MLP and norm weights all trained (not just an adapter's few matrices).
    for part in ("self_attn.q_proj", "mlp.down_proj", "input_layernorm"):
        assert any(part in k for k in changed), part
    assert len(changed) > len(base) // 2

    run = invoke(
        ["run", "-t", "viggo", "--backend", "hf", "--model", str(out), "--limit", "2",
         "--max-new-tokens", "8", "--output-dir", str(tmp_path / "runs"), "--json"]
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    records = list((tmp_path / "runs").rglob("run.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["counts"]["samples"] == 2
    assert Path(record["model"]["path"]).resolve() == out.resolve()
    assert record["model"]["weight_sha256"] != bundled_model.sha256  # the tuned weights ran
