"""The HTTP server behind ``harness view``: the page and a read-only JSON API over runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from harness._errors import HarnessError
from harness.runstore import RunEntry, diff_runs, list_runs, load_run
from harness.view._page import CSP, PAGE, REPORT_CSP

HOST = "127.0.0.1"


class RunStore:
    """The runs the page shows: every run under the roots (folders or single run folders)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)

    def entries(self) -> list[RunEntry]:
        out: list[RunEntry] = []
        for root in self.roots:
            found, _ = list_runs(root)
            out += found
        out.sort(key=lambda e: e.record.created_at, reverse=True)
        return out

    def folder(self, run_id: str) -> Path:
        for e in self.entries():
            if e.path.name == run_id:
                return e.path
        raise HarnessError(f"no run {run_id!r}")


def _summary(e: RunEntry) -> dict[str, Any]:
    r = e.record
    return {
        "id": e.path.name,
        "task": r.task.name,
        "model": r.model.id,
        "adapter": e.adapter,
        "n": r.dataset.n_evaluated,
        "status": r.status,
        "created_at": r.created_at,
        "group_id": r.group_id,
        "metrics": {k: m.value for k, m in r.metrics.items()},
    }


def _run(store: RunStore, run_id: str) -> dict[str, Any]:
    loaded = load_run(store.folder(run_id))
    return {
        "record": loaded.record.model_dump(mode="json"),
        "samples": [s.model_dump(mode="json") for s in loaded.samples],
    }


def _diff(store: RunStore, query: dict[str, list[str]]) -> dict[str, Any]:
    a, b = query.get("a", [""])[0], query.get("b", [""])[0]
    metric = query.get("metric", [None])[0]
    return asdict(diff_runs(store.folder(a), store.folder(b), metric))


def _report(store: RunStore) -> str:
    """The leaderboard report of every run the page shows, as one self-contained page."""
    from harness.report import build_report, to_html
    from harness.report._plots import all_plots
    from harness.runstore import load_runs

    runs = load_runs([e.path for e in store.entries()])
    if not runs:
        raise HarnessError("no runs to report on")
    report = build_report(runs)
    return to_html(report, all_plots(report))


def _page_address(store: RunStore, path: str) -> bool:
    """Whether ``path`` is one of the page's own addresses (``/``, ``/runs/<id>``,
    ``/diff/<a>/<b>``); an address naming a run that does not exist is a `HarnessError`."""
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    if not parts:
        return True
    if (parts[0] == "runs" and len(parts) == 2) or (parts[0] == "diff" and len(parts) == 3):
        for run_id in parts[1:]:
            store.folder(run_id)
        return True
    return False


def _handler(store: RunStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            html = "text/html; charset=utf-8"
            try:
                if url.path == "/report":
                    self._send(200, _report(store).encode(), html, REPORT_CSP)
                    return
                if _page_address(store, url.path):
                    self._send(200, PAGE.encode(), html)
                    return
                body = self._api(url.path, parse_qs(url.query))
            except HarnessError as e:
                body, status = {"error": str(e)}, 404
            else:
                status = 404 if body is None else 200
                body = body if body is not None else {"error": f"no such page {url.path}"}
            self._send(status, json.dumps(body).encode(), "application/json")

        def _api(self, path: str, query: dict[str, list[str]]) -> Any:
            if path == "/api/runs":
                return [_summary(e) for e in store.entries()]
            if path.startswith("/api/run/"):
                return _run(store, unquote(path.removeprefix("/api/run/")))
            if path == "/api/diff":
                return _diff(store, query)
            return None

        def _send(self, status: int, body: bytes, kind: str, csp: str = CSP) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the terminal shows the URL, not every request."""

    return Handler


def make_server(roots: Sequence[Path], port: int = 0) -> ThreadingHTTPServer:
    """A server for the runs under ``roots`` on 127.0.0.1 (``port`` 0: any free port)."""
    return ThreadingHTTPServer((HOST, port), _handler(RunStore(roots)))
