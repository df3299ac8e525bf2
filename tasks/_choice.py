"""What the multiple-choice standards share: lm-eval's request shape and the task they build.

lm-eval scores each choice as the continuation ``target_delimiter + choice`` (a space) after
the prompt, and its ``acc_norm`` divides by the length of the choice without that space, so a
sample keeps the bare texts in ``metadata["choice_texts"]``. Prompts are plain text (lm-eval
applies no chat template unless asked); ``-T chat_template=true`` hands rendering back to the
backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import DataOptions, Dataset, Prompt, Sample, Scorer, Task
from harness.metrics.choice import ChoiceAccuracy

DELIMITER = " "  # lm-eval's target_delimiter


def choice_sample(
    sid: str, prompt: str, texts: list[str], gold: int | list[int], **metadata: Any
) -> Sample:
    """A sample whose choices are ``" " + text`` scored after ``prompt``."""
    return Sample(
        id=sid,
        prompt=Prompt.plain(prompt),
        target=gold,
        choices=[DELIMITER + t for t in texts],
        metadata={"choice_texts": list(texts), **metadata},
    )


def choice_task(
    name: str,
    *,
    description: str,
    load: Callable[[DataOptions], Dataset],
    template: str,
    chat_template: bool,
    scorers: list[Scorer] | None = None,
    acc_norm: bool = True,
    categories: str | None = None,
    version: str = "1",
    primary_metrics: tuple[str, ...] | None = None,
) -> Task:
    """A log-likelihood task with lm-eval's conventions (plain-text prompts by default)."""
    return Task(
        name=name,
        version=version,
        description=description,
        load=load,
        scorers=scorers if scorers is not None else [ChoiceAccuracy(acc_norm=acc_norm)],
        prompt_template=template,
        mode="loglikelihood",
        chat_template=None if chat_template else False,
        categories=categories,
        primary_metrics=primary_metrics or (("acc_norm", "acc") if acc_norm else ("acc",)),
    )
