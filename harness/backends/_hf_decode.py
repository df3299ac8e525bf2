"""Continuous-batching decoding for Hugging Face causal LMs, with a shared-prefix KV cache.

``model.generate`` on a left-padded batch runs until its longest row is done: on GSM8K a single
256-token rambler holds fifteen finished rows, and every row re-encodes the same few-shot
exemplars. This loop does what serving engines do, in plain PyTorch:

* the longest token prefix common to all prompts (few-shot exemplars, a system prompt) is
  encoded once and its keys/values kept once: every row attends to them through cascade
  attention (:mod:`._hf_attention`), and the rows' buffers hold only their own tokens;
* a finished row leaves the batch at once and a waiting prompt takes its place (continuous
  batching), so the batch stays full and no step is spent on finished rows;
* the KV cache is one preallocated buffer per layer written in place (no ``torch.cat`` per
  step); rows are ragged, so each row keeps a validity mask and its own position ids, and the
  buffer is compacted whenever rows join;
* grouped-query attention folds the query heads of a group onto the query axis instead of
  copying every key and value ``groups`` times (:mod:`._hf_attention`);
* on CPU the linear layers run oneDNN's prepacked kernel (:mod:`._hf_linear`).

Greedy decoding gives the same tokens as ``model.generate`` up to float rounding. Sampling uses
one generator per prompt, seeded from the run seed and the prompt's index, so a sample does not
depend on which prompts shared its batch. Only plain full-attention decoder models (Llama,
Mistral, Qwen2/3, Phi-3, …) take this path; :func:`supported` says which, and the backend falls
back to ``model.generate`` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.backends._hf_attention import attention, shared_prefix
from harness.backends._hf_batch import Batch, Finished, Row, kv_layer_class
from harness.backends._hf_draft import NgramDraft, accepted
from harness.backends._hf_linear import packed_linears

if TYPE_CHECKING:
    from transformers import DynamicCache

# Architectures whose attention is full, causal and RoPE-positioned by ``position_ids``.
SUPPORTED_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "phi3", "granite", "olmo", "olmo2", "smollm3"}
)
MAX_DRAFT = 8  # draft tokens per row and step
MIN_SHARED_PREFIX = 16  # tokens; a shorter common prefix is not worth a separate forward pass


def supported(model: Any) -> bool:
    """Whether ``model`` (a transformers or peft model) can use :func:`decode`."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    return not getattr(config, "sliding_window", None) or not getattr(
        config, "use_sliding_window", True
    )


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix shared by all ``seqs``, leaving each at least one token."""
    if not seqs:
        return 0
    first, n = seqs[0], min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


@dataclass
class Sampling:
    """How the next token is chosen: greedy when ``temperature`` is 0."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0


def decode(model: Any, prompts: Sequence[Sequence[int]], **kwargs: Any) -> Iterator[Finished]:
    """Generate for every prompt (token ids), yielding each as soon as it finishes.

    Keyword arguments are those of `_Decoder`.
    """
    with attention(model), packed_linears(model, kwargs.get("device", "cpu")):
        yield from _decode(model, prompts, **kwargs)


def _decode(model: Any, prompts: Sequence[Sequence[int]], **kwargs: Any) -> Iterator[Finished]:
    """The decoding loop (keyword arguments: `_Decoder`'s)."""
    yield from _Decoder(model, prompts, **kwargs).run()


class _Decoder:
    """One decoding loop: its settings, and the steps `run` takes.

    Args:
        model: A transformers (or peft) causal LM that :func:`supported` accepts.
        prompts: Token ids per prompt, special tokens included.
        max_new_tokens: Generation budget per prompt.
        batch_size: Rows decoded together.
        eos_ids: Token ids that end a row (kept out of ``Finished.ids``).
        pad_id: Token id fed in padded positions (masked out).
        stopped: Called with a row's ids after each token; True ends the row ("stop").
        sampling: Greedy when None or temperature 0.
        device: Where the model is.
        speculate_tokens: Greedy only: tokens one forward pass may check, drafts included
            (:mod:`._hf_draft`); 0 turns drafting off. None: 32 on CPU, 256 on CUDA. A small
            batch gets long drafts, a full one none, so drafting only fills idle capacity.
        max_length: The model's context window: a row also ends ("length") when its prompt and
            output reach it.
        seed_keys: A stable identity per prompt that seeds its sampling stream (None: its index),
            so a rerun of some prompts (after an out-of-memory retry) samples the same tokens.
    """

    def __init__(
        self,
        model: Any,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        batch_size: int,
        eos_ids: set[int],
        pad_id: int,
        stopped: Callable[[list[int]], bool] = lambda ids: False,
        sampling: Sampling | None = None,
        device: Any = "cpu",
        speculate_tokens: int | None = None,
        max_length: int | None = None,
        seed_keys: Sequence[int] | None = None,
    ) -> None:
        sampling = sampling or Sampling()
        self.model, self.prompts, self.device = model, prompts, device
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.eos_ids, self.pad_id, self.stopped = eos_ids, pad_id, stopped
        self.sampling, self.greedy = sampling, sampling.temperature <= 0
        if speculate_tokens is None:
            speculate_tokens = 256 if str(device).startswith("cuda") else 32
        self.speculate_tokens = speculate_tokens
        self.max_length, self.seed_keys = max_length, seed_keys
        self.room = max_new_tokens + MAX_DRAFT + 1
        self.layer_cls = kv_layer_class()
        self.n_prefix, self.prefix_kv = self._encode_prefix()

    def _encode_prefix(self) -> tuple[int, list[tuple[Any, Any]]]:
        """The prompts' common prefix, encoded once: its length and each layer's KV (0 and
        none when it is shorter than `MIN_SHARED_PREFIX`)."""
        import torch

        prompts = self.prompts
        n_prefix = common_prefix(prompts) if len(prompts) > 1 else 0
        if n_prefix < MIN_SHARED_PREFIX:
            return 0, []
        from transformers import DynamicCache

        ids = torch.tensor([list(prompts[0][:n_prefix])], device=self.device)
        cache = DynamicCache()
        with torch.inference_mode():
            self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return n_prefix, _layer_kv(cache)

    def run(self) -> Iterator[Finished]:
        """Fills the batch from the waiting prompts, steps it, yields rows as they finish."""
        waiting = iter(sorted(range(len(self.prompts)), key=lambda i: -len(self.prompts[i])))
        batch = Batch(self.layer_cls, self.device, offset=self.n_prefix)
        pending = True
        while True:
            while pending and len(batch.rows) < self.batch_size:
                free = self.batch_size - len(batch.rows)
                new = [i for _, i in zip(range(free), waiting, strict=False)]
                pending = len(new) == free
                if not new:
                    break
                done = self._admit(batch, new)
                yield from done
                batch.retire(done)
            if not batch.rows:
                return
            done = self._step(batch)
            yield from done
            batch.retire(done)

    def _emit(self, row: Row, tokens: list[int]) -> Finished | None:
        """Appends ``tokens`` to ``row``; its `Finished` when one of them ends it."""
        for tok in tokens:
            if tok in self.eos_ids:
                return Finished(row.index, row.ids, "stop", row.tokens_in, len(row.ids) + 1)
            row.ids.append(tok)
            if row.draft is not None:
                row.draft.push(tok)
            if self.stopped(row.ids):
                return Finished(row.index, row.ids, "stop", row.tokens_in, len(row.ids))
            if len(row.ids) >= self.max_new_tokens or (
                self.max_length is not None and row.tokens_in + len(row.ids) >= self.max_length
            ):
                return Finished(row.index, row.ids, "length", row.tokens_in, len(row.ids))
        row.fed = tokens[-1]
        return None

    def _admit(self, batch: Batch, new: list[int]) -> list[Finished]:
        """Prefills the prompts ``new``, joins them to ``batch``; those done at once."""
        import torch

        rows, keys, values, mask, logits = _prefill(
            self.model, self.prompts, new, self.n_prefix, self.prefix_kv, self.pad_id, self.device
        )
        for row in rows:
            if not self.greedy:
                row.generator = torch.Generator(device=self.device)
                key = row.index if self.seed_keys is None else self.seed_keys[row.index]
                row.generator.manual_seed(self.sampling.seed * 1_000_003 + key)
            elif self.speculate_tokens > 0:
                row.draft = NgramDraft(self.prompts[row.index])
        tokens = _choose(logits, rows, self.sampling).tolist()
        batch.join(rows, keys, values, mask, room=self.room)
        return [f for row, t in zip(rows, tokens, strict=True) if (f := self._emit(row, [t]))]

    def _step(self, batch: Batch) -> list[Finished]:
        """One forward pass: each row's newest token, then its draft (if any); the rows done."""
        n = len(batch.rows)
        k = min(MAX_DRAFT, self.speculate_tokens // n - 1) if self.greedy else 0
        drafts = [row.draft.propose(k) if row.draft and k >= 2 else [] for row in batch.rows]
        q = 1 + max(len(d) for d in drafts)
        if batch.length + q > batch.capacity:
            batch.compact(self.room)
        start = batch.length
        step_logits = self._forward(batch, drafts, q)
        if self.greedy:
            choices = step_logits.argmax(dim=-1).tolist()
            emitted = [accepted(d, c) for d, c in zip(drafts, choices, strict=True)]
            for r, (d, e) in enumerate(zip(drafts, emitted, strict=True)):
                if len(e) - 1 < len(d):  # rejected draft tokens leave holes in the cache
                    batch.mask[r, start + len(e) : start + q] = False
        else:
            rows = batch.rows
            emitted = [[t] for t in _choose(step_logits[:, 0], rows, self.sampling).tolist()]
        return [f for row, e in zip(batch.rows, emitted, strict=True) if (f := self._emit(row, e))]

    def _forward(self, batch: Batch, drafts: list[list[int]], q: int) -> Any:
        """Runs the ``q``-token block (fed token, draft, padding) per row; its logits."""
        import torch

        device, pad_id = self.device, self.pad_id
        block = [
            [row.fed, *d] + [pad_id] * (q - 1 - len(d))
            for row, d in zip(batch.rows, drafts, strict=True)
        ]
        valid = [[True] * (1 + len(d)) + [False] * (q - 1 - len(d)) for d in drafts]
        start = batch.length
        positions = batch.positions() + torch.arange(q, device=device)
        batch.mask = torch.cat([batch.mask, torch.tensor(valid, device=device)], 1)
        with torch.inference_mode(), shared_prefix(self.prefix_kv):
            out = self.model(
                input_ids=torch.tensor(block, device=device),
                attention_mask=batch.mask.long(),
                position_ids=positions,
                cache_position=torch.arange(start, start + q, device=device),
                past_key_values=batch.cache(),
                use_cache=True,
            )
        batch.length += q
        step_logits = out.logits
        del out  # it holds the step's cache, i.e. the old KV layers that retire() replaces
        return step_logits


def _prefill(
    model: Any,
    prompts: Sequence[Sequence[int]],
    new: list[int],
    n_prefix: int,
    prefix_kv: list[tuple[Any, Any]],
    pad_id: int,
    device: Any,
) -> tuple[list[Row], list[Any], list[Any], Any, Any]:
    """Encode the new prompts' suffixes after the shared prefix; their KV, mask and last logits."""
    import torch
    from transformers import DynamicCache

    suffixes = [list(prompts[i][n_prefix:]) for i in new]
    width = max(len(s) for s in suffixes)
    ids = torch.tensor([s + [pad_id] * (width - len(s)) for s in suffixes], device=device)
    suffix_mask = torch.tensor(
        [[True] * len(s) + [False] * (width - len(s)) for s in suffixes], device=device
    )
    cache = DynamicCache()
    positions = (n_prefix + torch.arange(width, device=device))[None].expand(len(new), -1)
    # The LM head only where a row's next token is read (its last suffix position).
    ends = sorted({len(s) - 1 for s in suffixes})
    with torch.inference_mode(), shared_prefix(prefix_kv):
        out = model(
            input_ids=ids,
            attention_mask=suffix_mask.long(),
            position_ids=positions,
            cache_position=torch.arange(width, device=device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=torch.tensor(ends, device=device),
        )
    last = torch.tensor([ends.index(len(s) - 1) for s in suffixes], device=device)
    logits = out.logits[torch.arange(len(new), device=device), last]
    kv = _layer_kv(cache)
    keys, values = [k for k, _ in kv], [v for _, v in kv]
    rows = [Row(index=i, tokens_in=len(prompts[i])) for i in new]
    return rows, keys, values, suffix_mask, logits


def _layer_kv(cache: DynamicCache) -> list[tuple[Any, Any]]:
    """Each layer's (keys, values) in a cache a full-attention model has filled."""
    from transformers.cache_utils import CacheLayerMixin

    kv = []
    for layer in cache.layers:
        # Only full-attention models take this path (see ``supported``): no linear-attention layers.
        assert isinstance(layer, CacheLayerMixin)
        kv.append((layer.keys, layer.values))
    return kv


def _choose(logits: Any, rows: list[Row], sampling: Sampling) -> Any:
    """Next token per row: argmax, or a top-p sample from each row's own generator."""
    import torch

    if sampling.temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_p, sorted_i = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > sampling.top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, sorted_i, sorted_p)
    picks = [torch.multinomial(probs[r], 1, generator=row.generator) for r, row in enumerate(rows)]
    return torch.cat(picks)
