"""The adapter registry's public path; it lives in `harness.lora.registry`."""

from harness.lora.registry import find_adapter, known_adapters, list_adapters, register_adapter

__all__ = ["find_adapter", "known_adapters", "list_adapters", "register_adapter"]
