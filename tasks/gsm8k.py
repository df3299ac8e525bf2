"""GSM8K: grade-school math word problems, k-shot with worked answers.

A raw record (``gsm8k/test.jsonl``)::

    {"question": "Janet's ducks lay 16 eggs per day. ...",
     "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\\n...\\n#### 18"}

The prompt is ``Question: …\\nAnswer:`` preceded by k worked exemplars from the train split
(chosen with the run's seed, the same for every item). Two extractions are scored: *strict*
takes the number after ``####``; *flexible* takes the last number in the output. Both report
exact match and their no-match rate.
"""

from __future__ import annotations

import random
from typing import Any

from harness import (
    DataError,
    DataOptions,
    Dataset,
    DatasetInfo,
    GenerationParams,
    Message,
    Prompt,
    Sample,
    Task,
    dataset_dir,
    load_hub,
    read_jsonl,
    task,
)
from harness.extract import RegexMatch

HUB_ID = "openai/gsm8k"
TEMPLATE = "Question: {question}\nAnswer:"
EXEMPLAR = "Question: {question}\nAnswer: {answer}"
STRICT = r"####\s*\$?\s*(-?[0-9.,]+)"
FLEXIBLE = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"


def _rows(options: DataOptions, split: str) -> tuple[list[dict[str, Any]], DatasetInfo]:
    folder = dataset_dir(options, "gsm8k", [f"{split}.jsonl"])
    if folder is None:
        rows, revision = load_hub(HUB_ID, split, "main")
        return rows, DatasetInfo(
            "gsm8k", "hub", HUB_ID, split, revision=revision, n_total=len(rows)
        )
    path = folder / f"{split}.jsonl"
    rows = list(read_jsonl(path, required=("question", "answer")))
    return rows, DatasetInfo.local("gsm8k", folder, split, [path], len(rows))


def target_of(answer: str) -> str:
    """The final number of a worked answer (the text after ``####``)."""
    if "####" not in answer:
        raise DataError(f"gsm8k answer has no '#### <number>' line: {answer[-80:]!r}")
    return answer.split("####")[-1].strip().replace(",", "")


def build_prompt(question: str, shots: list[dict[str, Any]]) -> Prompt:
    """The k-shot prompt, as plain text and as alternating chat turns (merged into one user
    turn unless ``--fewshot-as-multiturn``)."""
    parts = [EXEMPLAR.format(question=s["question"], answer=s["answer"]) for s in shots]
    text = "\n\n".join([*parts, TEMPLATE.format(question=question)])
    msgs: list[Message] = []
    for s in shots:
        msgs += [
            Message("user", TEMPLATE.format(question=s["question"])),
            Message("assistant", s["answer"]),
        ]
    msgs.append(Message("user", TEMPLATE.format(question=question)))
    return Prompt(messages=tuple(msgs), text=text, fewshot=len(shots))


def fewshot(train: list[dict[str, Any]], k: int, seed: int) -> list[dict[str, Any]]:
    """k exemplars drawn from the train split, deterministic per seed."""
    return random.Random(seed).sample(train, k) if k > 0 else []


@task(
    description="GSM8K grade-school math (k-shot, strict `#### n` and flexible last-number match)"
)
def gsm8k(num_fewshot: int = 5) -> Task:
    """GSM8K grade-school math word problems."""

    def load(options: DataOptions) -> Dataset:
        split = options.split or "test"
        rows, info = _rows(options, split)
        shots: list[dict[str, Any]] = []
        if num_fewshot > 0:
            train, train_info = _rows(options, "train")
            shots = fewshot(train, num_fewshot, options.seed)
            info.files.update(train_info.files)
        samples = [
            Sample(
                id=f"{split}-{i}",
                prompt=build_prompt(r["question"], shots),
                target=target_of(r["answer"]),
            )
            for i, r in enumerate(rows)
        ]
        return Dataset(samples, info)

    return Task(
        name="gsm8k",
        version="1",
        description="GSM8K grade-school math",
        load=load,
        primary_metrics=("flexible_match", "strict_match"),
        scorers=[
            RegexMatch("strict", STRICT, select="first"),
            RegexMatch("flexible", FLEXIBLE, select="last"),
        ],
        generation=GenerationParams(max_new_tokens=256, stop=("Question:", "</s>", "<|im_end|>")),
        prompt_template=f"{EXEMPLAR}\n\n{TEMPLATE}",
    )
