"""Training on more than one process: launching under accelerate, and knowing one's rank.

``harness train --num-processes N`` re-runs the same command under ``accelerate launch``
(`launch_command`), which starts N processes through torchrun: DDP with NCCL on GPUs, gloo on
CPU. ``accelerate launch -m harness.cli train ...`` works the same way by hand (with an
``accelerate config`` of the user's, FSDP or DeepSpeed included). Inside each process the
trainer (transformers' ``Trainer``) reads the rank from torchrun's variables and splits every
epoch's examples across ranks (a distributed sampler: each example once per epoch); only rank
0 writes the adapter, its manifest and registry entry (`is_main_process`). The manifest records
`settings`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any


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


def settings(device: str) -> dict[str, Any]:
    """What the manifest records about how the training was spread."""
    w = world()
    distributed = {
        "world_size": w.size,
        "strategy": "ddp" if w.size > 1 else "single",
        "backend": ("nccl" if device == "cuda" else "gloo") if w.size > 1 else None,
    }
    if os.environ.get("ACCELERATE_USE_FSDP") == "true":
        distributed["strategy"] = "fsdp"
    if os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
        distributed["strategy"] = "deepspeed"
    return distributed


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


def launch(num_processes: int, argv: list[str]) -> int:
    """Runs the training command on ``num_processes`` processes; their exit code."""
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(launch_command(num_processes, argv), env=env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
