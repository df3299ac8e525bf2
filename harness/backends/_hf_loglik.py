"""Log-likelihood of continuations under a Hugging Face causal LM, one padded batch at a time.

The LM head runs only at the positions whose next token is scored (``logits_to_keep``) and
``log_softmax`` only over each row's own continuation positions, in float32: a 3,000-token
perplexity document at batch 8 holds ``[8, 3000, vocab]`` logits in the model's dtype at most,
never a float32 copy of them, and a few-shot multiple-choice batch computes the head on the
answer tokens only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def score_batch(
    model: Any, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str
) -> list[float]:
    """Summed log-probability of each ``continuation`` given its ``context`` (token ids).

    Args:
        model: A transformers (or peft) causal LM on ``device``.
        pairs: ``(context ids, continuation ids)`` per row; a context has at least one token.
        pad_id: Token id for right padding (masked out).
        device: Where the model is.
    """
    import torch

    seqs = [ctx + cont for ctx, cont in pairs]
    width = max(len(s) for s in seqs)
    # Logits at position p predict token p + 1: row r needs positions len(ctx)-1 … end-1.
    spans = [range(len(ctx) - 1, len(ctx) + len(cont) - 1) for ctx, cont in pairs]
    keep = sorted({p for span in spans for p in span})
    if not keep:
        return [0.0 for _ in pairs]
    column = {p: k for k, p in enumerate(keep)}
    ids = torch.tensor([s + [pad_id] * (width - len(s)) for s in seqs], device=device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
    with torch.inference_mode():
        logits = _logits(model, ids, mask, torch.tensor(keep, device=device))
        totals = []
        for row, ((_, cont), span) in enumerate(zip(pairs, spans, strict=True)):
            if not cont:
                totals.append(0.0)
                continue
            cols = torch.tensor([column[p] for p in span], device=device)
            logp = torch.log_softmax(logits[row, cols].float(), dim=-1)
            target = torch.tensor(cont, device=device)
            totals.append(float(logp[torch.arange(len(cont), device=device), target].sum()))
    return totals


def _logits(model: Any, ids: Any, mask: Any, keep: Any) -> Any:
    """Logits at the ``keep`` positions only: ``[batch, len(keep), vocab]``."""
    try:
        out = model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=keep)
        return out.logits
    except TypeError:  # an architecture without ``logits_to_keep``: full logits, then select
        return model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, keep]
