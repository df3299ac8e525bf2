"""Chat templates with a tokenizer: render with template switches, reasoning markers, counts.

The HF backend and `PromptRenderer` (vLLM offline and vllm-server) render through
`render_chat`, so every backend sends the identical string: ``chat_template_kwargs`` (e.g.
``{"enable_thinking": false}``) go to ``apply_chat_template``; a template that rejects a system
role (it raises on one) gets the system text merged into the first user turn, which is said
once on stderr and recorded (`ChatState.system_merged`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._types import Prompt


@dataclass
class ChatState:
    """What rendering learned about the template (recorded in the run).

    Attributes:
        kwargs: ``--chat-template-kwargs`` given to every ``apply_chat_template`` call.
        system_merged: The template rejected a system turn; its text went into the first
            user turn.
    """

    kwargs: Mapping[str, Any] = field(default_factory=dict)
    system_merged: bool = False


def render_chat(tokenizer: Any, prompt: Prompt, state: ChatState) -> str:
    """The prompt through the tokenizer's chat template, with the generation prompt."""
    msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
    if state.system_merged:
        msgs = merge_system(msgs)
    try:
        return str(_apply(tokenizer, msgs, state.kwargs))
    except Exception as e:  # jinja2's TemplateError, raised by the template's own check
        if not msgs or msgs[0]["role"] != "system" or "system" not in str(e).lower():
            raise
        state.system_merged = True
        print(
            f"note: the chat template rejects a system role ({str(e).splitlines()[0][:120]}); "
            "the system text is merged into the first user turn (recorded in the run)",
            file=sys.stderr,
        )
        return str(_apply(tokenizer, merge_system(msgs), state.kwargs))


def _apply(tokenizer: Any, msgs: list[dict[str, str]], kwargs: Mapping[str, Any]) -> Any:
    return tokenizer.apply_chat_template(
        msgs, tokenize=False, add_generation_prompt=True, **dict(kwargs)
    )


def merge_system(msgs: list[dict[str, str]]) -> list[dict[str, str]]:
    """System turns' text put before the first user turn's, separated by a blank line."""
    system = [m["content"] for m in msgs if m["role"] == "system"]
    rest = [dict(m) for m in msgs if m["role"] != "system"]
    if not system:
        return rest
    first = next((m for m in rest if m["role"] == "user"), None)
    if first is None:
        return [{"role": "user", "content": "\n\n".join(system)}, *rest]
    first["content"] = "\n\n".join([*system, first["content"]])
    return rest


def template_source(tokenizer: Any) -> str | None:
    """The chat template's text (all named templates joined), None when there is none."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        return "\n".join(str(v) for v in template.values())
    return str(template) if template else None


def config_markers(folder: str | Path | None) -> tuple[str, str] | None:
    """A ``reasoning_markers: [START, END]`` key in the model's ``tokenizer_config.json``."""
    if folder is None:
        return None
    try:
        config = json.loads((Path(folder) / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    markers = config.get("reasoning_markers") if isinstance(config, dict) else None
    if isinstance(markers, list) and len(markers) == 2 and all(markers):
        return str(markers[0]), str(markers[1])
    return None


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens of ``text`` alone (no special tokens added)."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_tokens(tokenizer: Any, rendered: str, add_special: bool) -> int:
    """Tokens of a rendered prompt as the backend sends it."""
    return len(tokenizer(rendered, add_special_tokens=add_special)["input_ids"])


def truncate_left(tokenizer: Any, rendered: str, keep: int, add_special: bool) -> str:
    """The prompt's last ``keep`` tokens (one fewer when a BOS token will be added)."""
    ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    keep = max(1, keep - (1 if add_special else 0))
    return str(tokenizer.decode(ids[-keep:]))


def settings_of(state: ChatState) -> dict[str, Any]:
    """`Backend.template_settings` of a backend rendering with ``state``."""
    return {"chat_template_kwargs": dict(state.kwargs), "system_merged": state.system_merged}
