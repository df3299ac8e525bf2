"""What keeps report cells apart: every setting that changes the prompt or the answer.

A task's fingerprint (data files, task file, task parameters such as the few-shot count)
says *what* was evaluated; the settings here say *how*: the system prompt, the chat template
on or off and its options, few-shot exemplars as turns, the generation parameters (tokens,
temperature, top-p, stops, completions, seed) and each judge's model and templates. Runs of
one task that differ in any of them are different cells, labelled by what differs.
"""

from __future__ import annotations

import json
from typing import Any


def cell_settings(record: Any) -> dict[str, str]:
    """The prompt- and answer-changing settings of a run record, as short strings."""
    g, m = record.generation, record.model
    out = {
        "system_prompt": _short(g.system_prompt),
        "chat_template": "on" if m.chat_template else "off",
        "max_new_tokens": str(g.max_new_tokens),
        "temperature": f"{g.temperature:g}",
        "top_p": f"{g.top_p:g}",
        "stop": json.dumps(g.stop),
        "n": str(g.n),
        "seed": str(g.seed),
    }
    prompting = getattr(record, "prompting", None)
    if prompting is not None:
        out["chat_template_kwargs"] = json.dumps(prompting.chat_template_kwargs, sort_keys=True)
        out["fewshot_as_multiturn"] = str(prompting.fewshot_as_multiturn)
    for key, value in sorted(record.extra.items()):
        if key.startswith("judge:") and isinstance(value, dict):
            judge = value.get("judge") or {}
            out[f"{key} model"] = str(judge.get("model") if isinstance(judge, dict) else judge)
            out[f"{key} templates"] = json.dumps(value.get("templates"), sort_keys=True)
    return out


def settings_key(record: Any) -> str:
    """One string that differs exactly when `cell_settings` do."""
    return json.dumps(cell_settings(record), sort_keys=True)


def settings_differ(record: Any, pool: list[Any]) -> list[str]:
    """``name=value`` for each setting of ``record`` that not every record of ``pool`` shares."""
    mine = cell_settings(record)
    others = [cell_settings(r) for r in pool]
    keys = sorted({k for s in [mine, *others] for k in s})
    return [
        f"{k}={mine.get(k, '-')}" for k in keys if len({s.get(k, "-") for s in [mine, *others]}) > 1
    ]


def _short(text: str | None, width: int = 24) -> str:
    if not text:
        return "-"
    one = " ".join(text.split())
    return json.dumps(one if len(one) <= width else one[: width - 1] + "…")
