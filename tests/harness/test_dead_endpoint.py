"""A dead endpoint costs one line, not a dataset: the pre-run check and the breaker.

Uses a real OpenAI-compatible HTTP server on 127.0.0.1 (a stub that echoes prompts) which the
tests start, and kill in the middle of a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _openai_stub import Stub

from harness._errors import BackendError, ModelError
from harness.backends.openai import OpenAIBackend
from harness.backends.openai_client import ClientConfig, CompletionRequest, OpenAIClient

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.kill()


def test_dead_endpoint_fails_the_check_before_any_request() -> None:
    backend = OpenAIBackend(model="x", base_url=DEAD)
    with pytest.raises(
        BackendError, match=r"nothing answers at http://127.0.0.1:9/v1 .*--base-url"
    ):
        backend.prepare([])


def test_the_check_wants_the_model_in_the_listing(stub: Stub) -> None:
    OpenAIBackend(model="m", base_url=stub.url).prepare([])  # served: fine
    with pytest.raises(ModelError, match=r"does not serve model 'x' \(it serves m\)"):
        OpenAIBackend(model="x", base_url=stub.url).prepare([])


def test_breaker_aborts_the_rest_after_consecutive_connection_failures() -> None:
    client = OpenAIClient(
        ClientConfig(DEAD, max_retries=0, concurrency=1, max_consecutive_failures=3)
    )
    results = dict(client.run([CompletionRequest("m", f"q{i}") for i in range(20)]))
    errors = [results[i].error or "" for i in range(20)]
    assert all("Connection" in e for e in errors[:3])
    assert all(
        e.startswith("aborted: the endpoint http://127.0.0.1:9/v1 died after 0 answers")
        for e in errors[3:]
    )
    assert client.stats.aborted == 17 and client.stats.failures == 20


def test_an_answer_resets_the_streak(stub: Stub) -> None:
    stub.answers = 4  # answers four requests, then stops listening
    client = OpenAIClient(
        ClientConfig(
            stub.url, max_retries=1, backoff=0.01, concurrency=1, max_consecutive_failures=2
        )
    )
    results = dict(client.run([CompletionRequest("m", f"q{i}") for i in range(10)]))
    ok = [i for i, r in results.items() if r.error is None]
    aborted = [i for i, r in results.items() if (r.error or "").startswith("aborted")]
    assert sorted(ok) == [0, 1, 2, 3]
    assert len(aborted) == 4 and "died after 4 answers" in (results[aborted[0]].error or "")


def _run_against(stub: Stub, data_dir: Any, tmp_path: Any, **options: Any) -> Any:
    from harness import DataOptions, RequestCache, RunContext, run_eval

    ctx = RunContext(cache=RequestCache(tmp_path / "c.sqlite"), runs_dir=tmp_path / "runs")
    (result,) = run_eval(
        "gsm8k",
        backend="openai",
        backend_options={"model": "m", "base_url": stub.url, **options},
        task_params={"num_fewshot": 0},
        data=DataOptions(data_dir=data_dir, limit=10),
        context=ctx,
    )
    return result


def test_server_killed_mid_run_stops_the_run_and_leaves_it_incomplete(
    stub: Stub, data_dir: Any, tmp_path: Any
) -> None:
    stub.answers = 3
    result = _run_against(
        stub, data_dir, tmp_path, concurrency=1, max_retries=0, max_connection_failures=2
    )
    record, samples = result.record, result.samples
    assert record.status == "incomplete"
    assert (record.counts.requests, record.counts.errors) == (10, 7)
    assert stub.served == 3  # nothing was sent after the breaker tripped
    errors = [s.errors[0] for s in samples if s.errors]
    assert sum(e.startswith("aborted: ") for e in errors) == 5
    assert "died after 3 answers" in errors[-1]
    assert all(s.scores == {} for s in samples if s.errors)  # failures never scored
    assert record.metrics["strict_match"].n == 3
