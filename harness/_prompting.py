"""Prompt shaping before rendering and before sending: few-shot turns, the context window.

Few-shot exemplars (``Prompt.fewshot`` user/assistant pairs at the start of the chat turns)
go into the first user turn by default, as lm-evaluation-harness does; with
``--fewshot-as-multiturn`` they stay alternating user/assistant turns. A rendered prompt
longer than the backend's context window minus ``max_new_tokens`` is never cut quietly: the
item is an error (counted, not scored, the run exits 3) unless ``--truncate-prompt left``
asks for its oldest tokens to be dropped, which is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness import record as rec
from harness._types import Message, Prompt


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are shaped (the command line's flags).

    Attributes:
        fewshot_as_multiturn: Exemplars as alternating user/assistant turns.
        truncate: "left": cut too-long prompts from the left; None: they are errors.
    """

    fewshot_as_multiturn: bool = False
    truncate: Literal["left"] | None = None


def fewshot_form(prompt: Prompt, multiturn: bool) -> Prompt:
    """``prompt`` with its exemplar turns merged into the first user turn (unless
    ``multiturn``): each exemplar's question and answer joined by a space, exemplars and the
    question by blank lines, as in the completion-style text."""
    if multiturn or prompt.fewshot <= 0:
        return prompt
    system = [m for m in prompt.messages if m.role == "system"]
    turns = [m for m in prompt.messages if m.role != "system"]
    pairs, rest = turns[: 2 * prompt.fewshot], turns[2 * prompt.fewshot :]
    if len(pairs) < 2 * prompt.fewshot or not rest or rest[0].role != "user":
        return prompt  # not the shape Prompt.fewshot describes: leave it as the task built it
    shots = [f"{pairs[k].content} {pairs[k + 1].content}" for k in range(0, len(pairs), 2)]
    first = Message("user", "\n\n".join([*shots, rest[0].content]))
    return replace(prompt, messages=(*system, first, *rest[1:]), fewshot=0)


@dataclass
class Fitted:
    """The prompts after the context-window check.

    Attributes:
        prompts: Per item, the prompt to send (cut from the left where allowed).
        too_long: Per item index, why it is not sent (an error, never scored).
        truncated: Indices of the items cut from the left.
        context_length: The backend's context window (None: unknown, nothing checked).
    """

    prompts: list[Any]
    too_long: dict[int, str] = field(default_factory=dict)
    truncated: list[int] = field(default_factory=list)
    context_length: int | None = None


def fit_prompts(
    prompts: Sequence[Any], backend: Any, max_new_tokens: int, options: PromptOptions
) -> Fitted:
    """Checks every rendered prompt against ``backend``'s context window."""
    limit = backend.context_length()
    out = Fitted(list(prompts), context_length=limit)
    if limit is None:
        return out
    budget = limit - max_new_tokens
    for i, p in enumerate(prompts):
        n = backend.prompt_tokens(p)
        if n is None or n <= budget:
            continue
        if options.truncate == "left" and budget > 0:
            out.prompts[i] = backend.truncate_left(p, budget)
            out.truncated.append(i)
            continue
        out.too_long[i] = (
            f"prompt too long: {n} tokens + max_new_tokens {max_new_tokens} exceed the context "
            f"window of {limit}; shorten the prompt (fewer shots), lower --max-new-tokens, or "
            f"pass --truncate-prompt left"
        )
    return out


def prompting_record(
    backend: Any, options: PromptOptions, fitted: Fitted, ids: Sequence[str]
) -> rec.PromptingRecord:
    """The run record's account of the prompts' shape and fit."""
    settings = backend.template_settings()
    return rec.PromptingRecord(
        chat_template_kwargs=dict(settings.get("chat_template_kwargs") or {}),
        fewshot_as_multiturn=options.fewshot_as_multiturn,
        system_merged=bool(settings.get("system_merged")),
        truncate_prompt=options.truncate,
        context_length=fitted.context_length,
        truncated_ids=[ids[i] for i in fitted.truncated],
        too_long_ids=[ids[i] for i in sorted(fitted.too_long)],
    )
