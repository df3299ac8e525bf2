"""What a judge sees of a (possibly multi-turn) item: the user turns, the model's answers to
each, the references per turn, as template fields.

Field names follow FastChat's ``llm_judge``: ``{question}`` / ``{answer}`` are the judged
turn's, ``{question_N}`` / ``{answer_N}`` / ``{ref_answer_N}`` turn N's (1-based), so
MT-bench's ``single-v1-multi-turn`` and ``single-math-v1-multi-turn`` templates fill as they
do there. Questions are the task's user turns, never the rendered chat prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness import Output, Sample


def question_of(sample: Sample) -> str:
    """The question put to the model: ``metadata["question"]``, else the last user turn."""
    if sample.metadata.get("question"):
        return str(sample.metadata["question"])
    users = [m.content for m in sample.prompt.messages if m.role == "user"]
    return users[-1] if users else sample.prompt.text


def user_turns(sample: Sample) -> list[str]:
    """Every user turn of the item: the first question, then each follow-up."""
    return [question_of(sample), *sample.followups]


def reference_of(sample: Sample) -> str | None:
    """The reference answer: the target, or its first item when it is a list."""
    target = sample.target
    if isinstance(target, (list, tuple)):
        target = target[0] if target else None
    return None if target is None else str(target)


def turn_references(sample: Sample, key: str | None) -> list[str | None]:
    """One reference per turn: ``metadata[key]`` (a list, MT-bench's ``reference``), or with
    ``key`` "target" the target's items (``target: [reference[0], reference[1]]``); else the
    target for the first turn only."""
    refs = sample.target if key == "target" else sample.metadata.get(key) if key else None
    if isinstance(refs, (list, tuple)):
        return [None if r is None else str(r) for r in refs]
    return [reference_of(sample)]


def answers_of(output: Output) -> list[str]:
    """The model's answer to each turn (first completion); one item for a single turn."""
    if output.turn_texts and output.turn_texts[0]:
        return list(output.turn_texts[0])
    return [output.text]


def turn_fields(
    questions: Sequence[str],
    answers: Sequence[str],
    refs: Sequence[str | None],
    turn: int,
    wrap: Callable[[str], str],
) -> dict[str, str]:
    """The fields for judging turn ``turn`` (1-based): that turn's ``question`` / ``answer``
    / ``reference``, and ``question_N`` / ``answer_N`` / ``ref_answer_N`` for N <= turn."""
    fields: dict[str, str] = {}
    for n in range(1, turn + 1):
        if n <= len(questions):
            fields[f"question_{n}"] = questions[n - 1]
        if n <= len(answers):
            fields[f"answer_{n}"] = wrap(answers[n - 1])
        if n <= len(refs) and refs[n - 1] is not None:
            fields[f"ref_answer_{n}"] = str(refs[n - 1])
    fields["question"] = questions[turn - 1]
    fields["answer"] = wrap(answers[turn - 1]) if turn <= len(answers) else ""
    if f"ref_answer_{turn}" in fields:
        fields["reference"] = fields[f"ref_answer_{turn}"]
    return fields


def pair_fields(
    questions: Sequence[str],
    first: Sequence[str],
    second: Sequence[str],
    refs: Sequence[str | None],
    turn: int,
    wrap: Callable[[str], str],
) -> dict[str, Any]:
    """Pairwise fields for turn ``turn``: ``answer_a`` / ``answer_b`` (the shown order) and
    FastChat's ``answer_a_N`` / ``answer_b_N``, with the questions and references."""
    fields = dict(turn_fields(questions, [], refs, turn, wrap))
    fields.pop("answer", None)
    for n in range(1, turn + 1):
        if n <= len(first) and n <= len(second):
            fields[f"answer_a_{n}"] = wrap(first[n - 1])
            fields[f"answer_b_{n}"] = wrap(second[n - 1])
    fields["answer_a"] = wrap(first[turn - 1]) if turn <= len(first) else ""
    fields["answer_b"] = wrap(second[turn - 1]) if turn <= len(second) else ""
    return fields
