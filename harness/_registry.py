"""One registry for everything harness finds by name: tasks, backends, scorers, judges.

Entries are registered three ways: by decorator at import time, lazily as ``"module:attr"``
strings (so listing names never imports torch), and through the entry-point group
``harness.<kind>`` (so third-party packages and our own ``tasks`` package plug in without
``harness`` importing them). A typo gets a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from harness._errors import HarnessError

T = TypeVar("T")


class UnknownNameError(HarnessError):
    """A name that no registry entry matches."""


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names to objects of one kind, resolved lazily.

    Args:
        kind: What is registered ("task", "backend", ...); used in messages and as the
            entry-point group suffix (``harness.<kind>s``).
        list_command: The command that lists the names (``"harness tasks"``), named in the
            error for an unknown name; None: the error lists the names itself. A test checks
            every command named this way exists.
    """

    def __init__(self, kind: str, list_command: str | None = None) -> None:
        self.kind = kind
        self.list_command = list_command
        self._objects: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, obj: T | str) -> None:
        """Registers ``obj`` (or a ``"module:attr"`` reference to it) under ``name``."""
        if isinstance(obj, str):
            self._lazy[name] = obj
        else:
            self._objects[name] = obj
            self._lazy.pop(name, None)

    def register_if_absent(self, name: str, obj: T) -> None:
        """Registers ``obj`` unless ``name`` is already taken (entry points are not loaded)."""
        if name not in self._objects and name not in self._lazy:
            self._objects[name] = obj

    def decorator(self, name: str | None = None) -> Callable[[T], T]:
        """Returns a decorator registering the decorated object under ``name`` (or its name)."""

        def wrap(obj: T) -> T:
            key = name or getattr(obj, "__name__", None)
            if not isinstance(key, str):
                raise TypeError(f"{obj!r} has no __name__; pass the {self.kind} name explicitly")
            self.register(key, obj)
            return obj

        return wrap

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"harness.{self.kind}s"):
            table = ep.name == "builtin" or ep.attr.isupper()  # a dict of name -> reference
            target = ep.load() if table else ep.value
            refs = target if isinstance(target, dict) else {ep.name: target}
            for name, ref in refs.items():
                if name not in self._objects:
                    self._lazy.setdefault(name, ref)

    def names(self) -> list[str]:
        """All registered names, sorted, without importing anything."""
        self._load_entry_points()
        return sorted(set(self._objects) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        """Returns the object registered under ``name``.

        Raises:
            UnknownNameError: No such name; the message suggests the closest ones.
        """
        self._load_entry_points()
        if name in self._objects:
            return self._objects[name]
        if name in self._lazy:
            obj = _load(self._lazy[name])
            self._objects[name] = obj
            return obj
        hint = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        did_you_mean = f" Did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
        if self.list_command:
            listing = f"Run `{self.list_command}` to list them."
        else:
            listing = f"Known {self.kind}s: {', '.join(self.names())}."
        raise UnknownNameError(f"unknown {self.kind} {name!r}.{did_you_mean} {listing}")

    def items(self) -> Iterator[tuple[str, T]]:
        """Yields every (name, object), importing lazy entries."""
        for name in self.names():
            yield name, self.get(name)
