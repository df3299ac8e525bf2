"""A dead endpoint costs one line, not a dataset: the pre-run check and the breaker.

Uses a real OpenAI-compatible HTTP server on 127.0.0.1 (a stub that echoes prompts) which the
tests start, and kill in the middle of a run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness._errors import BackendError, ModelError
from harness.backends.openai import OpenAIBackend
from harness.backends.openai_client import ClientConfig, CompletionRequest, OpenAIClient

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


class Stub:
    """An OpenAI-compatible server that answers ``answers`` completions, then dies."""

    def __init__(self, answers: int | None = None, models: list[str] | None = None) -> None:
        self.answers = answers
        self.models = ["m"] if models is None else models
        self.served = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kill(self) -> None:
        """Stops listening: later connections are refused."""
        threading.Thread(target=self.httpd.shutdown, daemon=True).start()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if not self.path.endswith("/models"):
                    self._send(404, {"error": "no"})
                    return
                self._send(200, {"object": "list", "data": [{"id": m} for m in stub.models]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.served += 1
                    last = stub.answers is not None and stub.served >= stub.answers
                prompt = body.get("prompt") or body["messages"][-1]["content"]
                msg = {"role": "assistant", "content": f"#### {len(prompt) % 7}"}
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                    },
                )
                if last:
                    stub.kill()

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.kill()


def test_dead_endpoint_fails_the_check_before_any_request() -> None:
    backend = OpenAIBackend(model="x", base_url=DEAD)
    with pytest.raises(BackendError, match=r"nothing answers at http://127.0.0.1:9/v1 .*--base-url"):
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
    assert all(e.startswith("aborted: the endpoint http://127.0.0.1:9/v1 died after 0 answers")
               for e in errors[3:])
    assert client.stats.aborted == 17 and client.stats.failures == 20


def test_an_answer_resets_the_streak(stub: Stub) -> None:
    stub.answers = 4  # answers four requests, then stops listening
    client = OpenAIClient(
        ClientConfig(stub.url, max_retries=1, backoff=0.01, concurrency=1,
                     max_consecutive_failures=2)
    )
    results = dict(client.run([CompletionRequest("m", f"q{i}") for i in range(10)]))
    ok = [i for i, r in results.items() if r.error is None]
    aborted = [i for i, r in results.items() if (r.error or "").startswith("aborted")]
    assert sorted(ok) == [0, 1, 2, 3]
    assert len(aborted) == 4 and "died after 4 answers" in (results[aborted[0]].error or "")
