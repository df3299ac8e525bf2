"""One registered scorer per RAGAS metric, so a task file can name the metric it wants.

``metrics: [ragas_semantic_similarity]`` is `judges.ragas_metrics.RagasScorer` computing that
one metric; the arguments are the same as RagasScorer's, less ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness import scorer
from judges.client import JudgeClient
from judges.config import JudgeConfig
from judges.ragas_metrics import RagasScorer


class _OneMetric(RagasScorer):
    metric = ""

    def __init__(
        self,
        config: JudgeConfig | None = None,
        weights: Sequence[float] = (0.75, 0.25),
        max_tokens: int = 1024,
        client: JudgeClient | None = None,
        embeddings_model: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            (self.metric,), config, weights, max_tokens, client, embeddings_model, overrides
        )


@scorer(
    "ragas_answer_correctness", metrics=("answer_correctness", "answer_correctness_failure_rate")
)
class AnswerCorrectness(_OneMetric):
    """RAGAS answer correctness against the reference (judge LLM + embeddings)."""

    metric = "answer_correctness"


@scorer(
    "ragas_semantic_similarity", metrics=("semantic_similarity", "semantic_similarity_failure_rate")
)
class SemanticSimilarity(_OneMetric):
    """Cosine similarity of MiniLM embeddings of answer and reference (no LLM call)."""

    metric = "semantic_similarity"


@scorer("ragas_faithfulness", metrics=("faithfulness", "faithfulness_failure_rate"))
class Faithfulness(_OneMetric):
    """Share of the answer's claims supported by ``metadata["contexts"]`` (judge LLM)."""

    metric = "faithfulness"
