"""Winogrande: fill the blank of a sentence with the right one of two names or things.

A raw record (``winogrande/dev.jsonl``, the layout of allenai/winogrande's
``winogrande_1.1/``)::

    {"qID": "3D5G8J4N5CI2K40F4RZLF9OG2CKVTH-1",
     "sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
     "option1": "Sarah", "option2": "Maria", "answer": "1"}

lm-eval's ``winogrande`` scores it partially (``preprocess_winogrande.py``): each option
completes the sentence up to the blank, and what is scored is the rest of the sentence after
the blank, `` always got the harder cases.``, the same continuation after both contexts
(``Sample.continuation``). The option under which that rest is more likely wins: ``acc`` on
the dev split (lm-eval's ``validation``; test answers are not public). Online the hub's
``allenai/winogrande`` (config ``winogrande_xl``) gives the same fields.
"""

from __future__ import annotations

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    Prompt,
    Sample,
    Task,
    dataset_dir,
    load_hub,
    read_jsonl,
    task,
)
from tasks._choice import choice_task

HUB_ID = "allenai/winogrande"
SPLITS = {"dev": ("dev", "validation"), "validation": ("dev", "validation")}
SPLITS["train"] = ("train_xl", "train")
FIELDS = ("sentence", "option1", "option2", "answer")


def partial(sentence: str, options: list[str]) -> tuple[list[str], str]:
    """The contexts (the sentence up to the blank, each option filled in) and the scored rest."""
    blank = sentence.index("_")
    return [sentence[:blank] + o for o in options], " " + sentence[blank + 1 :].strip()


def _load(options: DataOptions) -> Dataset:
    split = options.split or "dev"
    if split not in SPLITS:
        raise DataError(f"winogrande evaluates dev or train (no test answers), not {split!r}")
    local, hub = SPLITS[split]
    folder = dataset_dir(options, "winogrande", [f"{local}.jsonl"])
    if folder is None:
        rows, revision = load_hub(HUB_ID, hub, "winogrande_xl")
        n = len(rows)
        info = DatasetInfo("winogrande", "hub", HUB_ID, split, revision=revision, n_total=n)
    else:
        path = folder / f"{local}.jsonl"
        rows = list(read_jsonl(path, FIELDS))
        info = DatasetInfo.local("winogrande", folder, split, [path], len(rows))
    samples = []
    for i, row in enumerate(rows):
        sentence, answer = str(row["sentence"]), str(row["answer"]).strip()
        if "_" not in sentence or answer not in ("1", "2"):
            raise DataError(f"winogrande item {i}: needs a '_' blank and an answer 1 or 2")
        names = [str(row["option1"]), str(row["option2"])]
        contexts, rest = partial(sentence, names)
        samples.append(
            Sample(
                id=str(row.get("qID", i)),
                prompt=Prompt.plain(""),
                target=int(answer) - 1,
                choices=contexts,
                continuation=rest,
                metadata={"choice_texts": names, "sentence": sentence, "scored": rest},
            )
        )
    return Dataset(samples, info)


@task(description="Winogrande (dev), lm-eval's partial scoring; acc")
def winogrande(chat_template: bool = False) -> Task:
    """Winogrande as lm-eval's ``winogrande``."""
    return choice_task(
        "winogrande",
        description="Winogrande",
        load=_load,
        template="{sentence before _}{option} -> scored: ' ' + {sentence after _}",
        chat_template=chat_template,
        acc_norm=False,
    )
