"""The backend interface: render prompts, generate, score choice log-likelihoods.

A backend serves one base model and, optionally, LoRA adapters on top of it. The runner asks
it to ``render`` each prompt once (so the exact string or messages sent is recorded and cached)
and then streams results from ``generate`` / ``loglikelihood`` as ``(index, result)`` pairs,
committing each to the request cache as it arrives.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._registry import Registry
from harness._types import Generation, GenerationParams, Prompt

if TYPE_CHECKING:
    from harness._models import ResolvedModel

#: What a backend sends: a string (completion prompt) or {"role", "content"} chat messages.
Rendered = str | list[dict[str, str]]


@dataclass(frozen=True)
class AdapterSpec:
    """A LoRA adapter to evaluate on top of the backend's base model.

    Attributes:
        name: Name it is served and recorded under.
        path: PEFT adapter folder (``adapter_config.json`` + weights).
        sha256: Hash of the adapter weights.
        base_model: ``base_model_name_or_path`` from ``adapter_config.json``.
        rank: LoRA rank ``r``.
        target_modules: Modules the adapter patches.
        base_model_sha256: Weight hash of the base it was trained on, if its manifest says.
    """

    name: str
    path: Path
    sha256: str
    base_model: str | None = None
    rank: int | None = None
    target_modules: tuple[str, ...] = ()
    base_model_sha256: str | None = None


@dataclass
class ModelInfo:
    """What a backend serves, for the run record."""

    id: str
    path: str | None
    weight_sha256: str | None
    dtype: str | None = None
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, resolved: ResolvedModel, dtype: str | None, device: str | None, **extra: Any
    ) -> ModelInfo:
        """A resolved model's info: its id, folder and weights' sha256, plus ``extra``."""
        return cls(
            id=resolved.id,
            path=str(resolved.path),
            weight_sha256=resolved.sha256,
            dtype=dtype,
            device=device,
            extra=extra,
        )


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score ``continuation`` given ``context`` (both already rendered strings)."""

    context: str
    continuation: str


@dataclass
class Loglikelihood:
    logprob: float
    tokens: int = 0
    error: str | None = None


class Backend(abc.ABC):
    """A model server. Subclasses are registered in `backends` by name."""

    name: str = "backend"
    supports_loglikelihood: bool = False
    supports_adapters: bool = False
    #: Distributions whose versions can change this backend's answers (part of the cache key).
    engine_packages: tuple[str, ...] = ()
    #: Context length where the engine truncates or refuses longer prompts (None: it does not).
    max_model_len: int | None = None

    def __init__(self, chat_template: bool | None = None, batch_size: int | None = None) -> None:
        self.chat_template = chat_template
        self.batch_size = batch_size

    @abc.abstractmethod
    def model_info(self) -> ModelInfo:
        """The served base model."""

    @abc.abstractmethod
    def render(self, prompt: Prompt) -> Rendered:
        """The exact prompt sent to the model (chat template applied or plain text)."""

    @abc.abstractmethod
    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        """Yields ``(index into prompts, generation)`` as results become available.

        Failures are yielded as generations with ``error`` set, never raised, so the runner
        can count them; only unrecoverable errors (model cannot load) raise.
        """

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Loglikelihood]]:
        """Yields ``(index, summed log-probability of the continuation)``."""
        raise NotImplementedError(f"backend {self.name!r} cannot score log-likelihoods")

    def cache_identity(self) -> dict[str, Any]:
        """Everything besides backend kind, model, adapter, prompt and sampling (seed
        included) that can change an answer: joins every request's cache key, so a cache
        never serves an answer made under other settings (dtype, device class, engine and
        library versions, quantization, context length, tokenizer and chat template)."""
        info = self.model_info()
        kwargs = self.template_settings().get("chat_template_kwargs")
        extra = {"chat_template_kwargs": kwargs} if kwargs else {}  # old keys stay valid
        return extra | {
            "dtype": info.dtype,
            "device": (info.device or "").split(":")[0] or None,
            "versions": installed_versions(self.engine_packages),
            "max_model_len": self.max_model_len,
            "chat_template": bool(self.chat_template),
            **model_files_identity(info.path),
        }

    def chat_template_source(self) -> str | None:
        """The chat template's text (None: none known), where default reasoning markers are
        looked for."""
        return None

    def reasoning_markers(self) -> tuple[str, str] | None:
        """The model's own reasoning markers (a ``reasoning_markers`` key), if it names any."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` by the model's tokenizer (None: no tokenizer here)."""
        return None

    def template_settings(self) -> dict[str, Any]:
        """``chat_template_kwargs`` given and whether a system turn had to be merged into the
        first user turn (recorded in every run)."""
        return {"chat_template_kwargs": {}, "system_merged": False}

    def context_length(self) -> int | None:
        """Tokens of prompt plus generation the model takes (None: unknown here)."""
        return self.max_model_len

    def prompt_tokens(self, rendered: Rendered) -> int | None:
        """Tokens of a rendered prompt as it would be sent (None: cannot tell here)."""
        return None

    def truncate_left(self, rendered: Rendered, keep: int) -> Rendered:
        """The rendered prompt's last ``keep`` tokens (``--truncate-prompt left``)."""
        from harness._errors import BackendError

        raise BackendError(f"backend {self.name!r} cannot cut prompts; drop --truncate-prompt")

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Checks and loads adapters before any generation (raise ModelError on mismatch)."""
        if adapters and not self.supports_adapters:
            from harness._errors import ModelError

            raise ModelError(
                f"backend {self.name!r} cannot serve LoRA adapters; use --backend hf or vllm"
            )

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Releases the model, engine or server."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Files besides the weights that change what a model answers: how text becomes tokens, the
#: chat template, and the generation defaults (end-of-sequence tokens).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


def model_files_identity(path: str | None) -> dict[str, Any]:
    """The quantization (``config.json``'s ``quantization_config``) and a sha256 over the
    tokenizer, chat-template and generation-config files of a local model folder; both None
    when ``path`` is not a folder (remote or scripted models)."""
    import hashlib
    import json

    folder = Path(path) if path else None
    if folder is None or not folder.is_dir():
        return {"quantization": None, "tokenizer_sha256": None}
    quant = None
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        quant = config.get("quantization_config") if isinstance(config, dict) else None
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    for name in TOKENIZER_FILES:
        file = folder / name
        if file.is_file():
            h.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    return {"quantization": quant, "tokenizer_sha256": h.hexdigest()}


def installed_versions(packages: Sequence[str]) -> dict[str, str]:
    """Installed version of each distribution in ``packages`` (absent ones are left out)."""
    from importlib import metadata

    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


backends: Registry[Any] = Registry("backend")
backends.register("hf", "harness.backends.hf:HFBackend")
backends.register("vllm", "harness.backends.vllm:VLLMBackend")
backends.register("vllm-server", "harness.backends.openai:VLLMServerBackend")
backends.register("openai", "harness.backends.openai:OpenAIBackend")
backends.register("fake", "harness.backends.fake:FakeBackend")
