"""The backends' constructor options as typed values: one shared base, one subclass each.

`BackendOptions` declares the keywords every backend takes (model, chat template, batch size,
chat-template keywords) once; each backend's subclass adds its own (``HFOptions.device``,
``VLLMOptions.max_model_len``, ...) with its defaults. `harness.backends.build_backend` checks
the names the CLI set against the chosen backend's options type before any model loads, so an
option it does not take is one clear line, and builds the value the backend is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from harness._models import ResolvedModel

_O = TypeVar("_O", bound="BackendOptions")


@dataclass(frozen=True, kw_only=True)
class BackendOptions:
    """The keywords every backend takes.

    Attributes:
        model: Bundled model name, local folder, hub id, served name or script (per backend).
        chat_template: Use the chat template (None: the backend's default).
        batch_size: Prompts per batch or call (None: the backend's default).
        chat_template_kwargs: Passed to every ``apply_chat_template`` call (or request).
    """

    model: str | None = None
    chat_template: bool | None = None
    batch_size: int | None = None
    chat_template_kwargs: Mapping[str, Any] | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The keyword names this options type takes, base ones first."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls: type[_O], options: _O | None, keywords: Mapping[str, Any]) -> _O:
        """``options`` as given, else built from constructor ``keywords`` (not both)."""
        if options is None:
            return cls(**keywords)
        if keywords:
            raise TypeError(f"pass {cls.__name__} or keywords, not both: {sorted(keywords)}")
        return options


@dataclass(frozen=True, kw_only=True)
class FakeOptions(BackendOptions):
    """The scripted fake backend takes only the shared keywords (``model``: the script)."""


@dataclass(frozen=True, kw_only=True)
class HFOptions(BackendOptions):
    """The transformers backend's own keywords (see `harness.backends.hf.HFBackend`)."""

    device: str = "auto"
    dtype: str = "auto"
    resolved: ResolvedModel | None = None
    continuous: bool = True


@dataclass(frozen=True, kw_only=True)
class VLLMOptions(BackendOptions):
    """The offline vLLM engine's own keywords (see `harness.backends.vllm.VLLMBackend`)."""

    dtype: str | None = None
    max_model_len: int = 2048
    kv_cache_gib: int = 1
    gpu_memory_utilization: float = 0.85
    max_lora_rank: int | None = None
    resolved: ResolvedModel | None = None
    device: str = "auto"
    engine_args: dict[str, Any] | None = None
