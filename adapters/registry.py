"""The adapter registry lives in the engine (`harness.adapter_registry`), which resolves
``--adapter <name>``; the trainer registers what it writes through it."""

from harness.adapter_registry import find_adapter, known_adapters, list_adapters, register_adapter

__all__ = ["find_adapter", "known_adapters", "list_adapters", "register_adapter"]
