"""Multi-turn generation: each later user turn is asked with the model's own earlier answers.

A sample whose ``followups`` hold further user turns (MT-bench's second question) is answered
turn by turn: after the first answer, the conversation so far (prompt, answer, next user turn)
is rendered by the backend and generated again, for each of the n completions separately.
The sample's output is the last turn's answer; ``Output.turn_texts`` keeps every turn's. The
per-completion result merges the turns: tokens summed, cached only when every turn was, the
first error of any turn (a failed turn ends that conversation); the batch keeps every turn's
request too, so cache hits and model calls count turns (a first turn from the cache is one hit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from harness._requests import Batch, RequestResult
from harness._types import Message, Output, Prompt, Sample


def converse(
    samples: Sequence[Sample],
    first: Batch,
    n: int,
    render: Callable[[Prompt], Any],
    generate: Callable[[list[Any]], Batch],
    answer: Callable[[str], str] = lambda text: text,
) -> tuple[list[Output], Batch]:
    """Asks every sample's follow-up turns; returns the outputs and the merged batch.

    Args:
        samples: The samples (``followups`` may be empty).
        first: The first turn's batch, ``n`` results per sample in order.
        n: Completions per sample.
        render: The backend's prompt rendering.
        generate: Runs a list of rendered prompts through the cache and the backend.
        answer: A completion's answer, which is what later turns see (a reasoning model's
            thinking is not fed back, as reasoning-model chat templates also drop it).
    """
    results = list(first.results)
    sent = list(first.results)  # every turn's request, for the cache and call counts
    model_s = first.model_s
    convs = {
        j: list(samples[j // n].prompt.messages) for j in range(len(results))
    }  # per completion
    texts = {j: [results[j].text] for j in range(len(results))}
    turns = max((len(s.followups) for s in samples), default=0)
    for k in range(turns):
        todo = [
            j
            for j in range(len(results))
            if len(samples[j // n].followups) > k and results[j].error is None
        ]
        if not todo:
            break
        for j in todo:
            convs[j] += [
                Message("assistant", answer(texts[j][-1])),
                Message("user", samples[j // n].followups[k]),
            ]
        batch = generate([render(_prompt(convs[j])) for j in todo])
        model_s += batch.model_s
        sent += batch.results
        for j, res in zip(todo, batch.results, strict=True):
            texts[j].append(res.text)
            results[j] = _merge(results[j], res)
    outputs = [Output() for _ in samples]
    for j, res in enumerate(results):
        out = outputs[j // n]
        if res.error is not None:
            out.errors.append(res.error)
        out.texts.append(texts[j][-1] if res.error is None else "")
        out.turn_texts.append(texts[j])
    return outputs, Batch(results=results, model_s=model_s, sent=sent)


def _prompt(messages: list[Message]) -> Prompt:
    text = "\n\n".join(m.content for m in messages)
    return Prompt(messages=tuple(messages), text=text)


def _merge(before: RequestResult, turn: RequestResult) -> RequestResult:
    return dataclasses.replace(
        turn,
        tokens_in=before.tokens_in + turn.tokens_in,
        tokens_out=before.tokens_out + turn.tokens_out,
        cached=before.cached and turn.cached,
    )
