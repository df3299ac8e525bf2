"""Multiple-choice accuracy from log-likelihoods, as lm-eval's MMLU / ARC / HellaSwag report it.

Each sample carries its own ``choices`` (the continuations scored after the prompt) and a
target naming the right one, by index or by text. Per sample:

- ``acc``: 1 when the choice with the highest summed log-probability is the right one;
- ``acc_norm``: the same after dividing each log-probability by the length in characters of
  the choice text, exactly lm-eval's ``acc_norm`` (``len(choice)`` in ``lm_eval/api/task.py``,
  over the choice without the delimiter put before it; the text comes from
  ``metadata["choice_texts"]`` when the task records it, else from ``sample.choices``);
- ``acc_norm_bytes`` (with ``norm="bytes"``, instead of ``acc_norm``): divided by the UTF-8
  byte length, which differs from characters on non-ASCII choices.

Ties go to the first choice, as ``numpy.argmax`` does in lm-eval. ``acc_norm=False`` reports
``acc`` alone, for tasks where lm-eval reports no ``acc_norm`` (MMLU, Winogrande, TruthfulQA).
"""

from __future__ import annotations

from typing import Any

from harness._errors import DataError
from harness._scorer import Scorer, scorer
from harness._types import Output, Sample, Score


def gold_index(sample: Sample, texts: list[str]) -> int:
    """The index of the right choice: the target as an index, or the choice equal to it."""
    target: Any = sample.target
    if isinstance(target, (list, tuple)):
        target = target[0] if target else None
    if isinstance(target, bool) or target is None:
        raise DataError(f"item {sample.id}: a multiple-choice target must name a choice")
    stripped = [t.strip() for t in texts]
    if not isinstance(target, int) and str(target).strip() in stripped:
        return stripped.index(str(target).strip())  # the text of a choice ("4" is text here)
    if isinstance(target, int) or str(target).strip().isdigit():
        index = int(target)
        if not 0 <= index < len(texts):
            raise DataError(f"item {sample.id}: target index {index} but {len(texts)} choices")
        return index
    raise DataError(
        f"item {sample.id}: target {target!r} is not one of its choices ({', '.join(texts)})"
    )


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


@scorer("choice_accuracy", metrics=("acc", "acc_norm"))
class ChoiceAccuracy(Scorer):
    """``acc`` and length-normalised ``acc_norm`` of a log-likelihood multiple choice.

    Args:
        acc_norm: Report the normalised accuracy too (False: ``acc`` alone).
        norm: "chars" (``acc_norm``, lm-eval's) or "bytes" (``acc_norm_bytes``: UTF-8 bytes).
    """

    def __init__(self, acc_norm: bool = True, norm: str = "chars") -> None:
        if norm not in ("chars", "bytes"):
            raise DataError(f"choice_accuracy: norm must be 'chars' or 'bytes' (got {norm!r})")
        super().__init__()
        self.acc_norm = acc_norm
        self.norm = norm

    def __call__(self, sample: Sample, output: Output) -> Score:
        logprobs = list(output.choice_logprobs or [])
        texts = [str(t) for t in sample.metadata.get("choice_texts") or sample.choices or []]
        if not logprobs or len(logprobs) != len(texts):
            raise DataError(
                f"item {sample.id}: choice_accuracy needs a log-likelihood task "
                f"(mode: loglikelihood) with one log-probability per choice"
            )
        gold = gold_index(sample, texts)
        size = (lambda t: len(t.encode("utf-8"))) if self.norm == "bytes" else len
        normed = [lp / max(1, size(t)) for lp, t in zip(logprobs, texts, strict=True)]
        pick, pick_norm = _argmax(logprobs), _argmax(normed)
        values: dict[str, float | None] = {"acc": float(pick == gold)}
        if self.acc_norm:
            values["acc_norm_bytes" if self.norm == "bytes" else "acc_norm"] = float(
                pick_norm == gold
            )
        return Score(
            values=values,
            answer=texts[pick],
            metadata={"gold": gold, "pick": pick, "pick_norm": pick_norm},
        )
