"""``harness train --num-processes 2`` on CPU (gloo under accelerate): one adapter, written by
rank 0, the world size in the manifest, every example seen once per epoch, losses close to one
process.

Both runs take the same 12 examples for one epoch with the same global batch (1 process x 4, or
2 x 2), so both take 3 steps. "Seen once" is checked through the trainer's count of non-padding
input tokens, gathered over ranks: it equals the single process's only if the ranks' shares add
up to the whole epoch (a repeated or skipped example would change it). The losses differ only
by the order examples arrive in and by DDP averaging per-rank means: the final held-out loss
must agree within 0.1 nats (seen: 0.8878 for both, equal to 7 digits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.distributed import launch_command, settings, world

ROOT = Path(__file__).resolve().parents[2]
COMMON = [
    "max_train_items=12",
    "epochs=1",
    "lr=3e-3",
    "lr_scheduler=constant",
    "warmup_steps=0",
    "group_by_length=false",
    "validation.max_items=4",
    "validation.every_steps=3",
    "validation.early_stopping_patience=null",
    "logging_steps=1",
    "lora.r=8",
]


def test_launch_command_runs_harness_under_accelerate() -> None:
    cmd = launch_command(2, ["train", "--out", "x"], port=29511)
    assert cmd == [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
        "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", "29511",
        "-m", "harness.cli", "train", "--out", "x",
    ]  # fmt: skip


def test_world_and_settings_from_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(k, raising=False)
    assert world().size == 1 and world().main
    assert settings("cpu") == {"world_size": 1, "strategy": "single", "backend": None}
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not world().main
    assert settings("cpu") == {"world_size": 2, "strategy": "ddp", "backend": "gloo"}
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert settings("cuda") == {"world_size": 2, "strategy": "fsdp", "backend": "nccl"}


def _train(out: Path, home: Path, data_dir: Path, extra: list[str]) -> dict[str, Any]:
    env = dict(os.environ, HARNESS_HOME=str(home), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "harness.cli", "train", "--task", "viggo", "--recipe", "cpu"]
    cmd += ["--out", str(out), "--data-dir", str(data_dir), *extra, *COMMON]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stdout.count("adapter written to") == 1  # rank 0 alone reports
    return {"manifest": json.loads((out / "adapter_manifest.json").read_text()), "res": res}


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path: Path, data_dir: Path) -> None:
    one = _train(tmp_path / "one", tmp_path / "h1", data_dir, ["batch_size=4"])["manifest"]
    two = _train(
        tmp_path / "two", tmp_path / "h2", data_dir, ["--num-processes", "2", "batch_size=2"]
    )["manifest"]
    assert two["distributed"] == {"world_size": 2, "strategy": "ddp", "backend": "gloo"}
    assert one["distributed"]["world_size"] == 1
    assert one["steps"] == two["steps"] == 3
    assert two["tokens_seen"] == one["tokens_seen"] > 0  # the epoch, once, across both ranks
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if "adapter_model" in p.name) == [
        "adapter_model.safetensors"
    ]
    eval_one = [p["eval_loss"] for p in one["loss_history"] if p.get("eval_loss") is not None]
    eval_two = [p["eval_loss"] for p in two["loss_history"] if p.get("eval_loss") is not None]
    print("eval losses: one process", eval_one, "two processes", eval_two)
    assert abs(eval_one[-1] - eval_two[-1]) < 0.1
