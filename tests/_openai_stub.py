"""A tiny OpenAI-compatible server on 127.0.0.1 that tests start and kill mid-run.

It lists its models on ``GET /v1/models`` and answers chat and text completions with
``#### <digit>``; after ``answers`` completions it stops listening, so later connections are
refused, which is what a crashed server looks like to a client. ``respond`` replaces the
answer: it gets the request body and returns the choice's ``message`` (a server with a
reasoning parser adds ``reasoning_content``), and may give ``finish_reason`` and ``usage``.
Every request body is kept in ``bodies``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def send_json(handler: BaseHTTPRequestHandler, code: int, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as a JSON response with status ``code``."""
    data = json.dumps(payload).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Stub:
    """An OpenAI-compatible server that answers ``answers`` completions, then dies."""

    def __init__(
        self,
        answers: int | None = None,
        models: list[str] | None = None,
        respond: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.answers = answers
        self.respond = respond
        self.bodies: list[dict[str, Any]] = []
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
                    stub.bodies.append(body)
                    stub.served += 1
                    last = stub.answers is not None and stub.served >= stub.answers
                prompt = body.get("prompt") or body["messages"][-1]["content"]
                msg = {"role": "assistant", "content": f"#### {len(prompt) % 7}"}
                usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
                reply = stub.respond(body) if stub.respond else {"message": msg}
                if last:  # stop listening before answering, so no later connection is taken
                    stub.kill()
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", **reply["message"]},
                                "finish_reason": reply.get("finish_reason", "stop"),
                            }
                        ],
                        "usage": reply.get("usage", usage),
                    },
                )

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                send_json(self, code, payload)

        return Handler
