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
]
