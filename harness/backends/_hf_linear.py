"""Linear layers on oneDNN's prepacked CPU kernel while the decoder runs.

A decoding step multiplies a few dozen token vectors by every weight matrix. PyTorch's default
CPU path (MKL ``sgemm`` on the weight as stored) is slow at that shape; oneDNN with the weight
reordered once into its blocked layout (what ``torch.compile`` does on CPU with frozen weights)
was 1.5-2.7× faster on this 2-core machine for SmolLM2's matrices at 1-64 rows (the 49k-row
LM head: 41 → 15 ms at 18 rows). Results agree with ``F.linear`` to float rounding (1e-4
absolute on outputs of magnitude ~20), as vLLM's own CPU kernels do.

The packed copy is kept on the module (keyed by the weight's storage and version, so a changed
weight is packed again) and costs the weights' size once more; models whose weights would take
more than a quarter of the available memory keep the default path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

_ATTR = "_harness_packed"
_MEMORY_SHARE = 4  # pack only when the weights take at most 1/4 of the available memory


@contextmanager
def packed_linears(model: Any, device: Any) -> Iterator[None]:
    """For the duration, every ``nn.Linear`` of ``model`` on CPU runs the prepacked kernel."""
    linears = _linears(model) if _usable(model, device) else []
    patched = []
    try:
        for module in linears:
            packed = _packed(module)
            if packed is None:
                continue
            module.forward = partial(_forward, packed, module.bias)
            patched.append(module)
        yield
    finally:
        for module in patched:
            del module.forward  # the instance attribute: the class's forward again


def _forward(packed: Any, bias: Any, x: Any) -> Any:
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


def _linears(model: Any) -> list[Any]:
    import torch

    return [
        m
        for m in model.modules()
        if type(m) is torch.nn.Linear and m.weight.dtype in (torch.float32, torch.bfloat16)
    ]


def _usable(model: Any, device: Any) -> bool:
    import torch

    if str(device) != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    if not hasattr(torch.ops.mkldnn, "_reorder_linear_weight"):
        return False
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    available = _available_memory()
    return available is None or size * _MEMORY_SHARE <= available


def _packed(module: Any) -> Any:
    """The module's weight in oneDNN's layout, packed once per weight version."""
    import torch

    w = module.weight
    key = (w.data_ptr(), w._version, w.dtype, tuple(w.shape))
    cached = getattr(module, _ATTR, None)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with torch.no_grad():
            packed = torch.ops.mkldnn._reorder_linear_weight(w.detach(), None)
    except RuntimeError:  # a dtype or shape oneDNN does not take: keep the default path
        return None
    object.__setattr__(module, _ATTR, (key, packed))
    return packed


def _available_memory() -> int | None:
    """MemAvailable in bytes (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
