"""LoRA adapter handling: naming adapters, loading their folders, checking they fit a model.

`registry` maps names to adapter folders (``harness train`` registers what it writes);
`load_adapter` turns a folder or name into an `AdapterSpec` with its weights hashed; and
`check_adapters` (run by every backend before generating) rejects an adapter trained on
another base model, of too high a rank, or targeting modules the model lacks.
"""

from harness.lora._checks import check_adapters
from harness.lora._load import load_adapter
from harness.lora.registry import find_adapter, known_adapters, list_adapters, register_adapter

__all__ = [
    "check_adapters",
    "find_adapter",
    "known_adapters",
    "list_adapters",
    "load_adapter",
    "register_adapter",
]
