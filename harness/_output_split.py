"""The runner's reasoning split: every completion becomes an answer (scored) and its thinking.

`split_outputs` runs after a variant's requests and before its scorers: each `Output`'s
``texts`` are replaced by the answers, its raw completions and thinking kept beside them. It
returns the counts the run record turns into ``reasoning_truncated_rate``, ``length_cut_rate``
and the reasoning tokens of ``usage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness import record as rec
from harness._aggregate import mean_metric
from harness._requests import RequestResult
from harness._types import MetricValue, Output
from harness.reasoning import Split, Splitter, server_split

#: Per-item values stored beside each sample's scores (what the gate's ``max`` checks read).
TRUNCATED_RATE = "reasoning_truncated_rate"
LENGTH_CUT_RATE = "length_cut_rate"
#: How outputs ended rather than how good they were: in every generation run's metrics and
#: summary line, gateable (``max``), but left out of the quality tables that compare runs.
OUTPUT_RATES = (TRUNCATED_RATE, LENGTH_CUT_RATE)


def quality_names(record: Any) -> list[str]:
    """A run record's metric names but `OUTPUT_RATES`."""
    return [k for k in record.metrics if k not in OUTPUT_RATES]


@dataclass(frozen=True)
class SplitStats:
    """What the split found over one variant's answered completions.

    Attributes:
        splitter: The markers used and where they came from.
        per_item: Per sample index (answered samples only), its ``reasoning_truncated_rate``
            and ``length_cut_rate`` over its completions.
        reasoning_tokens: Generated tokens inside thinking blocks (every completion).
        tokens_method: How they were counted: "server" (the endpoint said), "tokenizer",
            "estimate" (the share of characters; no tokenizer), or "none" (no thinking).
        server_split: Completions whose thinking the server returned apart.
    """

    splitter: Splitter
    per_item: dict[int, dict[str, float]]
    reasoning_tokens: int
    tokens_method: str
    server_split: int


def split_outputs(
    outputs: list[Output],
    results: Sequence[RequestResult],
    n: int,
    prompts: Sequence[Any],
    splitter: Splitter,
    count_tokens: Any = None,
) -> SplitStats:
    """Splits every completion of ``outputs`` (``n`` per sample, ``results`` in order).

    Args:
        outputs: Per sample; ``texts`` become the answers (mutated in place).
        results: The variant's request results (``n`` per sample, the last turn's for
            multi-turn items).
        n: Completions per sample.
        prompts: Per sample, the rendered prompt (a template may open the thinking block).
        splitter: The run's markers.
        count_tokens: ``text -> int | None`` (the backend's tokenizer), for thinking tokens.
    """
    per_item: dict[int, dict[str, float]] = {}
    tokens, methods, by_server = 0, set(), 0
    for si, out in enumerate(outputs):
        opened = splitter.opened_by(prompts[si])
        rows = [results[si * n + k] for k in range(len(out.texts))]
        splits = [
            _split(res, text, splitter, opened) for res, text in zip(rows, out.texts, strict=True)
        ]
        out.raw_texts = [s.raw for s in splits]
        out.texts = [s.answer for s in splits]
        out.reasoning = [s.reasoning for s in splits]
        out.reasoning_truncated = [s.truncated for s in splits]
        if out.turn_texts:  # earlier turns' answers as fed back; the last is the answer
            out.turn_texts = [
                [splitter.split(t).answer for t in turns[:-1]] + [s.answer]
                for turns, s in zip(out.turn_texts, splits, strict=True)
            ]
        for res, s in zip(rows, splits, strict=True):
            by_server += res.reasoning is not None
            used, method = _reasoning_tokens(res, s, count_tokens)
            tokens += used
            methods.add(method)
        if not out.errors and splits:
            per_item[si] = {
                TRUNCATED_RATE: sum(s.truncated for s in splits) / len(splits),
                LENGTH_CUT_RATE: sum(r.finish_reason == "length" for r in rows) / len(rows),
            }
    methods.discard("none")
    method = "none" if not methods else methods.pop() if len(methods) == 1 else "mixed"
    return SplitStats(splitter, per_item, tokens, method, by_server)


def _split(res: RequestResult, text: str, splitter: Splitter, opened: bool) -> Split:
    if res.error is not None:
        return Split(text, None, text, False)
    if res.reasoning is not None:  # the server split it: its content is the answer
        return server_split(text, res.reasoning, res.finish_reason)
    return splitter.split(text, opened)


def _reasoning_tokens(res: RequestResult, split: Split, count_tokens: Any) -> tuple[int, str]:
    """Tokens of the thinking: the server's count, the tokenizer's, or a character share."""
    if not split.reasoning and res.reasoning_tokens is None:
        return 0, "none"
    if res.reasoning_tokens is not None:
        return min(int(res.reasoning_tokens), res.tokens_out or int(res.reasoning_tokens)), "server"
    thinking = split.raw[: len(split.raw) - len(split.answer)] if split.answer else split.raw
    if res.reasoning is not None:
        thinking = res.reasoning
    counted = count_tokens(thinking) if count_tokens is not None else None
    if counted is not None:
        return min(int(counted), res.tokens_out or int(counted)), "tokenizer"
    total = len(thinking) + len(split.answer)
    return round(res.tokens_out * len(thinking) / total) if total else 0, "estimate"


def split_metrics(stats: SplitStats | None) -> dict[str, MetricValue]:
    """``reasoning_truncated_rate`` and ``length_cut_rate`` over the answered items."""
    if stats is None or not stats.per_item:
        return {}
    rows = list(stats.per_item.values())
    return {
        name: mean_metric([r[name] for r in rows]) for name in (TRUNCATED_RATE, LENGTH_CUT_RATE)
    }


def split_record(
    stats: SplitStats | None, outputs: Sequence[Output], results: Sequence[RequestResult]
) -> rec.ReasoningRecord | None:
    """The run record's account of the split."""
    if stats is None:
        return None
    answered = [o for i, o in enumerate(outputs) if i in stats.per_item]
    return rec.ReasoningRecord(
        markers=list(stats.splitter.markers) if stats.splitter.markers else None,
        source=stats.splitter.source,
        completions=sum(len(o.texts) for o in answered),
        with_reasoning=sum(r is not None for o in answered for r in o.reasoning),
        truncated=sum(sum(o.reasoning_truncated) for o in answered),
        server_split=stats.server_split,
        length_cut=sum(r.ok and r.finish_reason == "length" for r in results),
    )


def keeps_raw(stats: SplitStats | None, outputs: Sequence[Output]) -> bool:
    """Whether samples.jsonl stores raw outputs and thinking (a split was possible)."""
    if stats is None:
        return False
    return stats.splitter.markers is not None or any(
        r is not None for o in outputs for r in o.reasoning
    )
