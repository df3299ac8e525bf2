"""Counting the judge calls RAGAS makes, per sample, for the run's usage.

RAGAS calls the judge LLM through an OpenAI client it is handed (instructor patches that
client's ``chat.completions.create``). `count_calls` wraps that method before RAGAS sees it,
so every request that reaches the endpoint — retries and multi-step metrics included, cache
hits not — adds one call and the reply's reported tokens to the counter of the sample being
scored. The sample is found through a context variable: each sample is scored in its own
asyncio task, which keeps its own copy.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class CallCount:
    """Requests sent to the judge and their tokens (as the endpoint reported them)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


CURRENT: contextvars.ContextVar[CallCount | None] = contextvars.ContextVar(
    "ragas_call_count", default=None
)


def count_calls(api: Any) -> Any:
    """Wraps ``api.chat.completions.create`` so each call counts towards `CURRENT`."""
    completions = api.chat.completions
    create = completions.create

    async def counted(*args: Any, **kwargs: Any) -> Any:
        count = CURRENT.get()
        if count is not None:
            count.calls += 1
        reply = await create(*args, **kwargs)
        usage = getattr(reply, "usage", None)
        if count is not None and usage is not None:
            count.tokens_in += int(getattr(usage, "prompt_tokens", 0) or 0)
            count.tokens_out += int(getattr(usage, "completion_tokens", 0) or 0)
        return reply

    completions.create = counted
    return api


def usage_of(scores: Sequence[Any]) -> dict[str, int]:
    """Summed ``ragas_usage`` of the scores' metadata: calls, tokens in and out."""
    rows = [s.metadata.get("ragas_usage") or {} for s in scores]
    return {k: sum(int(r.get(k, 0)) for r in rows) for k in ("calls", "tokens_in", "tokens_out")}
