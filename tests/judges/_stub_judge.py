"""A stub OpenAI-compatible judge (or model) server on 127.0.0.1: replies chosen by a test
function, every request recorded (messages and response_format; a /v1/completions prompt is
passed to the function as one user message). A reply may carry per-token log-probabilities:
the function returns ``(text, tokens)`` with ``tokens`` a list of ``(token, {alternative:
logprob})`` spelling ``text``; they are sent, OpenAI's way, only when the request asks for
``logprobs`` (a plain string reply sends none, like an endpoint without them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Tokens = list[tuple[str, dict[str, float]]]
Reply = Callable[[list[dict[str, str]]], "str | tuple[str, Tokens]"]


@contextmanager
def stub_judge(reply: Reply, model: str = "stub-judge") -> Iterator[tuple[str, list[Any]]]:
    """Serves ``/v1/chat/completions`` answering ``reply(messages)``; yields (base URL, seen)."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": model, "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                seen.append(body)
            usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
            if "messages" not in body:  # /v1/completions: a text prompt
                text = reply([{"role": "user", "content": str(body["prompt"])}])
                choice = {"index": 0, "text": text, "finish_reason": "stop"}
                payload = {"id": "x", "object": "text_completion", "created": 0}
                payload |= {"model": body["model"], "choices": [choice], "usage": usage}
                self._send(payload)
                return
            answer = reply(body["messages"])
            text, tokens = answer if isinstance(answer, tuple) else (answer, None)
            msg = {"role": "assistant", "content": text}
            choice: dict[str, Any] = {"index": 0, "message": msg, "finish_reason": "stop"}
            if tokens is not None and body.get("logprobs"):
                choice["logprobs"] = {"content": [_token(t, top) for t, top in tokens]}
            self._send(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [choice],
                    "usage": usage,
                }
            )

        def _send(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _token(token: str, top: dict[str, float]) -> dict[str, Any]:
    """One token of OpenAI's ``logprobs.content`` (its own logprob, then the alternatives)."""
    alternatives = [{"token": a, "logprob": lp, "bytes": None} for a, lp in top.items()]
    return {
        "token": token,
        "logprob": top.get(token, 0.0),
        "bytes": None,
        "top_logprobs": alternatives,
    }


MTBENCH = Path(__file__).resolve().parents[2] / "examples" / "tasks" / "mtbench_style.yaml"


def run_mtbench(
    tmp: Path, url: str, answers: str, *extra: str, task: Path = MTBENCH
) -> tuple[int, str, str]:
    """``harness run`` of the MT-bench-style example (or ``task``) on the fake backend
    (``answers``: its script) judged by the stub at ``url``; runs and cache under ``tmp``."""
    from click.testing import CliRunner

    from harness.cli import cli

    script = tmp / "answers.yaml"
    script.write_text(answers)
    args = ["run", "--task", str(task), "--backend", "fake", "--model", str(script)]
    args += ["--judge-base-url", url, "--judge-model", "stub-judge", "-o", str(tmp / "runs")]
    args += ["--cache", str(tmp / "cache.sqlite"), *extra]
    res = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(cli, args)
    return res.exit_code, res.stdout, res.stderr
