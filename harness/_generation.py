"""Generation overrides: the command line's (or a caller's) changes to each task's sampling.

One typed value, validated where it is made, so an unknown key or a value out of range
fails in one line before `run_eval` builds a backend (a model load can take minutes). Keys
left None keep the task's own `GenerationParams`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from harness._errors import HarnessError
from harness._types import GenerationParams


@dataclass(frozen=True)
class GenerationOverrides:
    """Changes to a task's generation parameters (None: the task's value).

    Attributes:
        max_new_tokens: Most tokens generated per completion (>= 1).
        temperature: Sampling temperature (>= 0; 0 is greedy).
        top_p: Nucleus sampling mass, in (0, 1].
        stop: Stop sequences (replace the task's).
        n: Completions per item (>= 1, pass@k).
        seed: Sampling seed.

    Raises:
        HarnessError: A value is out of range or of the wrong type.
    """

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    n: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        checks: dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]] = {
            "max_new_tokens": (int, lambda v: v >= 1, "an integer >= 1"),
            "temperature": ((int, float), lambda v: v >= 0, "a number >= 0"),
            "top_p": ((int, float), lambda v: 0 < v <= 1, "a number in (0, 1]"),
            "n": (int, lambda v: v >= 1, "an integer >= 1"),
            "seed": (int, lambda v: True, "an integer"),
        }
        for key, (kind, ok, what) in checks.items():
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
                raise HarnessError(f"generation {key}={value!r}: must be {what}")
        if self.stop is not None:
            if isinstance(self.stop, str):
                object.__setattr__(self, "stop", (self.stop,))
            elif not all(isinstance(s, str) for s in self.stop):
                raise HarnessError(f"generation stop={self.stop!r}: must be strings")
            else:
                object.__setattr__(self, "stop", tuple(self.stop))

    @classmethod
    def of(cls, value: GenerationOverrides | Mapping[str, Any] | None) -> GenerationOverrides:
        """``value`` as overrides: a mapping's keys are checked against the fields.

        Raises:
            HarnessError: An unknown key (the known ones are listed) or a bad value.
        """
        if value is None:
            return cls()
        if isinstance(value, GenerationOverrides):
            return value
        known = [f.name for f in fields(cls)]
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            raise HarnessError(
                f"unknown generation parameter {unknown[0]!r}; known: {', '.join(known)}"
            )
        return cls(**dict(value))

    def apply(self, params: GenerationParams) -> GenerationParams:
        """``params`` with the overrides that are set."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(params, **{k: v for k, v in given.items() if v is not None})
