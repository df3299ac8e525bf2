"""Stored runs back into typed values: scorers rebuilt from the record, samples and scores.

A run record names every scorer with its registry name and arguments, and ``samples.jsonl``
keeps each item's target, outputs and per-scorer scores (with the metadata a corpus metric
needs, such as the hypothesis of BLEU or the slot counts of ViGGO). That is enough to recompute
a corpus metric on resampled items — how reports and the gate compare corpus metrics — and to
re-score a run with other scorers (`harness rescore`), with no model, backend or cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from harness._categories import MACRO_SUFFIX, categories_of, macro_statistic, split_metric
from harness._errors import DataError, HarnessError
from harness._registry import UnknownNameError
from harness._scorer import Scorer, scorers
from harness._types import Message, Output, Prompt, Sample, Score
from harness.record import RunRecord, SampleRecord, ScoreRecord
from harness.stats import CLUSTER_KEY, canonical


class StoredRun(Protocol):
    """What is read from a run folder (`harness.runstore.LoadedRun` is one)."""

    record: RunRecord
    samples: list[SampleRecord]


def scorer_class(name: str, record: RunRecord) -> type[Scorer]:
    """The scorer class registered as ``name``; builds the run's task first if that is what
    registers it (scorers defined in a task file)."""
    try:
        return scorers.get(name)  # type: ignore[no-any-return]
    except UnknownNameError:
        from harness._loader import get_task

        try:
            get_task(record.task.name, **record.task.params)
        except Exception as e:  # the task may be gone or need data; say which scorer is missing
            raise DataError(
                f"scorer {name!r} of task {record.task.name!r} is not registered and building "
                f"the task failed: {' '.join(str(e).split())[:200]}"
            ) from e
        return scorers.get(name)  # type: ignore[no-any-return]


def build_scorer(spec: dict[str, Any], record: RunRecord) -> Scorer:
    """The scorer a run record's ``scorers`` entry names, built with its arguments."""
    cls = scorer_class(str(spec["name"]), record)
    try:
        return cls(**spec.get("args", {}))
    except TypeError as e:
        raise DataError(f"scorer {spec['name']!r} cannot be rebuilt: {e}") from e


def to_sample(s: SampleRecord) -> Sample:
    """A `Sample` with the stored id, target and metadata (the prompt as its rendered text)."""
    if isinstance(s.prompt, list):
        msgs = tuple(Message(m.get("role", "user"), str(m.get("content", ""))) for m in s.prompt)
        text = "\n".join(m.content for m in msgs)
    else:
        msgs, text = (), str(s.prompt)
    return Sample(
        id=s.id, prompt=Prompt(messages=msgs, text=text), target=s.target, metadata=s.metadata
    )


def to_output(s: SampleRecord) -> Output:
    """The stored completions (and choice log-probabilities) as an `Output`."""
    return Output(texts=list(s.outputs), choice_logprobs=s.choice_logprobs, errors=list(s.errors))


def to_score(r: ScoreRecord) -> Score:
    """A stored score as a `Score`."""
    return Score(
        values=dict(r.values), answer=r.answer, explanation=r.explanation, metadata=r.metadata
    )


def corpus_statistic(
    run: StoredRun, metric: str, ids: Sequence[str]
) -> Callable[[Any], float] | None:
    """``metric`` of ``run`` as a function of index arrays into ``ids``, or None when no
    scorer of the run computes ``metric`` as a corpus statistic (or an item lacks its score)."""
    by_id = {s.id: s for s in run.samples}
    macro = _macro_statistic(run, metric, ids)
    if macro is not None:
        return macro
    for spec in run.record.scorers:
        try:
            cls = scorer_class(str(spec["name"]), run.record)
        except HarnessError:  # a scorer no longer registered computes nothing here
            continue
        base = split_metric(metric)[0]
        if base not in cls.metrics or cls.corpus_statistics is Scorer.corpus_statistics:
            continue
        sc = build_scorer(spec, run.record)
        stored = [by_id[i].scores.get(sc.name) if i in by_id else None for i in ids]
        if any(r is None for r in stored):
            return None
        samples = [to_sample(by_id[i]) for i in ids]
        stats = sc.corpus_statistics([to_score(r) for r in stored if r is not None], samples)
        if metric in stats:
            return stats[metric]
        if base in stats and base != metric:
            return _restricted(run, metric, ids)
    return None


def _restricted(run: StoredRun, metric: str, ids: Sequence[str]) -> Callable[[Any], float] | None:
    """A corpus ``METRIC@CATEGORY``: METRIC recomputed on the resampled items of the category
    (a resample of all items holds a varying number of them)."""
    import numpy as np

    base, category = split_metric(metric)
    key = run.record.task.categories
    if category is None or key is None:
        return None
    by_id = {s.id: s for s in run.samples}
    inside = [i for i, x in enumerate(ids) if category in categories_of(by_id[x].metadata, key)]
    fn = corpus_statistic(run, base, [ids[i] for i in inside]) if inside else None
    if fn is None:
        return None
    position = np.full(len(ids), -1, dtype=int)
    position[inside] = np.arange(len(inside))
    stat = fn

    def restricted(idx: Any) -> float:
        mapped = position[np.asarray(idx, dtype=int)]
        mapped = mapped[mapped >= 0]
        return float(stat(mapped)) if len(mapped) else float("nan")

    return restricted


def _macro_statistic(
    run: StoredRun, metric: str, ids: Sequence[str]
) -> Callable[[Any], float] | None:
    """``METRIC_macro`` (mean over categories of METRIC's per-item means) as a function of an
    index array into ``ids``; None unless the run's task has one category per item."""
    key = run.record.task.categories
    if key is None or not metric.endswith(MACRO_SUFFIX) or metric not in run.record.metrics:
        return None
    base = metric[: -len(MACRO_SUFFIX)]
    by_id = {s.id: s for s in run.samples}
    labels = [categories_of(by_id[i].metadata, key) if i in by_id else [] for i in ids]
    if not ids or any(len(c) != 1 for c in labels):
        return None
    values = [_item_value(by_id[i], base) for i in ids]
    if all(v is None for v in values):
        return None
    return macro_statistic(values, [c[0] for c in labels])


def _item_value(sample: SampleRecord, metric: str) -> float | None:
    for score in sample.scores.values():
        if metric in score.values:
            return score.values[metric]
    return None


def clusters_of(samples: Sequence[SampleRecord], ids: Sequence[str]) -> list[str] | None:
    """Cluster labels of ``ids`` (`harness.CLUSTER_KEY` in sample metadata), or None when the
    task declares none or every cluster holds one item."""
    by_id = {s.id: s for s in samples}
    labels = [by_id[i].metadata.get(CLUSTER_KEY) if i in by_id else None for i in ids]
    if not labels or any(v is None for v in labels):
        return None
    keys = [canonical(v) for v in labels]
    return keys if len(set(keys)) < len(keys) else None
