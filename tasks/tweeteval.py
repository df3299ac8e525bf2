"""TweetEval sentiment: is a tweet negative, neutral or positive?

Raw data (``$HARNESS_DATA_DIR/tweeteval_sentiment/``): one tweet per line of
``test_text.txt``, its label id on the same line of ``test_labels.txt``, and ``mapping.txt``::

    @user @user what do these '1/2 naked pics' have to do with anything? ...   (label 1)
    mapping.txt:  0 negative / 1 neutral / 2 positive

Two modes (task parameter ``mode``):

- ``generate``: the model answers and the first label word in its answer is the prediction
  (no label word counts wrong and is reported as ``invalid_rate``).
- ``loglikelihood``: each label word is scored as the continuation of the prompt (summed
  log-probability; every label here is one token for SmolLM2), the highest wins, and a softmax
  over the three gives class probabilities for ROC-AUC. ``choice_prefix`` (default a space,
  right after ``Sentiment:``) is prepended to each label word.

Metrics (`harness.metrics.classification`): accuracy, macro precision/recall/F1, one-vs-rest
ROC-AUC (log-likelihood mode), and the confusion matrix in the run record's ``extra``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    HarnessError,
    Prompt,
    Sample,
    Task,
    dataset_dir,
    load_hub,
    read_text,
    sha256_file,
    task,
)
from harness.metrics.classification import Classification

NAME = "tweeteval_sentiment"
HUB_ID = "cardiffnlp/tweet_eval"
LABELS = ("negative", "neutral", "positive")
TEMPLATE = (
    "Classify the sentiment of the tweet as negative, neutral or positive.\n\n"
    "Tweet: {text}\nSentiment:"
)
SPLITS = {"test": "test", "val": "val", "validation": "val"}


def read_mapping(path: Path) -> list[str]:
    """Label names in id order from ``mapping.txt`` (``<id>\\t<name>`` per line)."""
    pairs = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        idx, _, label = line.partition("\t")
        if not idx.strip().isdigit() or not label.strip():
            raise DataError(f"{path}:{lineno}: expected '<id>\\t<label>', got {line!r}")
        pairs.append((int(idx), label.strip()))
    return [label for _, label in sorted(pairs)]


def _local(folder: Path, split: str) -> tuple[list[tuple[str, str]], DatasetInfo]:
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    mapping = read_mapping(folder / "mapping.txt")
    texts = read_text(text_path).splitlines()
    ids = read_text(label_path).splitlines()
    if len(texts) != len(ids):
        raise DataError(
            f"{text_path} has {len(texts)} lines but {label_path} has {len(ids)}; "
            f"they must align line by line"
        )
    rows = []
    for lineno, (text, raw) in enumerate(zip(texts, ids, strict=True), 1):
        if not raw.strip().isdigit() or int(raw) >= len(mapping):
            raise DataError(f"{label_path}:{lineno}: label {raw!r} is not an id in mapping.txt")
        rows.append((text.strip(), mapping[int(raw)]))
    files = {p.name: sha256_file(p) for p in (text_path, label_path, folder / "mapping.txt")}
    return rows, DatasetInfo(NAME, "local", str(folder), split, files=files, n_total=len(rows))


def _hub(split: str) -> tuple[list[tuple[str, str]], DatasetInfo]:
    hub_split = "validation" if split == "val" else split
    raw, revision = load_hub(HUB_ID, hub_split, "sentiment")
    rows = [(str(r["text"]).strip(), LABELS[int(r["label"])]) for r in raw]
    return rows, DatasetInfo(NAME, "hub", HUB_ID, split, revision=revision, n_total=len(rows))


@task(description="TweetEval sentiment (negative/neutral/positive): generative or log-likelihood")
def tweeteval_sentiment(
    mode: Literal["generate", "loglikelihood"] = "loglikelihood", choice_prefix: str = " "
) -> Task:
    """TweetEval sentiment classification."""
    if mode not in ("generate", "loglikelihood"):
        raise HarnessError(
            f"tweeteval_sentiment: mode must be 'generate' or 'loglikelihood', not {mode!r}"
        )

    def load(options: DataOptions) -> Dataset:
        split = SPLITS.get(options.split or "test")
        if split is None:
            raise DataError(f"{NAME} has splits test and val, not {options.split!r}")
        folder = dataset_dir(
            options, NAME, [f"{split}_text.txt", f"{split}_labels.txt", "mapping.txt"]
        )
        rows, info = _local(folder, split) if folder is not None else _hub(split)
        labels = read_mapping(folder / "mapping.txt") if folder is not None else list(LABELS)
        if tuple(labels) != LABELS:
            raise DataError(f"{NAME}: mapping.txt lists {labels}, expected {list(LABELS)}")
        choices = [choice_prefix + lb for lb in labels] if mode == "loglikelihood" else None
        samples = [
            Sample(
                id=f"{split}-{i}",
                prompt=Prompt.plain(TEMPLATE.format(text=text)),
                target=label,
                choices=choices,
            )
            for i, (text, label) in enumerate(rows)
        ]
        return Dataset(samples, info)

    params: dict[str, Any] = {"max_new_tokens": 8, "stop": ("\n", "<|im_end|>")}
    return Task(
        name=NAME,
        version="1",
        description="TweetEval sentiment",
        load=load,
        primary_metrics=("macro_f1", "accuracy"),
        scorers=[Classification(LABELS)],
        generation=GenerationParams(**params),
        prompt_template=TEMPLATE
        + (f" [choices: {choice_prefix!r} + label]" if mode == "loglikelihood" else ""),
        mode=mode,
    )
