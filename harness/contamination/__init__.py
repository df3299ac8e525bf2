"""Contamination: does an adapter's training data contain the items it is scored on?

Two tests per item, both recorded (`check_items`): word 13-gram overlap after lowercasing and
stripping punctuation (GPT-3, lm-evaluation-harness), and near-duplicates by MinHash LSH
(Jaccard >= 0.8 on word 5-grams, `datasketch`). ``harness train`` stores a `TrainingData`
reference in the adapter manifest; ``harness run --adapter`` re-reads that data, marks each
sample ``contaminated`` and reports every metric also as ``METRIC@clean`` on the rest;
``harness contamination`` runs the same check by hand. Data that cannot be read as trained on
is ``unchecked``, never clean.
"""

from harness.contamination._check import Check, ItemResult, Settings, check_items
from harness.contamination._sources import (
    TrainingData,
    TrainingFile,
    TrainingTask,
    UncheckedError,
    UnknownTrainingData,
    adapter_training,
    file_reference,
    parse_training,
    training_docs,
)

__all__ = [
    "Check",
    "ItemResult",
    "Settings",
    "TrainingData",
    "TrainingFile",
    "TrainingTask",
    "UncheckedError",
    "UnknownTrainingData",
    "adapter_training",
    "check_items",
    "file_reference",
    "parse_training",
    "training_docs",
]
