"""The vLLM offline-engine backend: one in-process ``LLM`` engine, base model plus LoRA adapters.

`VLLMBackend.prepare` checks the adapters against the base model and starts the engine once
with ``enable_lora`` and ``max_lora_rank``/``max_loras`` derived from the adapters'
``adapter_config.json``; each variant is then a ``LoRARequest`` on the same engine, so many
adapters cost one engine start. Prompts are rendered and tokenized exactly as the HF backend
does (same tokenizer, same chat template, same special-token rule), so both backends see the
identical input. Log-likelihoods come from vLLM's ``prompt_logprobs``; on CPU with LoRA enabled
they are scored one prompt per engine step (see `VLLMBackend._score`).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from harness._device import device_index
from harness._errors import BackendError, ModelError
from harness._models import resolve_model
from harness._types import Generation, GenerationParams, Prompt
from harness._waiting import waiting
from harness.backends import _cleanup
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Rendered,
)
from harness.backends._engine_args import (
    check_engine_args,
    engine_identity,
    in_process,
    offline_defaults,
    offline_kwargs,
)
from harness.backends._options import VLLMOptions
from harness.backends._vllm_common import (
    VLLM_LORA_RANKS,
    PromptRenderer,
    RendererMethods,
    default_dtype,
    gpu_memory_share,
    lora_limits,
    on_cpu,
    require_vllm,
    vllm_device,
    vllm_env,
)
from harness.lora._checks import check_adapters

# The backends whose engine core runs in this process: at most one (see _claim_process).
_IN_PROCESS: weakref.WeakSet[VLLMBackend] = weakref.WeakSet()


class VLLMBackend(RendererMethods, Backend):
    """vLLM's offline engine in this process.

    Args:
        options: A `VLLMOptions` (or the same as keywords); its fields:
        model: Bundled model name, local folder or hub id (None: the bundled model).
        chat_template: Use the tokenizer's chat template (None: when the tokenizer has one).
        batch_size: Prompts handed to the engine per call (None: all at once; vLLM batches).
        dtype: None/"auto": the run-wide concrete dtype (`harness._device.resolve_dtype`).
        max_model_len: Context length; small keeps the KV cache small.
        kv_cache_gib: KV cache size on CPU (``VLLM_CPU_KVCACHE_SPACE``).
        gpu_memory_utilization: Fraction of GPU memory vLLM may use (GPU only); cut to what
            is free when the engine starts (another model may hold part of the device).
        device: "auto", "cpu" or "cuda"; the in-process engine uses this process's first
            visible GPU, so "cuda:N" with N > 0 is refused (use ``--backend vllm-server``).
        max_lora_rank: Serve ranks up to this (None: the largest adapter rank).
        resolved: An already resolved model (skips resolving ``model``).
        engine_args: Further vLLM ``EngineArgs`` (``--tensor-parallel-size``, ``--engine-arg``);
            checked against vLLM, recorded, and the answer-changing ones join the cache key.
        chat_template_kwargs: Passed to every ``apply_chat_template`` call.
    """

    #: What the constructor takes (checked by `harness.backends.build_backend`).
    options_type = VLLMOptions
    name = "vllm"
    engine_packages = ("torch", "vllm", "vllm-cpu", "transformers")
    supports_loglikelihood = True
    supports_adapters = True

    def __init__(self, options: VLLMOptions | None = None, /, **keywords: Any) -> None:
        require_vllm()
        o = VLLMOptions.of(options, keywords)
        super().__init__(chat_template=o.chat_template, batch_size=o.batch_size)
        self.engine_args = check_engine_args(o.engine_args)
        self.device = vllm_device(o.device)
        if self.device.startswith("cuda:") and device_index(self.device) != 0:
            raise ModelError(
                f"--device {self.device}: the in-process vLLM engine runs on the first visible "
                f"GPU; use --backend vllm-server --device {self.device}, or "
                f"CUDA_VISIBLE_DEVICES={device_index(self.device)}"
            )
        self.dtype = default_dtype(o.dtype, self.device)
        self.resolved = o.resolved or resolve_model(o.model)
        self.max_model_len = self.engine_args.get("max_model_len", o.max_model_len)
        self.kv_cache_gib = o.kv_cache_gib
        self.gpu_memory_utilization = o.gpu_memory_utilization
        self.max_lora_rank = self.engine_args.get("max_lora_rank", o.max_lora_rank)
        self.renderer = PromptRenderer(self.resolved.path, o.chat_template, o.chat_template_kwargs)
        self.chat_template = self.renderer.chat_template
        self.llm: Any = None
        self._lora: dict[str, Any] = {}
        self.engine_start_s: float | None = None

    def model_info(self) -> ModelInfo:
        engine = {"engine_args": self.engine_args} if self.engine_args else {}
        return ModelInfo.of(
            self.resolved,
            self.dtype,
            self.device,
            engine="vllm-offline",
            max_model_len=self.max_model_len,
            weights_hash_s=self.resolved.hash_s,
            **engine,
        )

    def cache_identity(self) -> dict[str, Any]:
        effective = offline_defaults(self.device == "cpu", self.engine_args) | self.engine_args
        return super().cache_identity() | engine_identity(effective)

    def render(self, prompt: Prompt) -> Rendered:
        return self.renderer.render(prompt)

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Checks the adapters, then starts the engine once with all of them."""
        adapters = list(adapters)
        if self.llm is not None:
            unknown = [a.name for a in adapters if a.name not in self._lora]
            if unknown:
                raise ModelError(
                    f"adapters {', '.join(unknown)} were not given when the vLLM engine started; "
                    f"pass every adapter to one prepare() call"
                )
            return
        check_adapters(adapters, self.model_info(), self.max_lora_rank or VLLM_LORA_RANKS[-1])
        self._start(adapters)

    def _start(self, adapters: list[AdapterSpec]) -> None:
        import time

        for key, value in vllm_env(self.kv_cache_gib).items():
            os.environ.setdefault(key, value)
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        kwargs: dict[str, Any] = {
            "model": str(self.resolved.path),
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "seed": 0,
        }
        if self.device != "cpu":  # what is free now, after any closed model's cache is released
            share = gpu_memory_share(self.gpu_memory_utilization, self.device)
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization = share
        if adapters:
            rank, n = lora_limits(adapters, self.max_lora_rank)
            kwargs.update(enable_lora=True, max_lora_rank=rank, max_loras=n)
        kwargs = offline_kwargs(kwargs, self.engine_args, self.device == "cpu")
        t0 = time.monotonic()
        core = self._claim_process(kwargs)
        try:
            with (
                waiting(f"the vLLM engine to start ({self.resolved.id})"),
                _environ(core),
                _fresh_env_reads(),
            ):
                self.llm = LLM(**kwargs)
        except Exception as e:  # vLLM raises many types; all mean "engine did not start"
            _IN_PROCESS.discard(self)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise BackendError(
                f"the vLLM engine did not start for {self.resolved.id}: {first}"
            ) from e
        self.engine_start_s = time.monotonic() - t0
        _cleanup.register(self)  # the engine's processes must not outlive harness
        for i, a in enumerate(adapters, start=1):
            self._lora[a.name] = LoRARequest(a.name, i, str(a.path))

    def _claim_process(self, kwargs: dict[str, Any]) -> dict[str, str]:
        """The environment for starting this engine: with one worker, its core runs in this
        process (no engine-core process) unless another engine here already does — vLLM's
        distributed state is per process, and closing either engine would tear down both."""
        if not in_process(kwargs) or set(_IN_PROCESS) - {self}:
            return {}
        _IN_PROCESS.add(self)
        return {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}

    def lora_request(self, adapter: AdapterSpec | None) -> Any:
        """vLLM's ``LoRARequest`` for ``adapter`` (None for the base), starting the engine."""
        if self.llm is None:
            self.prepare([adapter] if adapter else [])
        if adapter is None:
            return None
        if adapter.name not in self._lora:
            raise ModelError(f"adapter {adapter.name} was not prepared; pass it to prepare() first")
        return self._lora[adapter.name]

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        from vllm import SamplingParams

        lora = self.lora_request(adapter)
        sampled = params.temperature > 0

        def sp(i: int) -> Any:
            return SamplingParams(
                n=1,
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p if sampled else 1.0,
                stop=list(params.stop) or None,
                # Repeats of one prompt (n > 1) must differ, so each request has its own seed.
                seed=params.seed + i if sampled else None,
            )

        step = int(self.batch_size or len(prompts) or 1)
        for start in range(0, len(prompts), step):
            idx = list(range(start, min(start + step, len(prompts))))
            yield from self._generate_chunk(idx, prompts, [sp(i) for i in idx], lora)

    def _generate_chunk(
        self, idx: list[int], prompts: Sequence[Rendered], sps: list[Any], lora: Any
    ) -> Iterator[tuple[int, Generation]]:
        texts = [str(prompts[i]) for i in idx]
        try:
            outs = self._run(texts, sps, lora)
        except _request_errors() as e:  # a bad request fails the whole call: go one by one
            if len(idx) == 1:
                yield idx[0], Generation(text="", finish_reason="error", error=_one_line(e))
                return
            for k, i in enumerate(idx):
                yield from self._generate_chunk([i], prompts, [sps[k]], lora)
            return
        for i, out in zip(idx, outs, strict=True):
            c = out.outputs[0]
            yield (
                i,
                Generation(
                    text=c.text,
                    tokens_in=len(out.prompt_token_ids or []),
                    tokens_out=len(c.token_ids),
                    finish_reason="length" if c.finish_reason == "length" else "stop",
                ),
            )

    def _run(self, prompts: list[Any], sps: list[Any], lora: Any) -> list[Any]:
        with _engine_death("generating"):
            return list(
                self.llm.generate(
                    prompts,
                    sps,
                    use_tqdm=False,
                    lora_request=lora,
                    tokenization_kwargs={"add_special_tokens": self.renderer.add_special_tokens},
                )
            )

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Loglikelihood]]:
        lora = self.lora_request(adapter)
        tok = self.renderer.tokenizer
        encoded = []
        for r in requests:
            ctx = tok(r.context, add_special_tokens=self.renderer.add_special_tokens)["input_ids"]
            cont = tok(r.continuation, add_special_tokens=False)["input_ids"]
            encoded.append((ctx, cont))
        scored = self._score([ctx + cont for ctx, cont in encoded], lora)
        for i, ((ctx, cont), plp) in enumerate(zip(encoded, scored, strict=True)):
            ids = ctx + cont
            total = 0.0
            for pos in range(len(ctx), len(ids)):
                total += float(plp[pos][ids[pos]].logprob)
            yield i, Loglikelihood(logprob=total, tokens=len(cont))

    def _score(self, token_ids: list[list[int]], lora: Any) -> Iterator[list[Any]]:
        """``prompt_logprobs`` of each prompt, in order, in batches the engine survives.

        vllm-cpu 0.32: with LoRA enabled, the logits LoRA op (``punica_cpu.add_lora_logits``)
        indexes adapters per *request* but is given every *prompt token*; its einsum only
        broadcasts when one request is in the step, and otherwise kills the engine ("subscript b
        has size 2 ... size 42"). So there, each prompt is its own engine call (checked equal to
        the HF backend, base and adapter). GPU builds (``punica_gpu`` keeps a prompt-token mapping)
        take one batch; not run here.
        """
        from vllm import SamplingParams

        sp = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        prompts = [{"prompt_token_ids": ids} for ids in token_ids]
        step = 1 if (self._lora and on_cpu()) else max(len(prompts), 1)
        for start in range(0, len(prompts), step):
            with _engine_death("scoring log-likelihoods"):
                outs = self.llm.generate(
                    prompts[start : start + step], sp, use_tqdm=False, lora_request=lora
                )
            for out in outs:
                yield out.prompt_logprobs or []

    def close(self) -> None:
        llm, self.llm = self.llm, None
        self._lora = {}
        _cleanup.unregister(self)
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        _IN_PROCESS.discard(self)
        del llm
        import gc

        gc.collect()


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` (unless already set) for the duration only."""
    added = [k for k in values if k not in os.environ]
    os.environ.update({k: values[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextmanager
def _fresh_env_reads() -> Iterator[None]:
    """vLLM reads its environment variables anew while this engine starts.

    An engine core started in this process caches every ``VLLM_*`` read (vllm.envs) until it
    shuts down, so a second engine would silently get the first one's settings (its KV-cache
    size, the engine core in this process). The cache is restored once the engine has started.
    """
    import importlib

    try:
        envs: Any = importlib.import_module("vllm.envs")
    except ImportError:  # a stand-in vLLM (the fast tests) has no environment cache
        envs = None
    cached = bool(envs is not None and getattr(envs, "_is_envs_cache_enabled", lambda: False)())
    if cached:
        envs.disable_envs_cache()
    try:
        yield
    finally:
        if cached:
            envs.enable_envs_cache()


def _request_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this request is bad" rather than "the engine is broken"."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:  # older vLLM raises ValueError for these
        return (ValueError, TypeError)
    return (ValueError, TypeError, VLLMClientError)


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())[:300]
    return f"{type(e).__name__}: {msg}"


@contextmanager
def _engine_death(doing: str) -> Iterator[None]:
    """A dead vLLM engine becomes one clear error; the runner's cache keeps finished samples.

    Seen on vllm-cpu 0.32 when several prompt_logprobs requests share a step in an engine with
    LoRA enabled (an einsum shape error in ``punica_cpu.add_lora_logits``); `_score` avoids it.
    """
    try:
        yield
    except Exception as e:
        if type(e).__name__ != "EngineDeadError":
            raise
        raise BackendError(
            f"the vLLM engine died while {doing} ({_one_line(e)[:160]}); finished samples are "
            "cached: rerun to resume, or use --backend hf for this task"
        ) from None
