"""Training on more than one process: launching under accelerate, and knowing one's rank.

``harness train --num-processes N`` re-runs the same command under ``accelerate launch``
(`launch_command`), which starts N processes through torchrun: DDP with NCCL on GPUs, gloo on
CPU. ``accelerate launch -m harness.cli train ...`` works the same way by hand (with an
``accelerate config`` of the user's, FSDP or DeepSpeed included). Inside each process the
trainer (transformers' ``Trainer``) reads the rank from torchrun's variables and splits every
epoch's examples across ranks (a distributed sampler: each example once per epoch); only rank
0 writes the adapter, its manifest and registry entry (`is_main_process`). The manifest records
`settings`.

A recipe's ``distributed.strategy`` of ``fsdp`` or ``deepspeed`` becomes the trainer's ``fsdp`` /
``fsdp_config`` or ``deepspeed`` arguments (`strategy_args`), from which transformers builds
accelerate's ``FullyShardedDataParallelPlugin`` or ``DeepSpeedPlugin`` in every process; the
launch itself stays the same torchrun launch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import HarnessError

if TYPE_CHECKING:
    from adapters.recipe import Recipe


@dataclass(frozen=True)
class World:
    """This process's place in a (possibly one-process) training run."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """From torchrun's ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` (set by accelerate); else one."""
    env = os.environ
    return World(
        rank=int(env.get("RANK", 0)),
        local_rank=int(env.get("LOCAL_RANK", 0)),
        size=int(env.get("WORLD_SIZE", 1)),
    )


def is_main_process() -> bool:
    """Whether this process writes outputs (rank 0, or the only process)."""
    return world().main


def settings(device: str, recipe: Recipe | None = None) -> dict[str, Any]:
    """What the manifest records about how the training was spread: world size, strategy,
    process-group backend, the recipe's sharding settings and the global batch."""
    w = world()
    distributed: dict[str, Any] = {
        "world_size": w.size,
        "strategy": "ddp" if w.size > 1 else "single",
        "backend": ("nccl" if device == "cuda" else "gloo") if w.size > 1 else None,
    }
    # A user's own `accelerate config` (accelerate launch -m harness.cli train ...).
    if os.environ.get("ACCELERATE_USE_FSDP") == "true":
        distributed["strategy"] = "fsdp"
    if os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
        distributed["strategy"] = "deepspeed"
    if recipe is None:
        return distributed
    d = recipe.distributed
    if d.strategy != "ddp":
        distributed["strategy"] = d.strategy
        distributed["cpu_offload"] = d.cpu_offload
    if d.strategy == "fsdp":
        distributed["sharding"] = d.sharding or "full_shard"
    if d.strategy == "deepspeed":
        distributed["zero_stage"] = d.zero_stage or 2
    distributed["global_batch_size"] = recipe.batch_size * recipe.grad_accum * w.size
    return distributed


def check_strategy(recipe: Recipe) -> None:
    """Fails in one line, before any launch, when the recipe's strategy cannot run here: a
    package not installed, or no GPU (on CPU accelerate quietly runs plain DDP instead, and the
    manifest would say otherwise)."""
    import importlib.util

    strategy = recipe.distributed.strategy
    if strategy == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise HarnessError(
            "distributed.strategy deepspeed needs DeepSpeed: pip install deepspeed "
            "(CUDA; or use a recipe with distributed.strategy fsdp, e.g. --recipe full-fsdp)"
        )
    if strategy != "ddp":
        import torch

        if not torch.cuda.is_available():
            raise HarnessError(
                f"distributed.strategy {strategy} needs CUDA GPUs (on CPU accelerate runs "
                "DDP); set distributed.strategy=ddp"
            )


def check_engaged(recipe: Recipe, trainer: Any) -> None:
    """Fails when the trainer did not take up the recipe's sharded strategy (accelerate falls
    back to DDP quietly, e.g. on CPU): the weights would not be sharded as the manifest says."""
    want = recipe.distributed.strategy
    engaged = {"fsdp": trainer.is_fsdp_enabled, "deepspeed": trainer.is_deepspeed_enabled}
    if want in engaged and not engaged[want]:
        raise HarnessError(
            f"distributed.strategy {want} was not taken up by accelerate (it ran DDP); run on "
            "CUDA GPUs or set distributed.strategy=ddp"
        )


def needs_launcher(recipe: Recipe, num_processes: int) -> bool:
    """Whether this process must start the training under accelerate: several processes, or a
    sharded strategy (FSDP/DeepSpeed need a process group even on one GPU); not when it already
    runs under a launcher."""
    if "LOCAL_RANK" in os.environ or world().size > 1:
        return False
    return num_processes > 1 or recipe.distributed.strategy != "ddp"


def qlora_device_map() -> dict[str, int]:
    """Where a 4-bit base model is loaded: the whole model on this process's own GPU
    (``LOCAL_RANK``), so N processes on a node use N GPUs rather than all piling onto GPU 0."""
    return {"": world().local_rank}


def strategy_args(recipe: Recipe) -> dict[str, Any]:
    """The trainer arguments for the recipe's strategy (none for DDP, which needs none).

    FSDP: FSDP2 wrapping each transformer layer (the model's ``_no_split_modules``), a full
    state dict gathered on save (a standard model or adapter folder), activation checkpointing
    in place of ``gradient_checkpointing``. DeepSpeed: a ZeRO config whose batch, precision and
    clipping are ``auto`` (filled from the recipe by transformers).
    """
    d = recipe.distributed
    if d.strategy == "fsdp":
        return {
            "fsdp": True,
            "fsdp_config": {
                "version": 2,
                "reshard_after_forward": (d.sharding or "full_shard") == "full_shard",
                "cpu_offload": d.cpu_offload,
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "state_dict_type": "FULL_STATE_DICT",
                "activation_checkpointing": recipe.checkpointing,
            },
        }
    if d.strategy == "deepspeed":
        return {"deepspeed": deepspeed_config(d.zero_stage or 2, d.cpu_offload)}
    return {}


def deepspeed_config(stage: int, cpu_offload: bool) -> dict[str, Any]:
    """A ZeRO config in the shape of transformers' documented examples (``auto`` values are
    filled from the trainer's arguments)."""
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True}
    if cpu_offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if stage == 3:
        # Saving gathers the sharded weights into one standard 16-bit state dict.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        # The trainer's own optimiser (recipe.optim) runs on the offloaded state.
        "zero_force_ds_cpu_optimizer": False,
    }


def launch_command(num_processes: int, argv: list[str], port: int | None = None) -> list[str]:
    """The ``accelerate launch`` argv running ``harness.cli`` with ``argv`` on N processes.

    ``--multi_gpu`` is accelerate's name for its torchrun launcher; on a machine without CUDA
    the trainer then runs each process on CPU with gloo.
    """
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    cmd += ["--num_processes", str(num_processes), "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--main_process_port", str(port or _free_port())]
    return [*cmd, "-m", "harness.cli", *argv]


def one_process_world(port: int | None = None) -> dict[str, str]:
    """The variables torchrun gives a world of one process, for a sharded strategy (FSDP and
    DeepSpeed need a process group) on one GPU: accelerate's launcher refuses ``--multi_gpu``
    with fewer than 2 processes."""
    return {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port or _free_port()),
    }


def launch(num_processes: int, argv: list[str]) -> int:
    """Runs the training command on ``num_processes`` processes; their exit code."""
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    if num_processes == 1:
        cmd = [sys.executable, "-m", "harness.cli", *argv]
        return subprocess.call(cmd, env={**env, **one_process_world()})
    return subprocess.call(launch_command(num_processes, argv), env=env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
