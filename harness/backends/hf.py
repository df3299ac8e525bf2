"""The Hugging Face transformers backend (with peft for LoRA adapters).

Batched generation with left padding, sorted by prompt length so batches waste little
padding; greedy unless a temperature is given; stop sequences cut both during generation
(``stop_strings``) and afterwards. Adapters are loaded once into one ``PeftModel`` and switched
per variant; the base model is evaluated with the adapters disabled. Device and dtype come from
`harness._device` (float32 on CPU; on CUDA bfloat16 where native, else float16).

On CUDA the batch size, unless given, is derived from free device memory and the model's KV
size per token (`harness._device.auto_batch_size`) for each call; an out-of-memory error halves
the batch and reruns the unfinished prompts (`._oom.halving`). Log-likelihoods compute the LM
head and ``log_softmax`` only at the continuation's positions, and ``close()`` returns the
model's CUDA memory to the device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from harness._device import (
    auto_batch_size,
    kv_bytes_per_token,
    mem_info,
    release_cuda_memory,
    resolve_device,
    resolve_dtype,
)
from harness._errors import ModelError
from harness._models import resolve_model
from harness._types import Generation, GenerationParams, Prompt
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Rendered,
)
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
from harness.backends._oom import halving
from harness.backends._options import HFOptions
from harness.lora._checks import check_adapters


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop sequence, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class HFBackend(Backend):
    """Runs a causal LM with transformers.

    Args:
        options: An `HFOptions` (or the same as keywords); its fields:
        model: Bundled model name, local folder or hub id (None: the bundled model).
        chat_template: Use the tokenizer's chat template (None: when the tokenizer has one).
        batch_size: Prompts per forward pass (None: 16 on CPU; on CUDA from free memory).
        resolved: An already resolved model (skips resolving ``model``).
        device: "auto", "cpu", "cuda" or "cuda:N".
        dtype: "auto" (see `harness._device.resolve_dtype`), "float32", "bfloat16", "float16".
        continuous: Continuous batching with a shared-prefix KV cache (``_hf_decode``) where the
            architecture allows; False: ``model.generate`` on padded batches.
        chat_template_kwargs: Passed to every ``apply_chat_template`` call (e.g.
            ``{"enable_thinking": False}``).
    """

    #: What the constructor takes (checked by `harness.backends.build_backend`).
    options_type = HFOptions
    name = "hf"
    engine_packages = ("torch", "transformers", "peft")
    supports_loglikelihood = True
    supports_adapters = True

    def __init__(self, options: HFOptions | None = None, /, **keywords: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        o = HFOptions.of(options, keywords)
        super().__init__(chat_template=o.chat_template, batch_size=o.batch_size)

        hf_logging.disable_progress_bar()  # harness shows its own progress
        self.device = resolve_device(o.device)
        self.dtype = resolve_dtype(o.dtype, self.device)
        self.resolved = o.resolved or resolve_model(o.model)
        if self.device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        self.continuous = o.continuous
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.resolved.path)
            # Any: transformers types ``.to`` through ``functools.wraps``, which mypy reads as
            # an unbound function.
            loaded: Any = AutoModelForCausalLM.from_pretrained(
                self.resolved.path, dtype=getattr(torch, self.dtype)
            )
            self.model: Any = loaded.to(self.device)
        except (OSError, ValueError) as e:
            raise ModelError(
                f"cannot load model from {self.resolved.path}: {str(e).splitlines()[0]}"
            ) from None
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.chat_template is None:
            self.chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self._fixed_batch = self.batch_size is not None or self.device == "cpu"
        if self.batch_size is None and self.device == "cpu":
            self.batch_size = 16
        self._adapters: dict[str, AdapterSpec] = {}
        self.chat = ChatState(kwargs=dict(o.chat_template_kwargs or {}))

    def model_info(self) -> ModelInfo:
        return ModelInfo.of(
            self.resolved, self.dtype, self.device, weights_hash_s=self.resolved.hash_s
        )

    def render(self, prompt: Prompt) -> Rendered:
        if not self.chat_template:
            return prompt.text
        return render_chat(self.tokenizer, prompt, self.chat)

    def chat_template_source(self) -> str | None:
        return template_source(self.tokenizer)

    def reasoning_markers(self) -> tuple[str, str] | None:
        return config_markers(self.resolved.path)

    def count_tokens(self, text: str) -> int | None:
        return count_tokens(self.tokenizer, text)

    def template_settings(self) -> dict[str, Any]:
        return settings_of(self.chat)

    def prompt_tokens(self, rendered: Rendered) -> int | None:
        return prompt_tokens(self.tokenizer, str(rendered), self._add_special())

    def truncate_left(self, rendered: Rendered, keep: int) -> Rendered:
        return truncate_left(self.tokenizer, str(rendered), keep, self._add_special())

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        if not adapters:
            return
        from peft import PeftModel

        check_adapters(adapters, self.model_info())
        for spec in adapters:
            if spec.name in self._adapters:
                continue
            try:
                if not self._adapters:
                    self.model = PeftModel.from_pretrained(
                        self.model, str(spec.path), adapter_name=spec.name
                    )
                else:
                    self.model.load_adapter(str(spec.path), adapter_name=spec.name)
            except (OSError, ValueError, RuntimeError, KeyError) as e:
                raise ModelError(
                    f"adapter {spec.name} ({spec.path}) does not load on {self.resolved.id}: "
                    f"{str(e).splitlines()[0][:200]}"
                ) from None
            self._adapters[spec.name] = spec
        self.model.eval()

    def _context(self, adapter: AdapterSpec | None) -> Any:
        """A context manager that selects the adapter (or disables all for the base)."""
        import contextlib

        if not self._adapters:
            if adapter is not None:
                raise ModelError(f"adapter {adapter.name} was not prepared; call prepare() first")
            return contextlib.nullcontext()
        if adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(adapter.name)
        return contextlib.nullcontext()

    def _add_special(self) -> bool:
        # A chat template already wrote any BOS; plain prompts get the tokenizer's default.
        return not self.chat_template

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        from harness.backends import _hf_decode

        limit = self.context_length()
        add = self._add_special()
        ids = [self.tokenizer(p, add_special_tokens=add)["input_ids"] for p in prompts]
        fits = []
        for i, p_ids in enumerate(ids):
            if limit is None or len(p_ids) < limit:
                fits.append(i)
                continue
            msg = f"prompt has {len(p_ids)} tokens; {self.resolved.id} takes at most {limit}"
            yield i, Generation(text="", tokens_in=len(p_ids), finish_reason="error", error=msg)
        if self.continuous and _hf_decode.supported(self.model):
            gen = self._generate_continuous([ids[i] for i in fits], params, adapter, limit)
        else:
            gen = self._generate_padded([prompts[i] for i in fits], params, adapter)
        for k, g in gen:
            yield fits[k], g

    def context_length(self) -> int | None:
        """The model's context window in tokens, when its config says."""
        n = getattr(self.model.config, "max_position_embeddings", None)
        return int(n) if n else None

    def batch_for(self, tokens_per_row: int, extra_per_token: int = 0) -> int:
        """The batch size for rows of up to ``tokens_per_row`` tokens: as given (or the CPU
        default), else from free CUDA memory and the KV size per token (`auto_batch_size`)."""
        if self._fixed_batch:
            return int(self.batch_size or 1)
        memory = mem_info(self.device)
        try:
            per_token = kv_bytes_per_token(self.model.config, self.dtype) + extra_per_token
        except (AttributeError, TypeError, ValueError):  # a config without the usual fields
            per_token = 0
        if memory is None or per_token <= 0:
            return 16
        size = auto_batch_size(memory[0], per_token, tokens_per_row)
        self.batch_size = size  # what the run record shows
        return size

    def _generate_continuous(
        self,
        ids: Sequence[list[int]],
        params: GenerationParams,
        adapter: AdapterSpec | None,
        limit: int | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        from harness.backends._hf_decode import MAX_DRAFT, Sampling, decode

        tok = self.tokenizer
        stop = [s for s in params.stop if s]
        tail = max((len(s) for s in stop), default=0) + 4  # tokens: each is at least a character

        def stopped(out: list[int]) -> bool:
            if not stop:
                return False
            text = tok.decode(out[-tail:], skip_special_tokens=True)
            return any(s in text for s in stop)

        def run(todo: list[int], size: int) -> Iterator[tuple[int, Generation]]:
            with self._context(adapter):
                for f in decode(
                    self.model,
                    [ids[i] for i in todo],
                    max_new_tokens=params.max_new_tokens,
                    batch_size=size,
                    eos_ids=self._eos_ids(),
                    pad_id=int(tok.pad_token_id),
                    stopped=stopped,
                    sampling=Sampling(params.temperature, params.top_p, params.seed),
                    device=self.device,
                    max_length=limit,
                    seed_keys=todo,
                ):
                    text, _ = cut_at_stop(self._text(f.ids), stop)
                    yield (
                        todo[f.index],
                        Generation(
                            text=text,
                            tokens_in=f.tokens_in,
                            tokens_out=f.tokens_out,
                            finish_reason=f.reason,
                        ),
                    )

        if not ids:
            return
        longest = max(len(i) for i in ids) + params.max_new_tokens + MAX_DRAFT + 1
        yield from halving(run, range(len(ids)), self.batch_for(longest), "generation")

    def _generate_padded(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None,
    ) -> Iterator[tuple[int, Generation]]:
        """``model.generate`` on left-padded batches: for models the continuous path can't run."""
        if not prompts:
            return
        add = self._add_special()
        longest = max(len(self.tokenizer(p, add_special_tokens=add)["input_ids"]) for p in prompts)
        size = self.batch_for(longest + params.max_new_tokens)

        def run(todo: list[int], bs: int) -> Iterator[tuple[int, Generation]]:
            order = sorted(todo, key=lambda i: -len(prompts[i]))
            for b, start in enumerate(range(0, len(order), bs)):
                yield from self._padded_batch(
                    prompts, order[start : start + bs], params, adapter, b
                )

        yield from halving(run, range(len(prompts)), size, "generation")

    def _padded_batch(
        self,
        prompts: Sequence[Rendered],
        idx: list[int],
        params: GenerationParams,
        adapter: AdapterSpec | None,
        b: int,
    ) -> Iterator[tuple[int, Generation]]:
        import torch

        tok = self.tokenizer
        enc = tok(
            [prompts[i] for i in idx],
            return_tensors="pt",
            padding=True,
            add_special_tokens=self._add_special(),
        ).to(self.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        if params.temperature > 0:
            torch.manual_seed(params.seed + b)
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode(), self._context(adapter):
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        for row, i in enumerate(idx):
            ids = new[row].tolist()
            n_out = len(ids)
            eos = self._first_eos(ids)
            if eos is not None:
                n_out = eos + 1
                ids = ids[:eos]
            text, stopped = cut_at_stop(self._text(ids), params.stop)
            finish = "stop" if stopped or eos is not None else "length"
            yield (
                i,
                Generation(
                    text=text,
                    tokens_in=int(enc["attention_mask"][row].sum()),
                    tokens_out=n_out,
                    finish_reason=finish,
                ),
            )

    def _text(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        assert isinstance(text, str)  # one sequence of ids decodes to one string
        return text

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        return {int(i) for i in ids if i is not None}

    def _first_eos(self, ids: list[int]) -> int | None:
        eos_ids = self._eos_ids()
        return next((k for k, t in enumerate(ids) if t in eos_ids), None)

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Loglikelihood]]:
        from harness.backends._hf_loglik import score_batch

        tok = self.tokenizer
        encoded = []
        for r in requests:
            ctx = tok(r.context, add_special_tokens=self._add_special())["input_ids"]
            cont = tok(r.continuation, add_special_tokens=False)["input_ids"]
            encoded.append((ctx, cont))
        if not encoded:
            return
        longest = max(len(c) + len(x) for c, x in encoded)
        vocab = int(getattr(self.model.config, "vocab_size", 0) or 0)
        size = self.batch_for(longest, extra_per_token=vocab * 4)

        def run(todo: list[int], bs: int) -> Iterator[tuple[int, Loglikelihood]]:
            order = sorted(todo, key=lambda i: -(len(encoded[i][0]) + len(encoded[i][1])))
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                with self._context(adapter):
                    totals = score_batch(
                        self.model, [encoded[i] for i in idx], int(tok.pad_token_id), self.device
                    )
                for i, total in zip(idx, totals, strict=True):
                    yield i, Loglikelihood(logprob=total, tokens=len(encoded[i][1]))

        yield from halving(run, range(len(encoded)), size, "log-likelihood")

    def close(self) -> None:
        self.model = None
        self._adapters = {}
        release_cuda_memory()  # gc, then hand the cached CUDA blocks back to the device
