"""RAGAS's own judge calls are counted (issue 23, case 6).

Real ragas (AnswerCorrectness, which asks the judge several times per item) against the local
OpenAI-compatible stub: every request the stub receives is one counted call, with the tokens
the stub reports, in the scorer's extra and in the run record's usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _openai_stub import Stub

from harness import Message, Output, Prompt, Sample


@pytest.fixture(autouse=True)
def _ragas() -> None:
    from judges.ragas_metrics import import_ragas

    import_ragas()  # the langchain-community shim first; fails loudly if ragas is missing


def _reply(body: dict[str, Any]) -> dict[str, Any]:
    # One JSON object that fits each of AnswerCorrectness's response models well enough.
    content = {"statements": ["Paris is the capital of France."], "TP": [], "FP": [], "FN": []}
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    return {"message": {"content": json.dumps(content)}, "usage": usage}


def test_every_ragas_request_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness._record_build import _ragas_usage
    from judges import JudgeConfig, RagasScorer

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    stub = Stub(respond=_reply)
    try:
        config = JudgeConfig(model="m", base_url=stub.url, cache=False, max_retries=0)
        scorer = RagasScorer(metrics=("answer_correctness",), config=config)
        q = "What is the capital of France?"
        samples = [
            Sample(str(i), Prompt((Message("user", q),), q), "Paris is the capital of France.")
            for i in range(3)
        ]
        outputs = [Output(texts=["The capital of France is Paris."]) for _ in samples]
        scores = scorer.score_all(samples, outputs)
    finally:
        stub.kill()
    sent = len(stub.bodies)
    assert sent >= len(samples)  # at least one judge request per item
    per_item = [s.metadata["ragas_usage"]["calls"] for s in scores]
    assert sum(per_item) == sent and all(c > 0 for c in per_item)
    usage = scorer.extra(scores, samples)["ragas"]["usage"]
    assert usage == {"calls": sent, "tokens_in": 11 * sent, "tokens_out": 7 * sent}
    assert _ragas_usage({"ragas": {"usage": usage}}) == usage
