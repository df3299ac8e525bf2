"""The OpenAI-compatible client against a real local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _openai_stub import send_json

from harness._errors import BackendError
from harness.backends.openai_client import ClientConfig, CompletionRequest, OpenAIClient


class FakeServer:
    """Scripted replies per prompt: a list of status codes consumed one per attempt."""

    def __init__(self) -> None:
        self.script: dict[str, list[int]] = {}
        self.delay: dict[str, float] = {}
        self.seen: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = body.get("prompt") or body["messages"][-1]["content"]
            with state.lock:
                state.seen.append({"path": self.path, **body})
                state.auth.append(self.headers.get("Authorization", ""))
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                codes = state.script.get(key, [])
                code = codes.pop(0) if codes else 200
            time.sleep(state.delay.get(key, 0.05))
            with state.lock:
                state.in_flight -= 1
            if code != 200:
                self._send(code, {"error": {"message": f"scripted {code}", "type": "x"}})
                return
            usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
            if self.path.endswith("/chat/completions"):
                msg = {"role": "assistant", "content": f"chat:{key}"}
                choice = {"index": 0, "message": msg, "finish_reason": "stop"}
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": f"echo:{key}", "finish_reason": "length"}
                obj = "text_completion"
            self._send(
                200,
                {
                    "id": "x",
                    "object": obj,
                    "created": 0,
                    "model": body["model"],
                    "choices": [choice],
                    "usage": usage,
                },
            )

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            send_json(self, code, payload)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[FakeServer, str]]:
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _client(url: str, **kw: Any) -> OpenAIClient:
    return OpenAIClient(ClientConfig(url, backoff=0.01, max_backoff=0.05, timeout=5, **kw))


def test_completions_and_chat_round_trip(server: tuple[FakeServer, str]) -> None:
    state, url = server
    client = _client(url)
    reqs = [
        CompletionRequest("m", "hello", max_tokens=7, stop=("\n",), seed=3),
        CompletionRequest(
            "m", [{"role": "user", "content": "hi"}], response_format={"type": "json_object"}
        ),
    ]
    results = dict(client.run(reqs))
    assert results[0].texts == ["echo:hello"] and results[0].finish_reasons == ["length"]
    assert results[1].text == "chat:hi" and results[1].error is None
    assert (results[0].tokens_in, results[0].tokens_out) == (3, 2)
    by_path = {s["path"]: s for s in state.seen}
    assert by_path["/v1/completions"]["max_tokens"] == 7
    assert by_path["/v1/completions"]["stop"] == ["\n"] and by_path["/v1/completions"]["seed"] == 3
    assert "response_format" not in by_path["/v1/completions"]
    assert by_path["/v1/chat/completions"]["response_format"] == {"type": "json_object"}
    assert client.stats.to_dict() == {
        "requests": 2,
        "retries": 0,
        "failures": 0,
        "aborted": 0,
        "tokens_in": 6,
        "tokens_out": 4,
    }


def test_retries_429_and_5xx_then_succeeds(server: tuple[FakeServer, str]) -> None:
    state, url = server
    state.script = {"a": [429, 503], "b": [500]}
    client = _client(url)
    results = dict(client.run([CompletionRequest("m", "a"), CompletionRequest("m", "b")]))
    assert results[0].text == "echo:a" and results[0].attempts == 3
    assert results[1].text == "echo:b" and results[1].attempts == 2
    assert client.stats.retries == 3 and client.stats.failures == 0


def test_failures_are_returned_and_counted_not_raised(server: tuple[FakeServer, str]) -> None:
    state, url = server
    state.script = {"bad": [400], "flaky": [503, 503, 503]}
    client = _client(url, max_retries=2)
    reqs = [
        CompletionRequest("m", "bad"),
        CompletionRequest("m", "flaky"),
        CompletionRequest("m", "ok"),
    ]
    results = dict(client.run(reqs))
    assert results[0].error is not None and results[0].error.startswith("BadRequestError")
    assert results[0].attempts == 1  # 400 is not retried
    assert results[1].error is not None and "InternalServerError" in results[1].error
    assert results[1].attempts == 3 and results[1].texts == []
    assert results[2].text == "echo:ok"
    assert client.stats.failures == 2 and client.stats.requests == 3


def test_timeout_is_an_error_and_results_come_as_completed(server: tuple[FakeServer, str]) -> None:
    state, url = server
    state.delay = {"slow": 1.5}
    client = OpenAIClient(
        ClientConfig(url, timeout=0.3, max_retries=1, backoff=0.01, concurrency=4)
    )
    reqs = [CompletionRequest("m", "slow")] + [CompletionRequest("m", f"q{i}") for i in range(5)]
    results = list(client.run(reqs))
    order = [i for i, _ in results]
    slow = dict(results)[0]
    assert slow.error is not None and "Timeout" in slow.error and slow.attempts == 2
    assert sorted(order) == list(range(6)) and order[-1] == 0  # yielded as completed
    assert client.stats.failures == 1 and client.stats.retries == 1


def test_concurrency_is_bounded(server: tuple[FakeServer, str]) -> None:
    state, url = server
    state.delay = {f"q{i}": 0.15 for i in range(8)}
    client = _client(url, concurrency=3)
    results = dict(client.run([CompletionRequest("m", f"q{i}") for i in range(8)]))
    assert all(r.error is None for r in results.values()) and len(results) == 8
    assert state.max_in_flight == 3


def test_connection_refused_is_counted(tmp_path: Any) -> None:
    client = _client("http://127.0.0.1:9/v1", max_retries=1)
    ((i, res),) = list(client.run([CompletionRequest("m", "x")]))
    assert i == 0 and res.error is not None and "Connection" in res.error and res.attempts == 2
    assert client.stats.failures == 1


def test_api_key_from_env_sent_but_never_shown(
    server: tuple[FakeServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = server
    monkeypatch.setenv("MY_SECRET_KEY", "sk-test-123")
    client = _client(url, api_key_env="MY_SECRET_KEY")
    list(client.run([CompletionRequest("m", "x")]))
    assert state.auth == ["Bearer sk-test-123"]
    assert "sk-test" not in repr(client) and "sk-test" not in repr(client.config)
    monkeypatch.delenv("MY_SECRET_KEY")
    with pytest.raises(BackendError, match="MY_SECRET_KEY is not set"):
        OpenAIClient(ClientConfig(url, api_key_env="MY_SECRET_KEY", require_key=True))


def test_closing_early_cancels_the_rest(server: tuple[FakeServer, str]) -> None:
    state, url = server
    state.delay = {f"q{i}": 0.5 for i in range(1, 8)}
    state.delay["q0"] = 0.01
    client = _client(url, concurrency=1)
    it = client.run([CompletionRequest("m", f"q{i}") for i in range(8)])
    first = next(it)
    it.close()
    time.sleep(0.6)
    assert first[0] == 0 and len(state.seen) < 8
