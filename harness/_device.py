"""One place that picks the device, the concrete dtype and the memory budget of a run.

Every backend asks these functions, so an HF and a vLLM backend in one run (``harness parity``,
a local judge) use the same device class and the same concrete dtype, and the run record and
the request cache key say which: never "auto".

Dtype rule: float32 on CPU (the fast dtype there); on CUDA bfloat16 only where the GPU has
native bf16 (compute capability 8.0 or newer: A100, L4, H100, RTX 30xx+), else float16.
``torch.cuda.is_bf16_supported()`` is not used: it also says yes on GPUs that only emulate
bf16 (T4, V100), where it is several times slower than float16.

Memory rule (``auto_batch_size``): the KV cache of one row holding ``tokens`` tokens takes
``tokens × kv_bytes_per_token`` bytes, where ``kv_bytes_per_token = 2 (keys and values) ×
layers × kv_heads × head_dim × bytes per element``. Of the device's free memory,
``MEMORY_HEADROOM`` is kept back for activations, logits and the allocator's fragmentation, and
the rest is divided by the size of one row. On CPU memory is not measured (the fixed CPU
default applies).
"""

from __future__ import annotations

import gc
from typing import Any

from harness._errors import ModelError

DTYPES = ("float32", "bfloat16", "float16")
#: Fraction of free device memory the KV budget leaves for activations and fragmentation.
MEMORY_HEADROOM = 0.25
#: The largest automatic batch: past this, decode steps stop getting faster per token.
MAX_AUTO_BATCH = 256
#: GiB left free on the device when vLLM's share is derived from free memory.
VLLM_MARGIN_GIB = 1.0
#: The smallest useful share of the device for a vLLM engine.
MIN_VLLM_FRACTION = 0.05
GIB = 1024**3


def cuda_available() -> bool:
    """Whether a CUDA device is visible (imports torch)."""
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str | None = "auto") -> str:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"``: ``auto`` is CUDA when a GPU is visible.

    Raises:
        ModelError: An unknown device string, or CUDA asked for on a machine without it.
    """
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not cuda_available():
            raise ModelError(f"--device {device}: no CUDA device is visible; use --device cpu")
        return device
    raise ModelError(f"--device {device!r} is not one of auto, cpu, cuda, cuda:N")


def device_index(device: str) -> int:
    """The CUDA ordinal of ``device`` (``cuda`` is 0)."""
    _, _, n = device.partition(":")
    return int(n) if n else 0


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bf16 in hardware (CUDA compute capability ≥ 8.0)."""
    if not device.startswith("cuda"):
        return False
    import torch

    major, _minor = torch.cuda.get_device_capability(device_index(device))
    return int(major) >= 8


def resolve_dtype(dtype: str | None, device: str) -> str:
    """The concrete dtype for ``device``: ``dtype`` as given, or the rule in the module doc.

    Raises:
        ModelError: An unknown dtype.
    """
    dtype = (dtype or "auto").strip().lower()
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}
    dtype = aliases.get(dtype, dtype)
    if dtype == "auto":
        if not device.startswith("cuda"):
            return "float32"
        return "bfloat16" if native_bf16(device) else "float16"
    if dtype not in DTYPES:
        raise ModelError(f"--dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return dtype


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a concrete dtype."""
    return 4 if dtype == "float32" else 2


def mem_info(device: str) -> tuple[int, int] | None:
    """``(free, total)`` bytes on a CUDA ``device``; None on CPU."""
    if not device.startswith("cuda"):
        return None
    import torch

    free, total = torch.cuda.mem_get_info(device_index(device))
    return int(free), int(total)


def kv_bytes_per_token(config: Any, dtype: str) -> int:
    """Bytes of keys and values one token takes in the KV cache of a model with ``config``."""
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    return 2 * layers * kv_heads * head_dim * dtype_bytes(dtype)


def auto_batch_size(free_bytes: int, per_token: int, tokens_per_row: int) -> int:
    """Rows whose KV cache fits: ``(1 - MEMORY_HEADROOM) × free / (per_token × tokens_per_row)``.

    Clamped to 1 … ``MAX_AUTO_BATCH``; at least 1 so a run always tries (and, if even one row
    does not fit, fails with the out-of-memory error instead of a made-up zero).
    """
    row = max(1, per_token * max(1, tokens_per_row))
    rows = int(free_bytes * (1 - MEMORY_HEADROOM)) // row
    return max(1, min(MAX_AUTO_BATCH, rows))


def vllm_memory_fraction(requested: float, free: int, total: int) -> float:
    """The ``gpu_memory_utilization`` a vLLM engine can get beside what already holds memory.

    vLLM refuses to start when ``requested × total`` exceeds the free memory. When another
    model (the HF backend of ``harness parity``, a judge server) holds part of the device, the
    share shrinks to what is free less ``VLLM_MARGIN_GIB``, rounded down to 0.01.

    Raises:
        ModelError: Less than ``MIN_VLLM_FRACTION`` of the device is left.
    """
    fits = (free - VLLM_MARGIN_GIB * GIB) / total
    fraction = min(requested, int(fits * 100) / 100)
    if fraction < MIN_VLLM_FRACTION:
        raise ModelError(
            f"only {free / GIB:.1f} of {total / GIB:.1f} GiB are free on the GPU; vLLM needs at "
            "least 5%: free the other model (or run it on another --device)"
        )
    return fraction


def release_cuda_memory() -> None:
    """Return cached CUDA blocks to the device (after a model is dropped): gc, then
    ``torch.cuda.empty_cache()``; a no-op without CUDA."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_oom(e: BaseException) -> bool:
    """Whether ``e`` is PyTorch's out-of-memory error (CUDA or other accelerators)."""
    import torch

    return isinstance(e, torch.OutOfMemoryError)
