"""Loading run folders for reports and gates, and comparing two runs metric by metric.

Reports and gates both start from run folders written by the runner (``run.json`` +
``samples.jsonl``). This module finds them (a run folder, or any folder holding run folders),
reads each once, extracts per-item metric values, picks the baseline an adapter run should be
compared with, and runs the right test from `harness.stats` on a pair of runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from harness._categories import categories_of, split_metric
from harness._errors import DataError
from harness.record import MetricRecord, RunRecord, SampleRecord, read_run, read_samples
from harness.stats import (
    Comparison,
    Pairing,
    bootstrap_statistic,
    compare,
    pair_samples,
    paired_statistic,
)

# Metric-name words that mean "lower is better"; any other metric is taken as higher-is-better.
LOWER_IS_BETTER_WORDS = frozenset(
    {
        "error",
        "errors",
        "invalid",
        "loss",
        "perplexity",
        "ppl",
        "wer",
        "cer",
        "latency",
        "refusal",
        "refusals",
        "toxicity",
        "timeout",
        "timeouts",
    }
)


def lower_is_better(metric: str) -> bool:
    """Whether a metric name says lower values are better (``*_no_match``, ``error_rate``,
    ``counterfactual_change_rate`` ...)."""
    name = split_metric(metric)[0].lower()  # acc@error_analysis is still an accuracy
    words = set(re.split(r"[^a-z0-9]+", name))
    return "no_match" in name or "change_rate" in name or bool(words & LOWER_IS_BETTER_WORDS)


@dataclass
class LoadedRun:
    """One run folder, read.

    Attributes:
        path: The run folder.
        record: Its ``run.json``.
        samples: Its ``samples.jsonl``.
    """

    path: Path
    record: RunRecord
    samples: list[SampleRecord]

    @property
    def task(self) -> str:
        """Registry name of the task."""
        return self.record.task.name

    @property
    def adapter(self) -> str | None:
        """Adapter name, or None for a base-model run."""
        a = self.record.model.adapter
        return a.name if a else None

    @property
    def label(self) -> str:
        """Row label: the model's short name, plus the adapter if any."""
        name = Path(self.record.model.id.rstrip("/")).name or self.record.model.id
        return f"{name} + {self.adapter}" if self.adapter else name

    def metric(self, name: str) -> MetricRecord | None:
        """The aggregated metric from ``run.json`` (None if the run lacks it)."""
        return self.record.metrics.get(name)

    def values(self, metric: str) -> dict[str, float | None]:
        """Per-item values of ``metric`` by sample id (empty when no scorer records it).

        ``metric`` may be a bare metric name or ``scorer/metric`` / ``scorer.metric``;
        ``METRIC@CATEGORY`` gives the scorer's own values of that name, else METRIC's values of
        the items in that category (`harness._categories`); ``METRIC@clean`` of an adapter
        run, METRIC's values of the items not in its training data (`harness.contamination`).
        """
        out: dict[str, float | None] = {}
        for s in self.samples:
            found, value = _lookup(s, metric)
            if found:
                out[s.id] = value
        base, category = split_metric(metric)
        key = self.record.task.categories
        if out or category is None:
            return out
        for s in self.samples:  # METRIC@CATEGORY: METRIC on the category's items
            if key is not None and category in categories_of(s.metadata, key):
                found, value = _lookup(s, base)
                if found:
                    out[s.id] = value
        c = self.record.contamination
        if not out and category == "clean" and c is not None and c.status == "checked":
            for s in self.samples:  # METRIC@clean: METRIC on the items not flagged
                found, value = _lookup(s, base)
                if found and s.contaminated is False:
                    out[s.id] = value
        return out


def _lookup(sample: SampleRecord, metric: str) -> tuple[bool, float | None]:
    for score in sample.scores.values():
        if metric in score.values:
            return True, score.values[metric]
    for sep in ("/", "."):
        scorer, _, rest = metric.partition(sep)
        if rest and scorer in sample.scores and rest in sample.scores[scorer].values:
            return True, sample.scores[scorer].values[rest]
    if metric in sample.output_metrics:  # reasoning_truncated_rate, length_cut_rate
        return True, sample.output_metrics[metric]
    return False, None


def load_run(folder: Path) -> LoadedRun:
    """Reads one run folder; a missing or malformed file is a `DataError` naming it."""
    try:
        record = read_run(folder)
        samples = read_samples(folder) if (folder / "samples.jsonl").exists() else []
    except FileNotFoundError as e:
        raise DataError(f"{folder}: not a run folder ({e.filename} is missing)") from e
    except (ValueError, ValidationError) as e:
        first = str(e).strip().splitlines()[0]
        raise DataError(f"{folder}: unreadable run record: {first}") from e
    return LoadedRun(folder, record, samples)


def load_runs(paths: Iterable[Path | str]) -> list[LoadedRun]:
    """Reads run folders; a path may be a run folder or any folder holding run folders."""
    runs: list[LoadedRun] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"{p}: no such run folder")
        folders = (
            [p] if (p / "run.json").is_file() else sorted(f.parent for f in p.rglob("run.json"))
        )
        if not folders:
            raise DataError(f"{p}: holds no run.json; pass run folders written by `harness run`")
        for f in folders:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                runs.append(load_run(f))
    return runs


def find_baseline(cand: LoadedRun, pool: Sequence[LoadedRun]) -> LoadedRun | None:
    """The base-model run to compare ``cand`` with.

    Preference: a base run of the same task in the same group (same items, same engine);
    then a base run of the same task and model id; then the only run of the task in ``pool``.
    """
    same_task = [r for r in pool if r.task == cand.task and r is not cand]
    bases = [r for r in same_task if r.adapter is None]
    gid = cand.record.group_id
    for rule in (
        lambda r: gid is not None and r.record.group_id == gid,
        lambda r: r.record.model.id == cand.record.model.id,
    ):
        hits = [r for r in bases if rule(r)]
        if hits:
            return hits[-1]
    if len(same_task) == 1:
        return same_task[0]
    return None


@dataclass
class RunComparison:
    """One metric of a candidate run against a baseline run.

    Attributes:
        metric: Metric name.
        pairing: How the items lined up.
        result: The statistical comparison.
        same_group: Whether both runs came from one engine invocation (same ``group_id``).
        corpus: Whether the metric is a corpus statistic (recomputed on each resample).
    """

    metric: str
    pairing: Pairing
    result: Comparison
    same_group: bool
    corpus: bool = False

    @property
    def label(self) -> str:
        """ "paired" or "unpaired (reason)", for tables."""
        if self.pairing.paired:
            text = "paired" if self.same_group else "paired by item id"
            if self.result.clusters is not None:
                text += f", {self.result.clusters} clusters"
            return text
        return f"unpaired ({self.pairing.reason})"


def _clean(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def is_corpus(run: LoadedRun, metric: str) -> bool:
    """Whether ``metric`` of ``run`` is a corpus statistic rather than a mean of item values."""
    from harness.runstore._stored import corpus_statistic

    scored = [s.id for s in run.samples if s.scores]
    return bool(scored) and corpus_statistic(run, metric, scored) is not None


def name_mismatch(run: LoadedRun, metric: str) -> str | None:
    """Why ``metric``'s per-item values are not the number ``run.json`` shows under that name.

    A metric name means one number: when the per-item mean differs from the recorded value
    (a run made before per-item BLEU was renamed ``bleu_sentence``), comparing the items would
    compare another number under the same name.
    """
    rec = run.metric(metric)
    values = _clean(run.values(metric).values())
    if rec is None or rec.value is None or not values:
        return None
    mean = sum(values) / len(values)
    if math.isclose(mean, rec.value, rel_tol=1e-6, abs_tol=1e-9) or is_corpus(run, metric):
        return None
    return (
        f"{run.path}: per-item {metric!r} values average {mean:.4g} but run.json records "
        f"{metric} = {rec.value:.4g} (another number under the same name); re-score the run "
        "with `harness rescore` to get separate names"
    )


def compare_metric(
    base: LoadedRun,
    cand: LoadedRun,
    metric: str,
    *,
    alpha: float = 0.05,
    seed: int = 0,
    resamples: int = 2000,
) -> RunComparison | None:
    """Compares ``metric`` between two runs (None when either run has no values of it).

    Corpus metrics are compared by a paired bootstrap that recomputes them on each resample
    (paired runs only); per-item metrics item by item. When the task clusters its items
    (`harness.CLUSTER_KEY`), per-item metrics use a sign-flip randomisation test over
    clusters and corpus metrics a bootstrap that resamples whole clusters.
    """
    from harness.runstore._stored import clusters_of, corpus_statistic

    pairing = pair_samples(base.samples, cand.samples)
    same = base.record.group_id is not None and base.record.group_id == cand.record.group_id
    if pairing.paired:
        scored = {s.id for s in base.samples if s.scores} & {s.id for s in cand.samples if s.scores}
        ids = [i for i in pairing.ids if i in scored]
        fb, fc = corpus_statistic(base, metric, ids), corpus_statistic(cand, metric, ids)
        if fb is not None and fc is not None:
            result = paired_statistic(
                fb, fc, len(ids), alpha, resamples, seed, clusters_of(base.samples, ids)
            )
            return RunComparison(metric, pairing, result, same, corpus=True)
    bv, cv = base.values(metric), cand.values(metric)
    if not bv or not cv:
        return None
    if pairing.paired:
        kept = [
            (i, bv.get(i), cv.get(i))
            for i in pairing.ids
            if _finite(bv.get(i)) and _finite(cv.get(i))
        ]
        if not kept:
            return None
        ids = [i for i, _, _ in kept]
        result = compare(
            [float(b) for _, b, _ in kept if b is not None],
            [float(c) for _, _, c in kept if c is not None],
            paired=True,
            alpha=alpha,
            seed=seed,
            resamples=resamples,
            clusters=clusters_of(base.samples, ids),
        )
    else:
        b_clean, c_clean = _clean(bv.values()), _clean(cv.values())
        if not b_clean or not c_clean:
            return None
        result = compare(b_clean, c_clean, paired=False, alpha=alpha)
    return RunComparison(metric, pairing, result, same)


def _finite(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


def cluster_interval(
    run: LoadedRun, metric: str, corpus: bool, alpha: float, seed: int = 0, resamples: int = 2000
) -> tuple[float, tuple[float, float], str] | None:
    """(value, two-sided ``1 - 2*alpha`` bootstrap interval, n text) of ``metric`` in one run,
    for corpus metrics and clustered items; None when per-item tests apply."""
    import numpy as np

    from harness.runstore._stored import clusters_of, corpus_statistic

    if corpus:
        ids = [s.id for s in run.samples if s.scores]
        fn = corpus_statistic(run, metric, ids)
    else:
        vals = {k: v for k, v in run.values(metric).items() if _finite(v)}
        ids = list(vals)
        arr = np.asarray([vals[i] for i in ids], dtype=float)
        fn = None if not ids else (lambda idx: float(arr[idx].mean()))
    clusters = clusters_of(run.samples, ids)
    if fn is None or (not corpus and clusters is None):
        return None
    point, lo, hi = bootstrap_statistic(fn, len(ids), 2 * alpha, resamples, seed, clusters)
    n = f"{len(ids)}" + (f", {len(set(clusters))} clusters" if clusters else "")
    return point, (lo, hi), n
