"""Model backends, found by registry name (``--backend hf``)."""

from typing import Any

from harness._errors import BackendOptionError
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Rendered,
    backends,
)
from harness.backends._options import BackendOptions, FakeOptions, HFOptions, VLLMOptions

__all__ = [
    "AdapterSpec",
    "Backend",
    "BackendOptionError",
    "BackendOptions",
    "FakeOptions",
    "HFOptions",
    "Loglikelihood",
    "LoglikelihoodRequest",
    "ModelInfo",
    "Rendered",
    "VLLMOptions",
    "backend_keywords",
    "backends",
    "build_backend",
]


def backend_keywords(name: str) -> tuple[tuple[str, ...], bool]:
    """The keywords the backend registered as ``name`` takes (its options type's fields, or
    for a class without one its constructor's parameters), and whether it takes any keyword."""
    import inspect

    cls = backends.get(name)
    options_type: type[BackendOptions] | None = getattr(cls, "options_type", None)
    if options_type is not None:
        return options_type.names(), False
    params = inspect.signature(cls).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return tuple(params), takes_all


def build_backend(name: str, **options: object) -> Backend:
    """Builds the backend registered as ``name`` from ``options``, checked against its
    options type (`BackendOptions` subclass; for a class without one, its signature).

    Raises:
        BackendOptionError: The backend does not take one of the options (``base_url`` means
            nothing to ``hf``); the message names them and what the backend does take.
    """
    cls = backends.get(name)
    takes, takes_all = backend_keywords(name)
    unknown = [k for k in options if not takes_all and k not in takes]
    if unknown:
        given = ", ".join(f"{k} (--{k.replace('_', '-')})" for k in unknown)
        raise BackendOptionError(
            f"backend {name!r} does not take {given}; drop it or pick a backend that does. "
            f"{name} takes: {', '.join(takes)}"
        )
    options_type: type[BackendOptions] | None = getattr(cls, "options_type", None)
    if options_type is not None:
        typed: dict[str, Any] = dict(options)  # each value's type: the options dataclass's
        return cls(options_type(**typed))  # type: ignore[no-any-return]
    return cls(**options)  # type: ignore[no-any-return]
