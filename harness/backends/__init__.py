"""Model backends, found by registry name (``--backend hf``)."""

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

__all__ = [
    "AdapterSpec",
    "Backend",
    "BackendOptionError",
    "Loglikelihood",
    "LoglikelihoodRequest",
    "ModelInfo",
    "Rendered",
    "backends",
    "build_backend",
]


def build_backend(name: str, **options: object) -> Backend:
    """Builds the backend registered as ``name`` with ``options`` as constructor arguments.

    Raises:
        BackendOptionError: The backend does not take one of the options (``base_url`` means
            nothing to ``hf``); the message names them and what the backend does take.
    """
    import inspect

    cls = backends.get(name)
    params = inspect.signature(cls).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in options if not takes_all and k not in params]
    if unknown:
        given = ", ".join(f"{k} (--{k.replace('_', '-')})" for k in unknown)
        raise BackendOptionError(
            f"backend {name!r} does not take {given}; drop it or pick a backend that does. "
            f"{name} takes: {', '.join(params)}"
        )
    return cls(**options)  # type: ignore[no-any-return]
