"""The judge client: a request the client never answered is a counted failed judgement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from harness import Message, Output, Prompt, Sample
from harness.backends.openai_client import CompletionResult
from judges.client import JudgeClient
from judges.config import JudgeConfig
from judges.grading import JudgeScorer


class _AnswersOnlyTheFirst:
    """An OpenAI client stand-in that ends after the first request's result."""

    def run(self, calls: Sequence[Any]) -> Iterator[tuple[int, CompletionResult]]:
        yield 0, CompletionResult(texts=['{"reason": "fine", "score": 7}'], finish_reasons=["stop"])


CONFIG = JudgeConfig(model="judge", base_url="http://127.0.0.1:1/v1", cache=False)


def _sample(i: int) -> Sample:
    return Sample(str(i), Prompt((Message("user", "q"),), "q"), "ref", metadata={"question": "q"})


def test_a_missing_reply_is_an_explicit_counted_error() -> None:
    client = JudgeClient(CONFIG)
    client._client = _AnswersOnlyTheFirst()  # type: ignore[assignment]
    judge = JudgeScorer("single", CONFIG, name="rubric", client=client)
    scores = judge.score_all([_sample(0), _sample(1)], [Output("a"), Output("b")])
    assert scores[0].values["rubric_score"] == 7.0 and scores[0].values["rubric_error"] == 0.0
    # Not parsed, not scored: a failed judgement, in the score and in the client's counts.
    assert scores[1].values == {
        "rubric_score": None,
        "rubric_parse_failure": None,
        "rubric_error": 1.0,
    }
    assert scores[1].metadata["verdicts"] == [
        {
            "value": None,
            "method": "error",
            "failure": "request failed: the judge client returned no result for this request",
        }
    ]
    assert (client.stats.requests, client.stats.model_calls, client.stats.errors) == (2, 1, 1)
