"""The continuous-batching decoder's rows and their KV buffers (see `._hf_decode`).

`Batch` keeps one preallocated ``[batch, heads, capacity, dim]`` buffer per layer, written in
place through `kv_layer_class`'s cache layer, plus each row's validity mask and positions; rows
join (their prefilled KV copied in, the buffers widened and compacted) and retire as they finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.backends._hf_draft import NgramDraft


@dataclass
class Finished:
    """One prompt's generated token ids and why it stopped ("stop" or "length")."""

    index: int
    ids: list[int]
    reason: str
    tokens_in: int
    tokens_out: int  # generated, an end-of-sequence token included


@dataclass
class Row:
    """One prompt being decoded: its index, prompt length and the tokens so far."""

    index: int
    tokens_in: int
    ids: list[int] = field(default_factory=list)
    fed: int = 0  # the newest token: recorded, not yet run through the model
    generator: Any = None  # sampling: this prompt's own random stream
    draft: NgramDraft | None = None  # greedy: prompt-lookup drafts


def kv_layer_class() -> type:
    """The cache-layer class `Batch` hands the model (made here: transformers is heavy)."""
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


class Batch:
    """The active rows' KV buffers, validity mask and positions."""

    def __init__(self, layer_cls: type, device: Any, offset: int = 0) -> None:
        self.layer_cls, self.device = layer_cls, device
        self.offset = offset  # position of every row's first own token (after the shared prefix)
        self.rows: list[Row] = []
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
        self, rows: list[Row], keys: list[Any], values: list[Any], mask: Any, room: int
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
        self, rows: list[Row], keys: list[Any], values: list[Any], mask: Any, room: int
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
