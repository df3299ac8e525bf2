"""The automatic check of ``harness run --adapter``: training data against the evaluated items.

Before a task's variants are generated, each adapter's training data (as its manifest names
it) is checked against the task's items (`check_adapter`). The run record then carries the
summary (`harness.record.ContaminationRecord`), every sample ``contaminated: true|false``
with both tests' details (`mark_samples`), and every metric again as ``METRIC@clean`` over
the items not flagged, with its own n and interval (`clean_metrics`). Data that cannot be
read as it was trained on leaves the run ``unchecked``, said in one line on stderr, without
``@clean`` metrics: nothing is called clean that was not checked. An adapter with no record of
its training data (not trained by harness) is ``unknown`` in the record, also without
``@clean`` metrics.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness._errors import DataError
from harness._types import MetricValue
from harness.contamination._check import ItemResult, Settings, check_items
from harness.contamination._sources import (
    UncheckedError,
    UnknownTrainingData,
    adapter_training,
    training_docs,
)
from harness.record import ContaminationRecord, SampleRecord

if TYPE_CHECKING:
    from harness._scorer import Scorer
    from harness._types import Sample, Score
    from harness.backends._base import AdapterSpec

CLEAN = "clean"  # the suffix of ``METRIC@clean``


@dataclass
class AdapterCheck:
    """One adapter's check on one task's items: the record's summary and per-item results."""

    record: ContaminationRecord
    items: dict[str, ItemResult] = field(default_factory=dict)

    @property
    def flagged(self) -> set[str]:
        return set(self.record.flagged)

    @property
    def checked(self) -> bool:
        return self.record.status == "checked"


def item_text(sample: Sample) -> str:
    """What an item is, without the prompt around it: its last user turn (few-shot
    exemplars and system text excluded) and any follow-up turns."""
    from harness.drift._sources import _last_user_turn

    return "\n".join(
        [_last_user_turn(sample.prompt.messages, sample.prompt.text), *sample.followups]
    )


def check_adapter(
    adapter: AdapterSpec, task: str, samples: Sequence[Sample], settings: Settings | None = None
) -> AdapterCheck:
    """Checks ``adapter``'s training data against ``samples``; unreadable data is unchecked
    (one line on stderr)."""
    items = [(s.id, item_text(s)) for s in samples]
    try:
        training = adapter_training(adapter.path)
        check = check_items(items, training_docs(training), settings)
    except UnknownTrainingData as e:  # not trained by harness: said in the record and report
        return AdapterCheck(ContaminationRecord(status="unknown", reason=str(e), n=len(items)))
    except ImportError as e:
        return _unchecked(adapter, task, len(items), f"{e}; pip install 'harness[contamination]'")
    except (UncheckedError, DataError, OSError) as e:
        return _unchecked(adapter, task, len(items), str(e))
    record = ContaminationRecord(
        status="checked",
        training=training.describe(),
        training_fingerprint=training.fingerprint,
        **check.model_dump(exclude={"items", "training_texts"}),
    )
    if record.flagged:
        shown = ", ".join(record.flagged[:5]) + (", ..." if len(record.flagged) > 5 else "")
        print(
            f"harness: {len(record.flagged)} of {record.n} {task} items are in the training "
            f"data of adapter {adapter.name} ({shown}); metrics@{CLEAN} leave them out",
            file=sys.stderr,
        )
    return AdapterCheck(record, {r.id: r for r in check.items})


def _unchecked(adapter: AdapterSpec, task: str, n: int, reason: str) -> AdapterCheck:
    print(
        f"harness: contamination unchecked for adapter {adapter.name} on {task}: {reason}",
        file=sys.stderr,
    )
    return AdapterCheck(ContaminationRecord(status="unchecked", reason=reason, n=n))


def mark_samples(samples: list[SampleRecord], check: AdapterCheck | None) -> list[SampleRecord]:
    """Sets ``contaminated`` (and the tests' details) on each sample of a checked run."""
    if check is None or not check.checked:
        return samples
    for s in samples:
        result = check.items.get(s.id)
        if result is not None:
            s.contaminated = result.contaminated
            s.contamination = result.model_dump(exclude={"id", "contaminated"})
    return samples


def clean_metrics(
    scorers: Sequence[Scorer],
    scores: Sequence[Sequence[Score]],
    samples: Sequence[Sample],
    check: AdapterCheck | None,
) -> dict[str, MetricValue]:
    """Every scorer's metrics again over the items not flagged, named ``METRIC@clean``
    (NaN with n 0 when every item is flagged)."""
    if check is None or not check.checked:
        return {}
    keep = [k for k, s in enumerate(samples) if s.id not in check.flagged]
    out: dict[str, MetricValue] = {}
    for scorer, per_sample in zip(scorers, scores, strict=True):
        if keep:
            subset = scorer.aggregate([per_sample[k] for k in keep], [samples[k] for k in keep])
        else:
            subset = {k: MetricValue(math.nan) for k in scorer.aggregate(per_sample, samples)}
        out.update({f"{name}@{CLEAN}": mv for name, mv in subset.items()})
    return out
