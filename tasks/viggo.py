"""ViGGO: turn a sentence about video games into its meaning representation (MR).

The data-to-text corpus of Juraska et al. (2019), used in reverse as in the fine-tuning
literature: the input is the ``ref`` sentence, the target its ``mr``. A raw row of
``$HARNESS_DATA_DIR/viggo/test.csv``::

    mr:  give_opinion(name[SpellForce 3], rating[poor], genres[real-time strategy])
    ref: I think that SpellForce 3 is one of the worst real-time strategy games ...

The prompt lists the allowed function names and attributes (derived from the train split, most
frequent first; a test keeps them in sync) and stays short, because prompt tokens dominate the
cost of CPU training. `format_example` gives the trainer the exact prompt used at eval time.

Metrics: exact match of the whole MR (whitespace-normalised), function-name accuracy, slot
precision/recall/F1 over ``attribute=value`` pairs (list values such as ``genres[action,
shooter]`` count one pair per item; values compare case-insensitively), both per sample and as a
corpus micro-average with a bootstrap interval, and attribute-order correctness. Each
meaning representation appears with several sentences, so items are clustered by their MR
(``metadata["cluster"]``): comparisons resample whole MRs, not sentences. The run record
carries the trivial baseline of function accuracy (always the most frequent function).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from harness import (
    CLUSTER_KEY,
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Message,
    MetricValue,
    Output,
    Prompt,
    Sample,
    Score,
    Scorer,
    Task,
    bootstrap_metric,
    dataset_dir,
    read_csv,
    scorer,
    task,
)

SPLITS = ("train", "valid", "test")

# Derived from train.csv by `derive_vocabulary` (most frequent first); tests/tasks/test_viggo.py
# checks they still match the data.
FUNCTIONS = (
    "inform",
    "give_opinion",
    "verify_attribute",
    "request",
    "recommend",
    "request_explanation",
    "confirm",
    "suggest",
    "request_attribute",
)
ATTRIBUTES = (
    "name",
    "genres",
    "rating",
    "platforms",
    "player_perspective",
    "release_year",
    "developer",
    "has_multiplayer",
    "esrb",
    "available_on_steam",
    "has_mac_release",
    "has_linux_release",
    "specifier",
    "exp_release_date",
)

# Space-separated lists tokenize shorter than comma-separated ones (~75 tokens in all).
SYSTEM_TEMPLATE = (
    "Give the meaning representation: function(attribute[value], ...)\n"
    "Functions: {functions}\nAttributes: {attributes}"
)
SYSTEM_PROMPT = SYSTEM_TEMPLATE.format(
    functions=" ".join(FUNCTIONS), attributes=" ".join(ATTRIBUTES)
)

_SLOT = re.compile(r"(\w+)\[([^\]]*)\]")
_MR = re.compile(r"([a-z_]+)\s*\((.*)\)", re.DOTALL)


@dataclass(frozen=True)
class MeaningRepresentation:
    """A parsed MR: the function name and its ``(attribute, value)`` slots, in order."""

    function: str
    slots: tuple[tuple[str, str], ...]

    @property
    def attributes(self) -> list[str]:
        return [a for a, _ in self.slots]

    def pairs(self) -> Counter[tuple[str, str]]:
        """The ``attribute=value`` pairs, list values split into one pair per item."""
        out: Counter[tuple[str, str]] = Counter()
        for attr, value in self.slots:
            items = [v.strip().lower() for v in value.split(",")] if value.strip() else [""]
            out.update((attr, v) for v in items)
        return out


def parse_mr(text: str) -> MeaningRepresentation:
    """Parses ``function(attr[value], ...)``; unparseable text gives an empty function."""
    first = text.strip().split("\n")[0]
    m = _MR.search(first) or _MR.search(text)
    if not m:
        return MeaningRepresentation("", ())
    return MeaningRepresentation(m.group(1), tuple(_SLOT.findall(m.group(2))))


def normalise(text: str) -> str:
    """The MR with whitespace collapsed (the form compared for exact match)."""
    first = text.strip().split("\n")[0]
    m = _MR.search(first) or _MR.search(text)
    core = m.group(0) if m else text
    return re.sub(r"\s+", " ", core.strip())


def derive_vocabulary(mrs: Iterable[str]) -> tuple[list[str], list[str]]:
    """Function names and attribute names seen in ``mrs``, most frequent first."""
    functions: Counter[str] = Counter()
    attributes: Counter[str] = Counter()
    for mr in mrs:
        parsed = parse_mr(mr)
        functions[parsed.function] += 1
        attributes.update(parsed.attributes)
    return [f for f, _ in functions.most_common()], [a for a, _ in attributes.most_common()]


def viggo_prompt(sentence: str) -> Prompt:
    """The prompt for one sentence: the system instruction and the sentence as the user turn."""
    return Prompt(
        messages=(Message("system", SYSTEM_PROMPT), Message("user", sentence)),
        text=f"{SYSTEM_PROMPT}\nSentence: {sentence}\nMeaning representation:",
    )


def format_example(row: dict[str, str]) -> dict[str, Any]:
    """One training example with the eval-time prompt: ``{"prompt": Prompt, "completion": mr}``."""
    return {"prompt": viggo_prompt(row["ref"]), "completion": row["mr"]}


def order_correct(pred: MeaningRepresentation, ref: MeaningRepresentation) -> float | None:
    """1.0 if the attributes both MRs contain appear in the reference's order, else 0.0.

    None (not applicable) when fewer than two attributes are shared.
    """
    shared = [a for a in pred.attributes if a in set(ref.attributes)]
    shared = list(dict.fromkeys(shared))
    if len(shared) < 2:
        return None
    ref_order = [a for a in dict.fromkeys(ref.attributes) if a in set(shared)]
    return float(shared == ref_order)


def _prf(tp: int, n_pred: int, n_ref: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else float(n_ref == 0)
    recall = tp / n_ref if n_ref else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@scorer(
    "mr_match",
    metrics=(
        "exact_match",
        "function_accuracy",
        "slot_f1_sample",
        "attribute_order",
        "slot_precision",
        "slot_recall",
        "slot_f1",
    ),
)
class MRScorer(Scorer):
    """Exact match, function accuracy, slot P/R/F1 and attribute order for one MR."""

    name = "viggo_mr"

    def __call__(self, sample: Sample, output: Output) -> Score:
        ref = parse_mr(str(sample.target))
        pred = parse_mr(output.text)
        ref_pairs, pred_pairs = ref.pairs(), pred.pairs()
        tp = sum((ref_pairs & pred_pairs).values())
        n_pred, n_ref = sum(pred_pairs.values()), sum(ref_pairs.values())
        _, _, f1 = _prf(tp, n_pred, n_ref)
        return Score(
            values={
                "exact_match": float(normalise(output.text) == normalise(str(sample.target))),
                "function_accuracy": float(pred.function == ref.function),
                "slot_f1_sample": f1,
                "attribute_order": order_correct(pred, ref),
            },
            answer=normalise(output.text) if pred.function else output.text.strip()[:200],
            metadata={"tp": tp, "n_pred": n_pred, "n_ref": n_ref},
        )

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        """Means for the per-sample metrics plus corpus micro P/R/F1 with bootstrap CIs."""
        out = super().aggregate(scores, samples)
        counts = [(s.metadata["tp"], s.metadata["n_pred"], s.metadata["n_ref"]) for s in scores]
        for i, metric in enumerate(("slot_precision", "slot_recall", "slot_f1")):
            out[metric] = bootstrap_metric(counts, partial(_prf_at, i))
        return out

    def corpus_statistics(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, Any]:
        """Corpus micro slot P/R/F1 of any resample, from summed per-sample counts."""
        import numpy as np

        table = np.asarray(
            [(s.metadata["tp"], s.metadata["n_pred"], s.metadata["n_ref"]) for s in scores],
            dtype=np.int64,
        ).reshape(-1, 3)

        def at(i: int, idx: Any) -> float:
            tp, n_pred, n_ref = (int(x) for x in table[idx].sum(axis=0))
            return _prf(tp, n_pred, n_ref)[i]

        names = ("slot_precision", "slot_recall", "slot_f1")
        return {name: partial(at, i) for i, name in enumerate(names)}

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """The trivial baseline of function accuracy: always answer the most frequent function."""
        functions = Counter(parse_mr(str(s.target)).function for s in samples)
        top, count = functions.most_common(1)[0] if functions else ("", 0)
        return {
            "trivial_baselines": {
                "function_accuracy": {
                    "value": count / len(samples) if samples else None,
                    "rule": f"always answer the most frequent function ({top})",
                }
            }
        }


def _prf_at(i: int, items: Sequence[Any]) -> float:
    return _prf(*_sums(items))[i]


def _sums(items: Sequence[Any]) -> tuple[int, int, int]:
    return sum(t[0] for t in items), sum(t[1] for t in items), sum(t[2] for t in items)


def read_split(options: DataOptions, split: str) -> tuple[list[dict[str, str]], DatasetInfo]:
    """The rows of one split and where they came from.

    Raises:
        DataError: No data dir is configured, or the split is unknown or malformed.
    """
    if split not in SPLITS:
        raise DataError(f"viggo has no split {split!r}; use one of {', '.join(SPLITS)}")
    folder = dataset_dir(options, "viggo", [f"{split}.csv"])
    if folder is None:
        raise DataError(
            "viggo is read from local files: set HARNESS_DATA_DIR or --data-dir to a folder "
            "holding viggo/{train,valid,test}.csv"
        )
    path = folder / f"{split}.csv"
    rows = list(read_csv(path, required=("mr", "ref")))
    return rows, DatasetInfo.local("viggo", folder, split, [path], len(rows))


@task(description="ViGGO: sentence -> meaning representation (function(attr[value], ...)).")
def viggo() -> Task:
    """ViGGO: sentence -> meaning representation (function(attr[value], ...))."""

    def load(options: DataOptions) -> Dataset:
        split = options.split or "test"
        rows, info = read_split(options, split)
        samples = [
            Sample(
                id=f"{split}-{i}",
                prompt=viggo_prompt(r["ref"]),
                target=r["mr"],
                metadata={CLUSTER_KEY: r["mr"]},
            )
            for i, r in enumerate(rows)
        ]
        return Dataset(samples, info)

    return Task(
        name="viggo",
        version="1",
        description="ViGGO: sentence -> meaning representation (function(attr[value], ...)).",
        load=load,
        primary_metrics=("exact_match", "slot_f1"),
        scorers=[MRScorer()],
        generation=GenerationParams(max_new_tokens=128, stop=("\n",)),
        prompt_template=SYSTEM_PROMPT,
    )
