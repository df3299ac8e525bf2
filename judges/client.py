"""Sending judge prompts: endpoint resolution, a launched local server, caching, counts.

`JudgeClient` resolves a `JudgeConfig` to an endpoint once (launching a vLLM server on
127.0.0.1 for ``--judge local``, shared by every judge in the process and stopped at exit by
`harness.backends.vllm_server`), then sends batches of chat requests through
`harness.backends.openai_client.OpenAIClient` (bounded concurrency, timeouts, retries) at
temperature 0 (or a template's own temperature, one seed per draw) with structured output.
Every successful reply is cached in the harness
`RequestCache` under a key holding the judge identity, the template hash and the exact
messages, so re-scoring the same outputs makes no judge calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness import RequestCache, ResolvedModel, default_cache_path, request_key, resolve_model
from harness.backends.openai_client import (
    ClientConfig,
    CompletionRequest,
    OpenAIClient,
    RequestCounts,
)
from judges.config import OPENAI_URL, JudgeConfig

if TYPE_CHECKING:
    from harness.backends.vllm_server import VLLMServer

_SERVERS: dict[str, tuple[VLLMServer, ResolvedModel]] = {}
NO_RESULT = "the judge client returned no result for this request"
_SERVERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class JudgeRequest:
    """One judge call.

    Attributes:
        messages: Chat messages (system + user).
        template_sha256: Hash of the template the messages came from (part of the cache key).
        schema: JSON schema of the verdict (used with ``json_schema`` structured output).
        format: The template's declared verdict format ("regex": free text, no structured
            output; "json_object" / "json_schema"); None: the judge's configured one.
        temperature: Sampling temperature (the template's; 0: greedy).
        seed: Which draw this is (``samples: k`` sends seeds 0 .. k-1; part of the cache key).
        max_tokens: The verdict's budget (None: the judge's).
        top_logprobs: Ask for this many alternatives per token (``score: expected``).
    """

    messages: list[dict[str, str]]
    template_sha256: str
    schema: dict[str, Any] | None = None
    format: str | None = None
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int | None = None
    top_logprobs: int | None = None

    def settings(self) -> dict[str, Any]:
        """The settings beyond one plain verdict, for the cache key (absent when default, so
        earlier keys stay valid)."""
        out: dict[str, Any] = {}
        if self.seed:
            out["seed"] = self.seed
        if self.top_logprobs:
            out["top_logprobs"] = self.top_logprobs
        return out


@dataclass
class JudgeReply:
    """The judge's raw reply (parsed by the caller) or the error that prevented one."""

    text: str = ""
    error: str | None = None
    finish_reason: str = "stop"
    cached: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    logprobs: list[tuple[str, dict[str, float]]] | None = None


@dataclass
class JudgeStats(RequestCounts):
    """Counts across a client's lifetime, for the run record."""

    cache_hits: int = 0
    model_calls: int = 0
    errors: int = 0
    truncated: int = 0


@dataclass
class Endpoint:
    """A resolved judge endpoint: where to send requests and what to record."""

    base_url: str
    model: str
    identity: dict[str, Any] = field(default_factory=dict)
    require_key: bool = False


def local_server(
    model: str | None,
    kv_cache_gib: int = 1,
    max_model_len: int = 4096,
    startup_timeout: float = 1200.0,
) -> tuple[VLLMServer, ResolvedModel]:
    """A running vLLM server for a local judge model (and that model), started once per process.

    Args:
        model: Bundled model name, folder or hub id (None: the bundled model).
        kv_cache_gib: KV cache size on CPU.
        max_model_len: Context length.
        startup_timeout: Seconds to wait for the server to answer.
    """
    from harness.backends.vllm_server import (
        JUDGE_GPU_MEMORY_UTILIZATION,
        ServerConfig,
        VLLMServer,
    )

    resolved = resolve_model(model)
    key = str(resolved.path)
    with _SERVERS_LOCK:
        entry = _SERVERS.get(key)
        if entry is None or not entry[0].running:
            name = "judge-" + resolved.path.name
            server = VLLMServer(
                ServerConfig(
                    model=key,
                    served_name=name,
                    kv_cache_gib=kv_cache_gib,
                    max_model_len=max_model_len,
                    startup_timeout=startup_timeout,
                    gpu_memory_utilization=JUDGE_GPU_MEMORY_UTILIZATION,
                )
            )
            server.start()
            entry = _SERVERS[key] = (server, resolved)
    return entry


def resolve_endpoint(config: JudgeConfig) -> Endpoint:
    """Turns a configuration into a concrete endpoint (may launch a local server)."""
    config.validate()
    if config.local:
        warm = _warm_endpoint(config)
        if warm is not None:
            return warm
        server, resolved = local_server(
            config.model,
            config.server_kv_cache_gib,
            config.server_max_model_len,
            config.server_startup_timeout,
        )
        identity = {
            "model": server.config.served_name,
            "source": "local-vllm",
            "model_id": resolved.id,
            "weight_sha256": resolved.sha256,
        }
        return Endpoint(server.base_url, server.config.served_name, identity)
    base_url = (config.base_url or OPENAI_URL).rstrip("/")
    require_key = config.base_url is None
    model = config.model or _first_served_model(base_url, config)
    return Endpoint(
        base_url, model, {"model": model, "source": "remote", "base_url": base_url}, require_key
    )


def _warm_endpoint(config: JudgeConfig) -> Endpoint | None:
    """A warm server (``harness serve start``) of the local judge model, if one is up."""
    from harness.serve import find_warm

    resolved = resolve_model(config.model)
    warm = find_warm(str(resolved.path), config.server_max_model_len)
    if warm is None:
        return None
    identity = {
        "model": warm.name,
        "source": "local-vllm",
        "model_id": resolved.id,
        "weight_sha256": resolved.sha256,
        "warm_server": warm.base_url,
    }
    return Endpoint(warm.base_url, warm.name, identity)


def _first_served_model(base_url: str, config: JudgeConfig) -> str:
    """The model a server serves, when the user gave only its URL."""
    import openai

    from harness import BackendError

    try:
        client = openai.OpenAI(
            base_url=base_url,
            api_key=ClientConfig(base_url, config.api_key_env).api_key(),
            timeout=30,
            max_retries=2,
        )
        models = [m.id for m in client.models.list().data]
    except openai.OpenAIError as exc:
        raise BackendError(
            f"cannot list models at {base_url} ({exc}); pass --judge-model"
        ) from None
    if not models:
        raise BackendError(f"{base_url} serves no models; pass --judge-model")
    return models[0]


class JudgeClient:
    """Sends judge requests for one configuration; resolves the endpoint on first use.

    Args:
        config: Which judge and how.
        cache: Request cache (None: the harness default cache, unless ``config.cache`` is off).
    """

    def __init__(self, config: JudgeConfig, cache: RequestCache | None = None) -> None:
        self.config = config
        self._cache = cache
        self._endpoint: Endpoint | None = None
        self._client: OpenAIClient | None = None
        self.stats = JudgeStats()

    @property
    def endpoint(self) -> Endpoint:
        """The resolved endpoint (launches a local judge server the first time)."""
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.config)
        return self._endpoint

    @property
    def openai(self) -> OpenAIClient:
        """The bounded, retrying client for the endpoint."""
        if self._client is None:
            ep, cfg = self.endpoint, self.config
            self._client = OpenAIClient(
                ClientConfig(
                    ep.base_url,
                    api_key_env=cfg.api_key_env,
                    require_key=ep.require_key,
                    concurrency=cfg.concurrency,
                    timeout=cfg.timeout,
                    max_retries=cfg.max_retries,
                )
            )
        return self._client

    @property
    def cache(self) -> RequestCache | None:
        if self._cache is None and self.config.cache:
            self._cache = RequestCache(default_cache_path())
        return self._cache

    def identity(self) -> dict[str, Any]:
        """What goes into the run record: the judge model and how it was asked."""
        return {
            **self.endpoint.identity,
            "temperature": 0.0,
            "max_tokens": self.config.max_tokens,
            "response_format": self.config.structured,
        }

    def _response_format(
        self, schema: dict[str, Any] | None, declared: str | None = None
    ) -> dict[str, Any] | None:
        configured = self.config.structured
        if configured == "none" or declared == "regex":  # a server without it / free text
            return None
        mode = declared or configured
        if mode == "json_schema" and schema is not None:
            return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}
        if mode in ("json_object", "json_schema"):
            return {"type": "json_object"}
        return None

    def key(self, request: JudgeRequest) -> str:
        """The cache key: judge identity, template hash, messages and decoding settings."""
        ident = self.endpoint.identity
        return request_key(
            kind="judge",
            judge=ident.get("weight_sha256") or ident,
            model=self.endpoint.model,
            template=request.template_sha256,
            messages=request.messages,
            max_tokens=request.max_tokens or self.config.max_tokens,
            temperature=request.temperature,
            response_format=self._response_format(request.schema, request.format),
            **request.settings(),
        )

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Answers every request (cached ones without a call); failures become error replies."""
        keys = [self.key(r) for r in requests]
        found = self.cache.get_many(keys) if self.cache is not None else {}
        replies: list[JudgeReply | None] = [None] * len(requests)
        todo: list[int] = []
        for i, k in enumerate(keys):
            if k in found:
                hit = found[k]
                replies[i] = JudgeReply(
                    hit["text"],
                    None,
                    hit.get("finish_reason", "stop"),
                    cached=True,
                    logprobs=[(t, top) for t, top in hit.get("logprobs") or []] or None,
                )
            else:
                todo.append(i)
        self.stats.requests += len(requests)
        self.stats.cache_hits += len(requests) - len(todo)
        calls = [
            CompletionRequest(
                model=self.endpoint.model,
                prompt=requests[i].messages,
                max_tokens=requests[i].max_tokens or self.config.max_tokens,
                temperature=requests[i].temperature,
                seed=requests[i].seed,
                response_format=self._response_format(requests[i].schema, requests[i].format),
                top_logprobs=requests[i].top_logprobs,
            )
            for i in todo
        ]
        for j, res in self.openai.run(calls):
            i = todo[j]
            finish = res.finish_reasons[0] if res.finish_reasons else "stop"
            replies[i] = JudgeReply(
                res.text,
                res.error,
                "error" if res.error else finish,
                tokens_in=res.tokens_in,
                tokens_out=res.tokens_out,
                logprobs=res.logprobs,
            )
            self.stats.model_calls += 1
            self.stats.errors += res.error is not None
            self.stats.truncated += finish == "length"
            self.stats.tokens_in += res.tokens_in
            self.stats.tokens_out += res.tokens_out
            if res.error is None and self.cache is not None:
                entry: dict[str, Any] = {"text": res.text, "finish_reason": finish}
                if res.logprobs is not None:
                    entry["logprobs"] = res.logprobs
                self.cache.put_many(
                    {keys[i]: entry},
                    backend="judge",
                    model=self.endpoint.model,
                )
        out: list[JudgeReply] = []
        for r in replies:
            if r is None:  # the client ended without answering it: a failed judgement, counted
                self.stats.errors += 1
                r = JudgeReply(error=NO_RESULT, finish_reason="error")
            out.append(r)
        return out


class UsesJudge:
    """Mixin for scorers that call a judge: an explicit `JudgeConfig`, or the run context's
    judge with the scorer's own overrides on top, and a client built on first use."""

    config: JudgeConfig | None
    overrides: dict[str, Any]
    _client: JudgeClient | None

    def _use_judge(
        self, config: JudgeConfig | None, client: JudgeClient | None, overrides: Any
    ) -> None:
        self.config = config
        self._client = client
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}

    def _resolve_judge(self, default: Any, **extra: Any) -> JudgeConfig:
        """Fixes the judge once (validated, so a missing judge fails before any model call)."""
        if self.config is None:
            self.config = JudgeConfig.resolve(default, {**self.overrides, **extra})
        return self.config

    @property
    def client(self) -> JudgeClient:
        """The judge client (built once the scorer is bound to a judge)."""
        if self._client is None:
            if self.config is None:
                raise RuntimeError("judge not configured; call preflight(ctx) first")
            self._client = JudgeClient(self.config)
        return self._client
