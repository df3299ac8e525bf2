"""The PCA view of a drift comparison: both samples' embeddings on their first two principal
components (of the pooled rows), as PNG bytes. matplotlib is imported here (Agg, no display)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def pca_scatter(ea: np.ndarray, eb: np.ndarray, label_a: str, label_b: str) -> bytes:
    """A scatter of ``ea`` and ``eb`` projected on the pooled top two principal components."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    pooled = np.concatenate([ea, eb])
    centred = pooled - pooled.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    share = (s[:2] ** 2) / float(np.sum(s**2) or 1.0)
    fig, ax = plt.subplots(figsize=(6.0, 4.8), dpi=110)
    n = len(ea)
    ax.scatter(xy[:n, 0], xy[:n, 1], s=8, alpha=0.5, label=f"A: {label_a}")
    ax.scatter(xy[n:, 0], xy[n:, 1], s=8, alpha=0.5, label=f"B: {label_b}")
    ax.set_xlabel(f"PC1 ({share[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({share[1]:.0%} of variance)" if len(share) > 1 else "PC2")
    ax.set_title("Embeddings, first two principal components")
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
