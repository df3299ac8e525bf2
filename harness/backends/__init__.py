"""Model backends, found by registry name (``--backend hf``)."""

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
    "Loglikelihood",
    "LoglikelihoodRequest",
    "ModelInfo",
    "Rendered",
    "backends",
    "build_backend",
]


def build_backend(name: str, **options: object) -> Backend:
    """Builds the backend registered as ``name``, passing the options its constructor takes.

    Options a backend does not accept are dropped (``base_url`` means nothing to ``hf``), so
    the CLI can pass one set of options to any backend.
    """
    import inspect

    cls = backends.get(name)
    params = inspect.signature(cls).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = {k: v for k, v in options.items() if takes_all or k in params}
    return cls(**accepted)  # type: ignore[no-any-return]
