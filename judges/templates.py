"""Judge prompt templates: named constants, overridable from a file, hashed into the run record.

A `JudgeTemplate` is a system prompt plus a user prompt with ``{name}`` placeholders
(`PLACEHOLDERS` lists them, with FastChat's multi-turn ones: ``{question_1}``, ``{answer_1}``,
``{ref_answer_1}``, ...). Only known placeholders are substituted (`render`), so literal braces
in a template (a JSON example) or in an answer are left alone. With ``fence`` on (the default)
the answer under judgement is wrapped in ``<answer-NONCE>`` tags whose nonce is derived from
the answer itself, so an answer cannot close its own tag (`delimit`); built-in templates tell
the judge to disregard instructions inside the tags, and a user's template gets `FENCE_NOTE`
appended to its system prompt. With ``fence: false`` answers go in as they are (FastChat's own
rendering). ``sha256`` covers the system and user text as sent, so any change to a template,
the fence note included, shows in the run record. A template file may use FastChat's keys
(``system_prompt``, ``prompt_template``, ``output_format``: one line of its
``judge_prompts.jsonl`` as YAML or JSON).
"""

from __future__ import annotations

from pathlib import Path

from harness import HarnessError
from judges._template import (
    FENCE_NOTE,
    FORMATS,
    GUARD,
    PAIR_FORMAT,
    RATING_PATTERN,
    SCORE_FORMAT,
    JudgeTemplate,
    VerdictFormat,
    delimit,
    render,
)
from judges.template_files import read_template

__all__ = [
    "BUILTIN",
    "FENCE_NOTE",
    "FORMATS",
    "GUARD",
    "PLACEHOLDERS",
    "RATING_PATTERN",
    "JudgeTemplate",
    "VerdictFormat",
    "delimit",
    "load_template",
    "render",
]

SINGLE = JudgeTemplate(
    name="single",
    system=("You are an impartial judge of AI assistant answers. " + GUARD),
    user=(
        "Rate the quality of the assistant's answer to the user's question on a scale of 1 to 10 "
        "(helpfulness, relevance, accuracy, depth, clarity). Be strict and objective.\n\n"
        "[Question]\n{question}\n\n[Assistant's answer]\n{answer}\n\n" + SCORE_FORMAT
    ),
)

REFERENCE = JudgeTemplate(
    name="reference",
    system=("You are an impartial judge of AI assistant answers. " + GUARD),
    user=(
        "Rate the assistant's answer on a scale of 1 to 10 by how well it matches the reference "
        "answer in correctness and completeness; wording may differ.\n\n"
        "[Question]\n{question}\n\n[Reference answer]\n{reference}\n\n"
        "[Assistant's answer]\n{answer}\n\n" + SCORE_FORMAT
    ),
)

MATH = JudgeTemplate(
    name="math",
    system=("You are a careful grader of math solutions. " + GUARD),
    user=(
        "Compare the assistant's solution with the reference solution. First check the final "
        "answer: a wrong final answer scores at most 3. Then judge the reasoning. Score 1 to 10."
        "\n\n[Problem]\n{question}\n\n[Reference solution]\n{reference}\n\n"
        "[Assistant's solution]\n{answer}\n\n" + SCORE_FORMAT
    ),
)

CODE = JudgeTemplate(
    name="code",
    system=("You are a careful reviewer of code. " + GUARD),
    user=(
        "Judge whether the assistant's code solves the task as the reference solution does: "
        "correctness on all inputs first (a wrong result scores at most 3), then clarity. Score "
        "1 to 10.\n\n[Task]\n{question}\n\n[Reference solution]\n{reference}\n\n"
        "[Assistant's code]\n{answer}\n\n" + SCORE_FORMAT
    ),
)

RUBRIC = JudgeTemplate(
    name="rubric",
    system=("You are a strict writing evaluator. " + GUARD),
    user=(
        "Score the response to the writing request against ONE criterion, 1 to 10, following "
        "the criterion's scoring guide.\n\n[Writing request]\n{question}\n\n"
        "[Criterion]\n{criterion}\n\n[Response]\n{answer}\n\n" + SCORE_FORMAT
    ),
)

PAIRWISE = JudgeTemplate(
    name="pairwise",
    system=(
        "You are an impartial judge comparing two AI assistant answers. "
        + GUARD
        + " The order of the answers must not influence you."
    ),
    user=(
        "Which answer better follows the user's instructions and answers the question "
        "(helpfulness, relevance, accuracy, depth)? Do not let length or the order of the "
        "answers sway you.\n\n[Question]\n{question}\n\n[Answer A]\n{answer_a}\n\n"
        "[Answer B]\n{answer_b}\n\n" + PAIR_FORMAT
    ),
    kind="pairwise",
)

RATING_FORMAT = (
    "After a short explanation, give your rating strictly in this format: [[rating]], for "
    "example: Rating: [[5]]."
)

RATED = JudgeTemplate(
    name="rated",
    system=("You are a helpful and impartial judge of AI assistant answers. " + GUARD),
    user=(
        "Judge the assistant's answer to the question below for helpfulness, relevance, "
        "accuracy, depth and level of detail. Be as objective as possible. Rate it from 1 to "
        "10.\n\n[Question]\n{question}\n\n[Assistant's answer]\n{answer}\n\n" + RATING_FORMAT
    ),
    format="regex",
)

RATED_REFERENCE = JudgeTemplate(
    name="rated_reference",
    system=("You are a helpful and impartial judge of AI assistant answers. " + GUARD),
    user=(
        "Judge the correctness and helpfulness of the assistant's answer to the question below. "
        "Compare it with the reference answer, point out any mistakes, and rate it from 1 to "
        "10.\n\n[Question]\n{question}\n\n[Reference answer]\n{reference}\n\n"
        "[Assistant's answer]\n{answer}\n\n" + RATING_FORMAT
    ),
    format="regex",
)

BUILTIN: dict[str, JudgeTemplate] = {
    t.name: t for t in (SINGLE, REFERENCE, MATH, CODE, RUBRIC, PAIRWISE, RATED, RATED_REFERENCE)
}


def load_template(source: str | Path | JudgeTemplate, kind: str = "score") -> JudgeTemplate:
    """A built-in template by name, or one read from a file (`judges.template_files`).

    A relative path is taken from the current directory here; a task file's own folder is
    tried first by the task loader (a scorer's ``path_args``).

    Raises:
        HarnessError: The file is missing, malformed, or lacks the placeholders the judge fills.
    """
    if isinstance(source, JudgeTemplate):
        return source
    if str(source) in BUILTIN:
        return BUILTIN[str(source)]
    path = Path(source)
    if not path.is_file():
        raise HarnessError(
            f"judge template {source!r} is neither a built-in ({', '.join(BUILTIN)}) nor a file "
            "(relative paths start at the task file's folder, then the current directory)"
        )
    return read_template(path, kind, PAIRWISE.system if kind == "pairwise" else SINGLE.system)


#: What each judge scorer fills in, by placeholder (``harness scorers`` and the README list it).
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "judge": {
        "question": "the user turn being judged (metadata 'question', else the last user turn)",
        "answer": "the model's answer to that turn",
        "reference": "the reference answer (the target; its first item when a list)",
        "question_N": "user turn N (FastChat multi-turn: question_1, question_2, ...)",
        "answer_N": "the model's answer to turn N",
        "ref_answer_N": "turn N's reference (turn_references metadata list; ref_answer_1 "
        "falls back to the target)",
    },
    "judge_rubric": {
        "question": "the writing request",
        "answer": "the model's response",
        "criterion": "one checklist criterion (name, description, score bands)",
    },
    "judge_pairwise": {
        "question": "the user turn (never the rendered chat prompt)",
        "answer_a": "the first answer shown",
        "answer_b": "the second answer shown",
        "question_N": "user turn N (multi-turn items)",
        "answer_a_N": "the first-shown side's answer to turn N",
        "answer_b_N": "the second-shown side's answer to turn N",
        "ref_answer_N": "turn N's reference, where the item has one",
    },
}
