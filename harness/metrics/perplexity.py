"""Token-weighted perplexity from summed log-likelihoods.

Each sample is one document scored as ``context`` + ``continuation`` (a log-likelihood task with
a single choice). A causal LM cannot score the first token of a text without something before
it, so `split_context` keeps the document's first word as unscored context and the rest is
scored; the backend reports the summed log-probability and the number of tokens it scored.
Perplexity = exp(-Σ logp / Σ tokens) over all documents (longer documents weigh more), with a
percentile-bootstrap interval over documents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from harness._aggregate import bootstrap_metric
from harness._scorer import Scorer, scorer
from harness._types import MetricValue, Output, Sample, Score

CONTEXT_NOTE = "the first word of each document is conditioning context and is not scored"


def split_context(text: str) -> tuple[str, str]:
    """``(first word, rest)``; the rest keeps its leading space so tokenisation matches."""
    m = re.match(r"\s*\S+", text)
    if m is None:
        return "", ""
    return m.group(0), text[m.end() :]


@scorer("perplexity", metrics=("perplexity", "nll"))
class Perplexity(Scorer):
    """Token-weighted perplexity of the continuations (``sample.choices[0]``).

    Args:
        resamples: Bootstrap resamples for the interval.
    """

    name = "perplexity"

    def __init__(self, resamples: int = 1000) -> None:
        super().__init__(resamples=resamples)
        self.resamples = resamples

    def __call__(self, sample: Sample, output: Output) -> Score:
        lp = (output.choice_logprobs or [math.nan])[0]
        tokens = (output.choice_tokens or [0])[0]
        ok = tokens > 0 and math.isfinite(lp) and not output.errors
        return Score(
            values={"nll": -lp / tokens if ok else None},
            metadata={"logprob": lp if ok else None, "tokens": tokens if ok else 0},
        )

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        rows = [
            (s.metadata["logprob"], s.metadata["tokens"])
            for s in scores
            if s.metadata.get("tokens")
        ]

        def nll(rs: Sequence[Any]) -> float:
            total = sum(t for _, t in rs)
            return -sum(lp for lp, _ in rs) / total if total else math.nan

        mean_nll = bootstrap_metric(rows, nll, resamples=self.resamples)
        ppl = bootstrap_metric(rows, lambda rs: math.exp(nll(rs)), resamples=self.resamples)
        return {"perplexity": ppl, "nll": mean_nll}

    def corpus_statistics(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, Callable[[Any], float]]:
        """Token-weighted NLL and perplexity of any resample (the numbers in the run record;
        the per-item ``nll`` is each item's own per-token mean)."""
        import numpy as np

        lp = np.asarray([s.metadata.get("logprob") or 0.0 for s in scores], dtype=float)
        tokens = np.asarray([s.metadata.get("tokens") or 0 for s in scores], dtype=float)

        def nll(idx: Any) -> float:
            total = tokens[idx].sum()
            return float(-lp[idx].sum() / total) if total else math.nan

        return {"nll": nll, "perplexity": lambda idx: math.exp(nll(idx))}

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """Totals behind the number and how the first tokens were handled."""
        scored = [s for s in scores if s.metadata.get("tokens")]
        return {
            "perplexity": {
                "documents": len(scores),
                "documents_scored": len(scored),
                "tokens_scored": sum(s.metadata["tokens"] for s in scored),
                "logprob_sum": sum(s.metadata["logprob"] for s in scored),
                "context": CONTEXT_NOTE,
            }
        }
