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

from harness._errors import DataError
from harness.record import MetricRecord, RunRecord, SampleRecord, read_run, read_samples
from harness.stats import Comparison, Pairing, compare, pair_samples

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
    name = metric.lower()
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

        ``metric`` may be a bare metric name or ``scorer/metric`` / ``scorer.metric``.
        """
        out: dict[str, float | None] = {}
        for s in self.samples:
            found, value = _lookup(s, metric)
            if found:
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
    """

    metric: str
    pairing: Pairing
    result: Comparison
    same_group: bool

    @property
    def label(self) -> str:
        """ "paired" or "unpaired (reason)", for tables."""
        if self.pairing.paired:
            return "paired" if self.same_group else "paired by item id"
        return f"unpaired ({self.pairing.reason})"


def _clean(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def compare_runs(
    base: LoadedRun,
    cand: LoadedRun,
    metric: str,
    *,
    alpha: float = 0.05,
    seed: int = 0,
) -> RunComparison | None:
    """Compares ``metric`` between two runs (None when either run has no per-item values)."""
    bv, cv = base.values(metric), cand.values(metric)
    if not bv or not cv:
        return None
    pairing = pair_samples(base.samples, cand.samples)
    if pairing.paired:
        pairs = [(bv.get(i), cv.get(i)) for i in pairing.ids]
        kept = [
            (b, c)
            for b, c in pairs
            if b is not None and c is not None and not math.isnan(b) and not math.isnan(c)
        ]
        if not kept:
            return None
        result = compare(
            [b for b, _ in kept], [c for _, c in kept], paired=True, alpha=alpha, seed=seed
        )
    else:
        b_clean, c_clean = _clean(bv.values()), _clean(cv.values())
        if not b_clean or not c_clean:
            return None
        result = compare(b_clean, c_clean, paired=False, alpha=alpha)
    same = base.record.group_id is not None and base.record.group_id == cand.record.group_id
    return RunComparison(metric, pairing, result, same)
