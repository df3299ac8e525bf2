"""Options for reasoning models and chat templates, shared by the commands that run models.

``--reasoning-markers`` / ``--no-reasoning-split`` choose how outputs are split into thinking
and answer (`harness.reasoning`); ``--chat-template-kwargs`` goes to the backend (every
``apply_chat_template`` call, and chat requests to servers); ``--fewshot-as-multiturn`` and
``--truncate-prompt`` shape the prompts (`harness._prompting`). All are recorded in each run
and change the request cache key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click


def _markers(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from harness.reasoning import parse_markers

    try:
        return parse_markers(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _kwargs(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as e:
        raise click.BadParameter(
            f"{value!r} is not JSON ({e}); write e.g. '{{\"enable_thinking\": false}}'"
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f"{value!r}: expected a JSON object, e.g. '{{\"a\": 1}}'")
    return parsed


def prompt_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The reasoning-split and chat-template options (they land in the command's kwargs)."""
    opts = [
        click.option(
            "--reasoning-markers",
            callback=_markers,
            default=None,
            metavar="START,END",
            help="Split outputs at these thinking markers; the answer after END is scored "
            "(default: the task's or model's, or <think>,</think> when the chat template "
            "mentions them).",
        ),
        click.option(
            "--no-reasoning-split",
            is_flag=True,
            help="Score the whole output, thinking included.",
        ),
        click.option(
            "--chat-template-kwargs",
            callback=_kwargs,
            default=None,
            metavar="JSON",
            help="Arguments to the chat template, e.g. '{\"enable_thinking\": false}' "
            "(apply_chat_template, and chat requests to vLLM/OpenAI servers).",
        ),
        click.option(
            "--fewshot-as-multiturn",
            is_flag=True,
            help="Few-shot exemplars as alternating user/assistant turns (default: all in "
            "the first user turn).",
        ),
        click.option(
            "--truncate-prompt",
            type=click.Choice(["left"]),
            default=None,
            help="Cut prompts longer than the context window minus --max-new-tokens from "
            "the left (default: such an item is an error, not scored).",
        ),
    ]
    return functools.reduce(lambda f, o: o(f), reversed(opts), fn)


def context_fields(kw: dict[str, Any]) -> dict[str, Any]:
    """The `RunContext` fields these options set (``reasoning``, ``prompting``)."""
    from harness._prompting import PromptOptions
    from harness.reasoning import ReasoningOptions

    return {
        "reasoning": ReasoningOptions(
            markers=kw.get("reasoning_markers"), split=not kw.get("no_reasoning_split")
        ),
        "prompting": PromptOptions(
            fewshot_as_multiturn=bool(kw.get("fewshot_as_multiturn")),
            truncate=kw.get("truncate_prompt"),
        ),
    }
