"""HellaSwag: pick the plausible ending of an ActivityNet or WikiHow scene.

A raw record (``hellaswag/hellaswag_val.jsonl``, the layout of rowanz/hellaswag ``data/``)::

    {"ind": 24, "activity_label": "Roof shingle removal",
     "ctx_a": "A man is sitting on a roof.", "ctx_b": "he",
     "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain",
     "label": 3, "endings": ["is using wrap to wrap a pair of skis.", ...],
     "source_id": "activitynet~v_-JhWjGDPHMY"}

lm-eval's ``hellaswag`` (``utils.process_docs``) builds the query
``{activity_label}: {ctx_a} {ctx_b capitalised}`` and cleans it and each ending the same way
(WikiHow's `` [title]`` becomes ``. ``, other ``[...]`` tags go, double spaces become one); the
query is the whole prompt, each cleaned ending is scored after a space; ``acc`` and
``acc_norm`` on the validation split (test labels are not public). Online the hub's
``Rowan/hellaswag`` gives the same fields (``label`` as a string).
"""

from __future__ import annotations

import re
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

HUB_ID = "Rowan/hellaswag"
SPLITS = {"validation": ("val", "validation"), "val": ("val", "validation")}
SPLITS["train"] = ("train", "train")
FIELDS = ("activity_label", "ctx_a", "ctx_b", "endings", "label")
_TAG = re.compile(r"\[.*?\]")


def clean(text: str) -> str:
    """lm-eval's HellaSwag text clean-up (WikiHow's bracketed tags are dataset artifacts)."""
    text = text.strip().replace(" [title]", ". ")
    return _TAG.sub("", text).replace("  ", " ")


def query(row: dict[str, Any]) -> str:
    """The prompt: activity label, then both context parts (the second capitalised)."""
    context = f"{row['ctx_a']} {str(row['ctx_b']).capitalize()}"
    return clean(f"{row['activity_label']}: {context}")


def _load(options: DataOptions) -> Dataset:
    split = options.split or "validation"
    if split not in SPLITS:
        raise DataError(f"hellaswag evaluates validation or train (no test labels), not {split!r}")
    local, hub = SPLITS[split]
    filename = f"hellaswag_{local}.jsonl"
    folder = dataset_dir(options, "hellaswag", [filename])
    if folder is None:
        rows, revision = load_hub(HUB_ID, hub)
        info = DatasetInfo("hellaswag", "hub", HUB_ID, split, revision=revision, n_total=len(rows))
    else:
        path = folder / filename
        rows = list(read_jsonl(path, FIELDS))
        info = DatasetInfo.local("hellaswag", folder, split, [path], len(rows))
    samples = []
    for i, row in enumerate(rows):
        label = str(row["label"]).strip()
        endings = [clean(str(e)) for e in row["endings"]]
        if not label.isdigit() or int(label) >= len(endings):
            raise DataError(f"hellaswag item {i}: label {row['label']!r} names no ending")
        sid = str(row.get("ind", i))
        samples.append(
            choice_sample(sid, query(row), endings, int(label), activity=row["activity_label"])
        )
    return Dataset(samples, info)


@task(description="HellaSwag (validation), lm-eval's preprocessing and prompt; acc, acc_norm")
def hellaswag(chat_template: bool = False) -> Task:
    """HellaSwag as lm-eval's ``hellaswag``."""
    return choice_task(
        "hellaswag",
        description="HellaSwag",
        load=_load,
        template="{activity_label}: {ctx_a} {ctx_b.capitalize()} [cleaned; choices ' ' + ending]",
        chat_template=chat_template,
    )
