"""Test helper: a randomly initialised Llama of a few thousand weights (real transformers code,
milliseconds per forward pass on CPU)."""

from __future__ import annotations

from typing import Any


def tiny_llama(seed: int = 0, **config: Any) -> Any:
    """A ``LlamaForCausalLM`` in eval mode; ``config`` overrides the small defaults."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    settings: dict[str, Any] = {
        "vocab_size": 97,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
    }
    return LlamaForCausalLM(LlamaConfig(**(settings | config))).eval()
