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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.backends._hf_attention import attention, shared_prefix
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


@dataclass
class Finished:
    """One prompt's generated token ids and why it stopped ("stop" or "length")."""

    index: int
    ids: list[int]
    reason: str
    tokens_in: int
    tokens_out: int  # generated, an end-of-sequence token included


@dataclass
class _Row:
    index: int
    tokens_in: int
    ids: list[int] = field(default_factory=list)
    fed: int = 0  # the newest token: recorded, not yet run through the model
    generator: Any = None  # sampling: this prompt's own random stream
    draft: NgramDraft | None = None  # greedy: prompt-lookup drafts


def _kv_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):  # type: ignore[misc]
        """A cache layer over a preallocated ``[batch, heads, capacity, dim]`` buffer."""

        def __init__(self, keys: Any, values: Any, length: int) -> None:
            super().__init__()
            self.keys, self.values, self.length = keys, values, length
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            assert self.keys is not None and self.values is not None  # set in __init__
            end = self.length + key_states.shape[-2]
            self.keys[:, :, self.length : end] = key_states
            self.values[:, :, self.length : end] = value_states
            self.length = end
            return self.keys[:, :, :end], self.values[:, :, :end]

        def get_seq_length(self) -> int:
            return self.length

    return BufferLayer


class _Batch:
    """The active rows' KV buffers, validity mask and positions."""

    def __init__(self, layer_cls: type, device: Any, offset: int = 0) -> None:
        self.layer_cls, self.device = layer_cls, device
        self.offset = offset  # position of every row's first own token (after the shared prefix)
        self.rows: list[_Row] = []
        self.keys: list[Any] = []  # per layer [B, H, capacity, D]
        self.values: list[Any] = []
        self.mask: Any = None  # [B, length] bool
        self.length = 0
        self.capacity = 0

    def cache(self) -> Any:
        from transformers import DynamicCache

        cache = DynamicCache()
        cache.layers = [
            self.layer_cls(k, v, self.length) for k, v in zip(self.keys, self.values, strict=True)
        ]
        return cache

    def positions(self) -> Any:
        return self.offset + self.mask.sum(dim=1, keepdim=True)  # each row's next position id

    def retire(self, done: list[Finished]) -> None:
        """Drop the rows that finished."""
        if done:
            finished = {f.index for f in done}
            self.keep([r for r, row in enumerate(self.rows) if row.index not in finished])

    def keep(self, keep: list[int]) -> None:
        import torch

        if not keep:
            self.rows, self.keys, self.values, self.mask, self.length = [], [], [], None, 0
            return
        idx = torch.tensor(keep, device=self.device)
        self.rows = [self.rows[i] for i in keep]
        for bufs in (self.keys, self.values):
            for n, buf in enumerate(bufs):  # layer by layer: each old layer is freed at once
                bufs[n] = buf.index_select(0, idx)
        self.mask = self.mask.index_select(0, idx)

    def join(
        self, rows: list[_Row], keys: list[Any], values: list[Any], mask: Any, room: int
    ) -> None:
        """Add prefilled rows, then compact; leave ``room`` free columns."""
        import torch

        if self.rows:
            width = max(self.length, mask.shape[1])
            for old, new in ((self.keys, keys), (self.values, values)):
                for n in range(len(new)):
                    # One layer at a time, dropping the old layer before the next: the join
                    # holds one layer's copy on top of the cache, not a second whole cache.
                    pair = _pad([old[n][:, :, : self.length], new[n]], width)
                    old[n] = None
                    new[n] = torch.cat(pair, 0)
                    del pair
            mask = torch.cat([_pad_mask(self.mask, width), _pad_mask(mask, width)], 0)
            rows = self.rows + rows
        self.keys, self.values = [], []
        self._pack(rows, keys, values, mask, room)

    def compact(self, room: int) -> None:
        """Move every row's valid columns to the left; leave ``room`` free columns."""
        keys, values = self._cut(self.keys), self._cut(self.values)
        self.keys, self.values = [], []  # the cut views alone keep the old layers alive
        self._pack(self.rows, keys, values, self.mask, room)

    def _pack(
        self, rows: list[_Row], keys: list[Any], values: list[Any], mask: Any, room: int
    ) -> None:
        import torch

        # A stable sort puts each row's valid columns first, in order.
        order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
        length = int(mask.sum(dim=1).max())
        order = order[:, :length]
        capacity = length + room
        gather = order[:, None, :, None]
        for src in (keys, values):
            for n, t in enumerate(src):  # in place in the list: each old layer freed at once
                buf = t.new_zeros(t.shape[0], t.shape[1], capacity, t.shape[3])
                buf[:, :, :length] = t.gather(2, gather.expand(-1, t.shape[1], -1, t.shape[3]))
                src[n] = buf
                del t
        self.keys, self.values = keys, values
        self.mask = torch.gather(mask, 1, order)
        self.length, self.capacity, self.rows = length, capacity, rows

    def _cut(self, bufs: list[Any]) -> list[Any]:
        return [b[:, :, : self.length] for b in bufs]


def _pad(ts: list[Any], width: int) -> list[Any]:
    import torch.nn.functional as F

    return [F.pad(t, (0, 0, 0, max(0, width - t.shape[2]))) for t in ts]


def _pad_mask(mask: Any, width: int) -> Any:
    import torch.nn.functional as F

    return F.pad(mask, (0, width - mask.shape[1]), value=False)


def decode(model: Any, prompts: Sequence[Sequence[int]], **kwargs: Any) -> Iterator[Finished]:
    """Generate for every prompt (token ids), yielding each as soon as it finishes.

    Keyword arguments are those of :func:`_decode`.
    """
    with attention(model), packed_linears(model, kwargs.get("device", "cpu")):
        yield from _decode(model, prompts, **kwargs)


def _decode(
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
) -> Iterator[Finished]:
    """The decoding loop.

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
    import torch

    sampling = sampling or Sampling()
    greedy = sampling.temperature <= 0
    if speculate_tokens is None:
        speculate_tokens = 256 if str(device).startswith("cuda") else 32
    layer_cls = _kv_layer_class()
    n_prefix = common_prefix(prompts) if len(prompts) > 1 else 0
    prefix_kv: list[tuple[Any, Any]] = []
    if n_prefix >= MIN_SHARED_PREFIX:
        from transformers import DynamicCache

        ids = torch.tensor([list(prompts[0][:n_prefix])], device=device)
        cache = DynamicCache()
        with torch.inference_mode():
            model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        prefix_kv = _layer_kv(cache)
    else:
        n_prefix = 0

    def emit(row: _Row, tokens: list[int]) -> Finished | None:
        for tok in tokens:
            if tok in eos_ids:
                return Finished(row.index, row.ids, "stop", row.tokens_in, len(row.ids) + 1)
            row.ids.append(tok)
            if row.draft is not None:
                row.draft.push(tok)
            if stopped(row.ids):
                return Finished(row.index, row.ids, "stop", row.tokens_in, len(row.ids))
            if len(row.ids) >= max_new_tokens or (
                max_length is not None and row.tokens_in + len(row.ids) >= max_length
            ):
                return Finished(row.index, row.ids, "length", row.tokens_in, len(row.ids))
        row.fed = tokens[-1]
        return None

    room = max_new_tokens + MAX_DRAFT + 1
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    waiting = iter(order)
    batch = _Batch(layer_cls, device, offset=n_prefix)
    pending = True
    while True:
        while pending and len(batch.rows) < batch_size:
            new = [i for _, i in zip(range(batch_size - len(batch.rows)), waiting, strict=False)]
            pending = len(new) == batch_size - len(batch.rows)
            if not new:
                break
            rows, keys, values, mask, logits = _prefill(
                model, prompts, new, n_prefix, prefix_kv, pad_id, device
            )
            for row in rows:
                if not greedy:
                    row.generator = torch.Generator(device=device)
                    key = row.index if seed_keys is None else seed_keys[row.index]
                    row.generator.manual_seed(sampling.seed * 1_000_003 + key)
                elif speculate_tokens > 0:
                    row.draft = NgramDraft(prompts[row.index])
            tokens = _choose(logits, rows, sampling).tolist()
            batch.join(rows, keys, values, mask, room=room)
            done = [f for row, t in zip(rows, tokens, strict=True) if (f := emit(row, [t]))]
            yield from done
            batch.retire(done)
        if not batch.rows:
            return
        # One forward pass: each row's newest token, then its draft (if any), padded.
        n = len(batch.rows)
        k = min(MAX_DRAFT, speculate_tokens // n - 1) if greedy else 0
        drafts = [row.draft.propose(k) if row.draft and k >= 2 else [] for row in batch.rows]
        q = 1 + max(len(d) for d in drafts)
        if batch.length + q > batch.capacity:
            batch.compact(room)
        block = [
            [row.fed, *d] + [pad_id] * (q - 1 - len(d))
            for row, d in zip(batch.rows, drafts, strict=True)
        ]
        valid = [[True] * (1 + len(d)) + [False] * (q - 1 - len(d)) for d in drafts]
        start = batch.length
        positions = batch.positions() + torch.arange(q, device=device)
        batch.mask = torch.cat([batch.mask, torch.tensor(valid, device=device)], 1)
        with torch.inference_mode(), shared_prefix(prefix_kv):
            out = model(
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
        if greedy:
            choices = step_logits.argmax(dim=-1).tolist()
            emitted = [accepted(d, c) for d, c in zip(drafts, choices, strict=True)]
            for r, (d, e) in enumerate(zip(drafts, emitted, strict=True)):
                if len(e) - 1 < len(d):  # rejected draft tokens leave holes in the cache
                    batch.mask[r, start + len(e) : start + q] = False
        else:
            emitted = [[t] for t in _choose(step_logits[:, 0], batch.rows, sampling).tolist()]
        done = [f for row, e in zip(batch.rows, emitted, strict=True) if (f := emit(row, e))]
        yield from done
        batch.retire(done)


def _prefill(
    model: Any,
    prompts: Sequence[Sequence[int]],
    new: list[int],
    n_prefix: int,
    prefix_kv: list[tuple[Any, Any]],
    pad_id: int,
    device: Any,
) -> tuple[list[_Row], list[Any], list[Any], Any, Any]:
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
    rows = [_Row(index=i, tokens_in=len(prompts[i])) for i in new]
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


def _choose(logits: Any, rows: list[_Row], sampling: Sampling) -> Any:
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
