"""A server that splits for you: ``reasoning_content`` fills the same fields as harness's split.

The OpenAI-compatible stub on 127.0.0.1 answers like vLLM with ``--reasoning-parser``: the
thinking in ``reasoning_content`` (or ``reasoning``), the answer in ``content``, a thinking
block cut by ``max_tokens`` as reasoning with no content. The same outputs scripted as raw
``<think>`` text for the fake backend give the same answers and the same scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _openai_stub import Stub

from harness import DataOptions, RunContext, evaluate, get_task
from harness._output_split import TRUNCATED_RATE
from harness.backends.fake import FakeBackend
from harness.backends.openai import OpenAIBackend

#: Per item (by a word of its question): thinking, answer, finish reason.
REPLIES = {
    "Janet": ("16 - 3 - 4 = 9. #### 9? then 9 * 2 = 18", "#### 18", "stop"),
    "robe": ("2 + 1 = 3 bolts. #### 3", "No idea.", "stop"),
    "flipping": ("80000 + 50000 = 130000, profit 70000", "", "length"),
}


def _reply(body: dict[str, Any]) -> dict[str, Any]:
    question = body["messages"][-1]["content"]
    key = next(k for k in REPLIES if k in question)
    thinking, answer, finish = REPLIES[key]
    field = "reasoning" if key == "robe" else "reasoning_content"  # both spellings
    message = {"content": answer or None, field: thinking}
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 12,
        "total_tokens": 22,
        "completion_tokens_details": {"reasoning_tokens": 9},
    }
    return {"message": message, "finish_reason": finish, "usage": usage}


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub(models=["reasoner"], respond=_reply)
    yield s
    s.kill()


def _evaluate(backend: Any, tmp_path: Path, name: str) -> Any:
    ctx = RunContext(runs_dir=tmp_path / name)
    task = get_task("gsm8k", num_fewshot=0)
    [res] = evaluate(task, backend, data=DataOptions(limit=3), context=ctx)
    return res


def test_server_split_equals_harness_split(stub: Stub, tmp_path: Path) -> None:
    served = _evaluate(OpenAIBackend(model="reasoner", base_url=stub.url), tmp_path, "server")
    script = {
        "chat_template": "<think></think>",
        "answers": [
            {
                "contains": k,
                "text": f"<think>{t}</think>{a}" if f == "stop" else f"<think>{t}",
                "finish_reason": f,
            }
            for k, (t, a, f) in REPLIES.items()
        ],
    }
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(script))
    split = _evaluate(FakeBackend(model=str(path), chat_template=True), tmp_path, "harness")
    for a, b in zip(served.samples, split.samples, strict=True):
        assert a.outputs == b.outputs
        assert a.reasoning == b.reasoning
        assert {k: s.values for k, s in a.scores.items()} == {
            k: s.values for k, s in b.scores.items()
        }
    rec = served.record
    assert [s.outputs for s in served.samples] == [["#### 18"], ["No idea."], [""]]
    assert rec.metrics["strict_match"].value == pytest.approx(1 / 3)
    assert rec.metrics[TRUNCATED_RATE].value == pytest.approx(1 / 3)
    assert rec.reasoning is not None
    assert (rec.reasoning.server_split, rec.reasoning.truncated) == (3, 1)
    assert rec.reasoning.source == "none"  # nothing asked harness to split: the server did
    # thinking tokens as the server counted them, apart from the answer tokens
    assert (rec.usage.model_tokens_out, rec.usage.model_reasoning_tokens) == (36, 27)
    assert rec.usage.reasoning_tokens_method == "server"


def test_server_reasoning_survives_the_cache(stub: Stub, tmp_path: Path) -> None:
    from harness import RequestCache

    cache = RequestCache(tmp_path / "c.sqlite")
    task = get_task("gsm8k", num_fewshot=0)
    backend = OpenAIBackend(model="reasoner", base_url=stub.url)
    first, again = (
        evaluate(
            task, backend, data=DataOptions(limit=3), context=RunContext(cache=cache, runs_dir=None)
        )[0]
        for _ in range(2)
    )
    assert again.record.counts.cache_hits == 3
    assert [s.reasoning for s in again.samples] == [s.reasoning for s in first.samples]
    assert again.record.usage.model_reasoning_tokens == 27


def test_chat_template_kwargs_go_with_chat_requests(stub: Stub, tmp_path: Path) -> None:
    kwargs = {"enable_thinking": False}
    plain = OpenAIBackend(model="reasoner", base_url=stub.url)
    switched = OpenAIBackend(model="reasoner", base_url=stub.url, chat_template_kwargs=kwargs)
    res = _evaluate(switched, tmp_path, "kwargs")
    assert all(b["chat_template_kwargs"] == kwargs for b in stub.bodies)
    assert res.record.prompting is not None
    assert res.record.prompting.chat_template_kwargs == kwargs
    assert plain.cache_identity() != switched.cache_identity()  # another key
