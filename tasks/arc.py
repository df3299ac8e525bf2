"""ARC (AI2 Reasoning Challenge): grade-school science questions, Challenge and Easy sets.

A raw record (``arc/ARC-Challenge-Test.jsonl``, AI2's ARC-V1-Feb2018 release)::

    {"id": "Mercury_7175875",
     "question": {"stem": "An astronomer observes that a planet rotates faster ...",
                  "choices": [{"text": "Planetary density will decrease.", "label": "A"}, ...]},
     "answerKey": "C"}

Labels are A-E or 1-4. lm-eval's ``arc_easy.yaml`` / ``arc_challenge.yaml`` prompt is
``Question: {question}\\nAnswer:``, each choice text is scored after a space, the target is
the position of ``answerKey`` among the labels, 0-shot; ``acc`` and ``acc_norm``. Offline the
files sit flat in ``$HARNESS_DATA_DIR/arc/`` (``ARC-Challenge-Test.jsonl``, ``-Dev``,
``-Train``); online the hub's ``allenai/ai2_arc`` (``test``, ``validation``, ``train``).
"""

from __future__ import annotations

from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    Task,
    dataset_dir,
    load_hub,
    read_jsonl,
    task,
)
from tasks._choice import choice_sample, choice_task

HUB_ID = "allenai/ai2_arc"
TEMPLATE = "Question: {question}\nAnswer:"
SPLITS = {"test": ("Test", "test"), "dev": ("Dev", "validation"), "train": ("Train", "train")}
SPLITS["validation"] = SPLITS["dev"]


def _local_row(row: dict[str, Any]) -> tuple[str, str, list[str], list[str], str]:
    q = row["question"]
    return (
        str(row["id"]),
        str(q["stem"]),
        [str(c["text"]) for c in q["choices"]],
        [str(c["label"]) for c in q["choices"]],
        str(row["answerKey"]),
    )


def _hub_row(row: dict[str, Any]) -> tuple[str, str, list[str], list[str], str]:
    ch = row["choices"]
    labels = [str(x) for x in ch["label"]]
    return str(row["id"]), str(row["question"]), list(ch["text"]), labels, str(row["answerKey"])


def load_arc(options: DataOptions, subset: str) -> Dataset:
    """The samples of ``ARC-<subset>`` (Challenge or Easy) for the run's split."""
    split = options.split or "test"
    if split not in SPLITS:
        raise DataError(f"arc has splits test, dev and train, not {split!r}")
    local, hub = SPLITS[split]
    name = f"ARC-{subset}"
    filename = f"{name}-{local}.jsonl"
    folder = dataset_dir(options, "arc", [filename])
    if folder is None:
        raw, revision = load_hub(HUB_ID, hub, name)
        rows = [_hub_row(r) for r in raw]
        info = DatasetInfo(name, "hub", HUB_ID, split, revision=revision, n_total=len(rows))
    else:
        path = folder / filename
        rows = [_local_row(r) for r in read_jsonl(path, ("id", "question", "answerKey"))]
        info = DatasetInfo.local(name, folder, split, [path], len(rows))
    samples = []
    for sid, question, texts, labels, key in rows:
        if key not in labels:
            raise DataError(f"{name} item {sid}: answerKey {key!r} is not one of {labels}")
        prompt = TEMPLATE.format(question=question)
        samples.append(choice_sample(sid, prompt, texts, labels.index(key), labels=labels))
    return Dataset(samples, info)


def _arc(subset: str, chat_template: bool) -> Task:
    return choice_task(
        f"arc_{subset.lower()}",
        description=f"ARC-{subset}, lm-eval's prompt, acc and acc_norm",
        load=lambda options: load_arc(options, subset),
        template=TEMPLATE + " [choices: ' ' + text]",
        chat_template=chat_template,
    )


@task(description="ARC-Challenge (1,172 test questions), lm-eval's prompt; acc, acc_norm")
def arc_challenge(chat_template: bool = False) -> Task:
    """ARC-Challenge, 0-shot, as lm-eval's ``arc_challenge``."""
    return _arc("Challenge", chat_template)


@task(description="ARC-Easy (2,376 test questions), lm-eval's prompt; acc, acc_norm")
def arc_easy(chat_template: bool = False) -> Task:
    """ARC-Easy, 0-shot, as lm-eval's ``arc_easy``."""
    return _arc("Easy", chat_template)
