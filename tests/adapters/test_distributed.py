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
from harness._errors import HarnessError

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
    assert two["distributed"] == {
        "world_size": 2, "strategy": "ddp", "backend": "gloo", "global_batch_size": 4
    }  # fmt: skip
    assert one["distributed"]["global_batch_size"] == 4  # the same global batch
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


def _clear_world(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(k, raising=False)
    for k in ("ACCELERATE_USE_DEEPSPEED",):
        monkeypatch.delenv(k, raising=False)


def test_manifest_settings_record_the_recipe_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.recipe import load_recipe

    _clear_world(monkeypatch)
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert settings("cuda", load_recipe("cpu", ["grad_accum=2"])) == {
        "world_size": 4, "strategy": "ddp", "backend": "nccl", "global_batch_size": 64,
    }  # fmt: skip
    assert settings("cuda", load_recipe("full-fsdp")) == {
        "world_size": 4, "strategy": "fsdp", "backend": "nccl", "cpu_offload": False,
        "sharding": "full_shard", "global_batch_size": 32,
    }  # fmt: skip
    assert settings("cuda", load_recipe("deepspeed-zero3")) == {
        "world_size": 4, "strategy": "deepspeed", "backend": "nccl", "cpu_offload": True,
        "zero_stage": 3, "global_batch_size": 32,
    }  # fmt: skip


def test_strategy_args_map_to_accelerate_plugins() -> None:
    from adapters.distributed import strategy_args
    from adapters.recipe import load_recipe

    assert strategy_args(load_recipe("cpu")) == {}  # DDP: the launcher alone
    fsdp = strategy_args(load_recipe("full-fsdp", ["distributed.sharding=shard_grad_op"]))
    assert fsdp == {
        "fsdp": True,
        "fsdp_config": {
            "version": 2, "reshard_after_forward": False, "cpu_offload": False,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP", "state_dict_type": "FULL_STATE_DICT",
            "activation_checkpointing": True,
        },
    }  # fmt: skip
    zero3 = strategy_args(load_recipe("deepspeed-zero3"))["deepspeed"]
    assert zero3["zero_optimization"] == {
        "stage": 3, "overlap_comm": True, "contiguous_gradients": True,
        "offload_optimizer": {"device": "cpu", "pin_memory": True},
        "offload_param": {"device": "cpu", "pin_memory": True},
        "stage3_gather_16bit_weights_on_model_save": True,
    }  # fmt: skip
    assert zero3["train_micro_batch_size_per_gpu"] == "auto"  # filled from the recipe
    zero2 = strategy_args(load_recipe("deepspeed-zero2"))["deepspeed"]["zero_optimization"]
    assert zero2["stage"] == 2 and "offload_param" not in zero2


def test_fsdp_config_is_accepted_by_transformers() -> None:
    """The fsdp_config keys are ones transformers turns into accelerate's FSDP plugin."""
    from transformers import TrainingArguments

    from adapters.distributed import strategy_args
    from adapters.recipe import load_recipe

    args = TrainingArguments.__new__(TrainingArguments)
    args.fsdp = True  # type: ignore[assignment]
    args.fsdp_config = dict(strategy_args(load_recipe("full-fsdp"))["fsdp_config"])
    args.gradient_checkpointing = False
    plugin = args._process_fsdp_args()
    assert plugin["fsdp_version"] == 2 and plugin["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert plugin["reshard_after_forward"] is True and plugin["activation_checkpointing"] is True
    assert plugin["state_dict_type"] == "FULL_STATE_DICT"


def test_deepspeed_missing_is_one_line_before_any_launch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    from click.testing import CliRunner

    import adapters.distributed as dist
    from harness.cli import cli

    _clear_world(monkeypatch)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "deepspeed" else real(n, *a)
    )
    launched: list[Any] = []

    def launch(*args: Any) -> int:
        launched.append(args)
        return 0

    monkeypatch.setattr(dist, "launch", launch)
    out = tmp_path / "ds"
    res = CliRunner().invoke(
        cli, ["train", "--task", "viggo", "--recipe", "deepspeed-zero2", "--out", str(out)]
    )
    assert res.exit_code == 2 and not launched and not out.exists()
    err = res.stderr.strip()
    assert "\n" not in err and "needs DeepSpeed: pip install deepspeed" in err


def test_sharded_strategies_launch_even_on_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.distributed import needs_launcher
    from adapters.recipe import load_recipe

    _clear_world(monkeypatch)
    ddp, fsdp = load_recipe("cpu"), load_recipe("full-fsdp")
    assert not needs_launcher(ddp, 1) and needs_launcher(ddp, 2)
    assert needs_launcher(fsdp, 1)  # FSDP needs a process group, even of one
    monkeypatch.setenv("LOCAL_RANK", "0")  # already under the launcher: never again
    assert not needs_launcher(fsdp, 1) and not needs_launcher(ddp, 2)


def test_qlora_loads_on_each_process_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import transformers

    from adapters.distributed import qlora_device_map
    from adapters.recipe import load_recipe
    from adapters.train import _load_model

    _clear_world(monkeypatch)
    assert qlora_device_map() == {"": 0}
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")  # second process of the second node
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert qlora_device_map() == {"": 1}
    seen: dict[str, Any] = {}

    def fake_load(path: Any, **kwargs: Any) -> str:
        seen.update(kwargs)
        return "model"

    monkeypatch.setitem(sys.modules, "bitsandbytes", types.ModuleType("bitsandbytes"))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_load)
    base = types.SimpleNamespace(path="/nowhere", id="m")
    _load_model(base, "cuda", "bf16", load_recipe("default", ["method=qlora"]))  # type: ignore[arg-type]
    assert seen["device_map"] == {"": 1}
    assert seen["quantization_config"].load_in_4bit


def test_full_fine_tuning_keeps_float32_master_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import torch
    import transformers

    from adapters.recipe import load_recipe
    from adapters.train import _load_model, _lora_config

    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        transformers.AutoModelForCausalLM, "from_pretrained", lambda p, **kw: seen.update(kw)
    )
    base = types.SimpleNamespace(path="/nowhere", id="m")
    _load_model(base, "cuda", "bf16", load_recipe("full"))  # type: ignore[arg-type]
    assert seen == {"dtype": torch.float32}  # bf16 autocast computes; fp32 weights update
    _load_model(base, "cuda", "bf16", load_recipe("default"))  # type: ignore[arg-type]
    assert seen == {"dtype": torch.bfloat16}  # LoRA: the frozen base in bf16
    assert _lora_config(load_recipe("full")) is None
    assert _lora_config(load_recipe("default")).r == 64


def test_one_process_sharded_run_gets_a_torchrun_world(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    import adapters.distributed as dist

    calls: list[tuple[list[str], dict[str, str]]] = []

    def call(cmd: list[str], env: dict[str, str]) -> int:
        calls.append((cmd, env))
        return 0

    monkeypatch.setattr(subprocess, "call", call)
    assert dist.launch(1, ["train", "--out", "x"]) == 0
    cmd, env = calls[0]
    assert cmd == [sys.executable, "-m", "harness.cli", "train", "--out", "x"]
    assert {k: env[k] for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR")} == {
        "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
    }  # fmt: skip
    assert dist.launch(2, ["train"]) == 0
    assert calls[1][0][:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert calls[1][0][calls[1][0].index("--num_processes") + 1] == "2"


def test_a_sharded_strategy_never_falls_back_to_ddp_quietly() -> None:
    from types import SimpleNamespace

    from adapters.distributed import check_engaged, check_strategy
    from adapters.recipe import load_recipe

    # On CPU accelerate would run plain DDP under an FSDP recipe: refused before any launch.
    check_strategy(load_recipe("cpu"))
    with pytest.raises(HarnessError, match=r"fsdp needs CUDA GPUs .*distributed\.strategy=ddp"):
        check_strategy(load_recipe("full-fsdp"))
    ddp_trainer = SimpleNamespace(is_fsdp_enabled=False, is_deepspeed_enabled=False)
    with pytest.raises(HarnessError, match="fsdp was not taken up by accelerate"):
        check_engaged(load_recipe("full-fsdp"), ddp_trainer)
    check_engaged(load_recipe("cpu"), ddp_trainer)
    check_engaged(
        load_recipe("full-fsdp"), SimpleNamespace(is_fsdp_enabled=True, is_deepspeed_enabled=False)
    )
