"""Attention for the continuous-batching decoder: grouped-query SDPA and cascade attention.

On GSM8K 5-shot every prompt starts with the same ~1,000 exemplar tokens. Copying their keys
and values into every row made each decoding step read the prefix once per row (16 rows at
batch 16: ~27 MB per layer and step on SmolLM2), which was most of a step on a 2-core CPU.
Cascade attention keeps the prefix once and splits each query's attention in two:

* over the shared prefix: every row's queries of a key/value head stacked into one matrix
  against the one prefix (a single matrix product that reads the prefix once);
* over the row's own keys (its suffix and generated tokens) under the row's mask;

then merges the two by their log-sum-exps — exactly softmax over the concatenation, up to
float rounding. Grouped-query heads are folded onto the query axis (no copy of keys or values
per query head).

The decoder sets the prefix with :func:`shared_prefix` around its forward passes; the model runs
:func:`decoder_attention` (registered by :func:`attention`) in every layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

ATTENTION = "harness_decoder_attention"
# Scores held at once by the portable path (elements): a long prefill never holds them all.
_CHUNK_ELEMENTS = 1 << 26

# Per layer: the shared prefix's (keys, values), each [1, kv_heads, prefix, dim]; None: no prefix.
_PREFIX: ContextVar[list[tuple[Any, Any]] | None] = ContextVar("harness_prefix_kv", default=None)


@contextmanager
def attention(model: Any) -> Iterator[None]:
    """Run :func:`decoder_attention` in ``model``'s layers for the duration."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    config = model.config
    before = config._attn_implementation
    AttentionInterface.register(ATTENTION, decoder_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = before


@contextmanager
def shared_prefix(kv: list[tuple[Any, Any]] | None) -> Iterator[None]:
    """Forward passes inside see ``kv`` (per layer) as keys and values before every row's own."""
    token = _PREFIX.set(kv or None)
    try:
        yield
    finally:
        _PREFIX.reset(token)
        _last_bias[:] = [None, None]  # the step's mask and bias are not kept past it


def decoder_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention interface: cascade attention when a prefix is set, else SDPA.

    ``query`` is ``[B, heads, q, D]``, ``key``/``value`` the rows' own ``[B, kv_heads, L, D]``
    and ``attention_mask`` boolean ``[B, 1, q, L]`` (True: attend) or None (causal).
    """
    prefix = _PREFIX.get()
    b, heads, q, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    scale = scaling if scaling is not None else dim**-0.5
    if prefix is None:
        return gqa_sdpa(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    mask = attention_mask if attention_mask is not None else causal(q, length, query.device)
    folded = query.reshape(b, kv_heads, groups * q, dim)
    own = attend(folded, key, value, _folded_bias(mask, groups, query.dtype), scale)
    pk, pv = prefix[module.layer_idx]
    stacked = folded.transpose(0, 1).reshape(1, kv_heads, b * groups * q, dim)
    out, lse = attend(stacked, pk, pv, None, scale)
    shared = (
        out.reshape(kv_heads, b, groups * q, dim).transpose(0, 1),
        lse.reshape(kv_heads, b, groups * q).transpose(0, 1),
    )
    merged = merge([shared, own])
    return merged.reshape(b, heads, q, dim).transpose(1, 2).contiguous(), None


def causal(q: int, length: int, device: Any) -> Any:
    """``[1, 1, q, length]``: the last ``q`` of ``length`` positions, each seeing up to itself."""
    import torch

    cols = torch.arange(length, device=device)
    rows = torch.arange(length - q, length, device=device)
    return (cols[None, :] <= rows[:, None])[None, None]


def attend(
    query: Any, key: Any, value: Any, bias: Any, scale: float, fused: bool | None = None
) -> tuple[Any, Any]:
    """Softmax attention and its log-sum-exp: ``([B, H, q, D], [B, H, q] float32)``.

    ``bias`` is added to the scores (0 or -inf), broadcastable to ``[B, H, q, L]``, or None.
    On CPU (``fused`` None) PyTorch's fused flash kernel, which returns the log-sum-exp itself;
    otherwise plain matrix products in float32, a chunk of queries at a time.
    """
    import torch

    if fused is None:
        fused = query.device.type == "cpu"
    if fused:
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, 0.0, False, attn_mask=bias, scale=scale
        )
        return out, lse.float()
    b, h, q, _ = query.shape
    step = max(1, _CHUNK_ELEMENTS // max(1, b * h * key.shape[2]))
    outs, lses = [], []
    keys_t, values = key.float().transpose(2, 3), value.float()
    for start in range(0, q, step):
        s = torch.matmul(query[:, :, start : start + step].float(), keys_t) * scale
        if bias is not None:
            s = s + (bias[..., start : start + step, :] if bias.shape[2] > 1 else bias)
        lse = torch.logsumexp(s, dim=-1)
        p = torch.exp(s - lse[..., None]).nan_to_num(0.0)
        outs.append(torch.matmul(p, values).to(query.dtype))
        lses.append(lse)
    return torch.cat(outs, 2), torch.cat(lses, 2)


# The last (boolean mask, groups, dtype) and its bias: all layers of a forward share one mask.
_last_bias: list[Any] = [None, None]


def _folded_bias(mask: Any, groups: int, dtype: Any) -> Any:
    """A boolean ``[B, 1, q, L]`` mask as an additive 0 / -inf bias for the folded queries
    (``groups * q`` rows; the fused kernel takes no boolean mask), made once per forward."""
    import torch

    key = (mask, groups, dtype)
    memo = _last_bias[0]
    if memo is not None and memo[0] is mask and memo[1:] == key[1:]:
        return _last_bias[1]
    b, _, q, length = mask.shape
    if q > 1:  # one row of mask per folded query head
        mask = mask[:, :, None].expand(-1, 1, groups, -1, -1).reshape(b, 1, groups * q, length)
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    bias.masked_fill_(~mask, float("-inf"))
    _last_bias[:] = [key, bias]
    return bias


def merge(parts: list[tuple[Any, Any]]) -> Any:
    """Attention over the union of disjoint key sets, from each set's output and log-sum-exp."""
    import torch

    total = parts[0][1]
    for _, lse in parts[1:]:
        total = torch.logaddexp(total, lse)
    out = None
    for o, lse in parts:
        # A query that sees nothing in one set has lse -inf there: weight 0, output ignored.
        w = torch.exp(lse - total).nan_to_num(0.0)[..., None]
        term = o.float().nan_to_num(0.0) * w
        out = term if out is None else out + term
    assert out is not None  # parts is never empty
    return out.to(parts[0][0].dtype)


def gqa_sdpa(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """SDPA for grouped-query attention under a mask, without repeating keys and values.

    Query heads ``kv * groups + g`` share key/value head ``kv``: the ``groups`` query heads are
    laid along the query axis of one head, and the mask rows repeated to match. The same
    arithmetic as transformers' ``sdpa_attention_forward`` (which copies every key and value
    ``groups`` times under a padding mask: on SmolLM2 at batch 16 and 1,300 cached tokens, 83 ms
    instead of 5 ms per layer and step on this CPU).
    """
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = int(getattr(module, "num_key_value_groups", 1))
    if groups == 1 or attention_mask is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    b, heads, q, dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    folded = query.reshape(b, kv_heads, groups * q, dim)
    mask = (
        attention_mask[:, :, None].expand(b, 1, groups, q, kv_len).reshape(b, 1, groups * q, kv_len)
    )
    out = F.scaled_dot_product_attention(
        folded, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling
    )
    return out.reshape(b, heads, q, dim).transpose(1, 2).contiguous(), None
