"""Cache-aware execution of a variant's model requests, with typed results.

Looks every request up in the request cache, sends only the misses to the backend, and commits
each result to the cache the moment it arrives. Every request ends with one `RequestResult`:
an answer (from the model or the cache) or an explicit error. A failed request is counted and
not cached, so a rerun retries it; a request the backend never answered becomes an error, never
an empty answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from harness._cache import RequestCache, request_key
from harness._types import Generation, GenerationParams
from harness._ui import Reporter
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    Rendered,
)

Kind = Literal["generate", "loglikelihood"]
NO_RESULT = "no result: the backend finished without answering this request"


@dataclass(frozen=True)
class RequestResult:
    """The outcome of one model request.

    Attributes:
        kind: "generate" or "loglikelihood".
        text: The completion (generation requests; "" on error).
        logprob: Summed log-probability of the continuation (log-likelihood requests).
        tokens_in: Prompt tokens.
        tokens_out: Generated tokens, or the continuation's scored tokens.
        finish_reason: "stop", "length" or "error".
        error: Why the request failed (None when it did not).
        cached: Answered by the request cache.
        reasoning: Thinking the server returned apart from ``text`` (None: none).
        reasoning_tokens: Tokens of that thinking, when the server counted them.
    """

    kind: Kind
    text: str = ""
    logprob: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"
    error: str | None = None
    cached: bool = False
    reasoning: str | None = None
    reasoning_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, kind: Kind, error: str) -> RequestResult:
        return cls(kind, finish_reason="error", error=error)

    @classmethod
    def from_backend(cls, kind: Kind, result: Generation | Loglikelihood) -> RequestResult:
        """Converts what a backend yields."""
        if isinstance(result, Loglikelihood):
            return cls(
                kind,
                logprob=result.logprob,
                tokens_out=int(result.tokens or 0),
                finish_reason="error" if result.error else "stop",
                error=result.error or None,
            )
        return cls(
            kind,
            text=result.text,
            tokens_in=int(result.tokens_in or 0),
            tokens_out=int(result.tokens_out or 0),
            finish_reason="error" if result.error else result.finish_reason,
            error=result.error or None,
            reasoning=result.reasoning,
            reasoning_tokens=result.reasoning_tokens,
        )

    @classmethod
    def from_cache(cls, kind: Kind, stored: dict[str, Any]) -> RequestResult:
        """Reads a cache entry (the backend result's fields, as stored since schema 1)."""
        if kind == "loglikelihood":
            return cls(
                kind,
                logprob=float(stored["logprob"]),
                tokens_out=int(stored.get("tokens", 0) or 0),
                cached=True,
            )
        return cls(
            kind,
            text=str(stored["text"]),
            tokens_in=int(stored.get("tokens_in", 0) or 0),
            tokens_out=int(stored.get("tokens_out", 0) or 0),
            finish_reason=str(stored.get("finish_reason", "stop")),
            cached=True,
            reasoning=stored.get("reasoning"),
            reasoning_tokens=stored.get("reasoning_tokens"),
        )

    def to_cache(self) -> dict[str, Any]:
        """The cache entry (same layout as before typed results, so old caches stay valid)."""
        if self.kind == "loglikelihood":
            return {"logprob": self.logprob, "tokens": self.tokens_out, "error": None}
        entry: dict[str, Any] = {
            "text": self.text,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "finish_reason": self.finish_reason,
            "error": None,
        }
        if self.reasoning is not None:  # only then: other entries keep their old layout
            entry["reasoning"] = self.reasoning
            entry["reasoning_tokens"] = self.reasoning_tokens
        return entry


@dataclass
class Batch:
    """The outcome of one variant's requests.

    Attributes:
        results: One result per request, in request order (multi-turn: per completion, its
            turns merged).
        model_s: Seconds spent waiting on the backend.
        sent: Multi-turn: every turn's request as answered, so a turn served by the cache is
            counted as one (None: ``results`` are the requests).
    """

    results: list[RequestResult] = field(default_factory=list)
    model_s: float = 0.0
    sent: list[RequestResult] | None = None

    @property
    def cache_hits(self) -> int:
        """Requests (turns) answered by the cache."""
        return sum(r.cached for r in (self.results if self.sent is None else self.sent))

    @property
    def model_calls(self) -> int:
        """Requests (turns) sent to the backend that came back (answered or failed)."""
        every = self.results if self.sent is None else self.sent
        return sum(not r.cached and r.error != NO_RESULT for r in every)

    @property
    def errors(self) -> int:
        """Requests with no answer."""
        return sum(not r.ok for r in self.results)

    @property
    def tokens_in(self) -> int:
        return sum(r.tokens_in for r in self.results)

    @property
    def tokens_out(self) -> int:
        return sum(r.tokens_out for r in self.results)


def _keys(
    backend: Backend,
    adapter: AdapterSpec | None,
    kind: str,
    payloads: list[Any],
    params: dict[str, Any],
) -> list[str]:
    info = backend.model_info()
    base = {
        "backend": backend.name,
        "model": info.weight_sha256 or info.id,
        "adapter": adapter.sha256 if adapter else None,
        "kind": kind,
        "params": params,
        "engine": backend.cache_identity(),
    }
    return [request_key(**base, payload=p) for p in payloads]


def run_requests(
    backend: Backend,
    adapter: AdapterSpec | None,
    *,
    prompts: list[Rendered] | None = None,
    params: GenerationParams | None = None,
    ll_requests: list[LoglikelihoodRequest] | None = None,
    cache: RequestCache | None,
    reporter: Reporter,
    label: str,
) -> Batch:
    """Runs generation requests (``prompts`` with ``params``; prompt i repeated per sample
    index already) or log-likelihood requests, through the cache."""
    kind: Kind
    if ll_requests is not None:
        kind = "loglikelihood"
        payloads: list[Any] = [[r.context, r.continuation] for r in ll_requests]
        pdict: dict[str, Any] = {}
    else:
        assert prompts is not None and params is not None
        kind = "generate"
        pdict = {k: v for k, v in params.to_dict().items() if k != "n"}
        payloads = _with_repeat_index(prompts)
    keys = _keys(backend, adapter, kind, payloads, pdict)
    who = backend.model_info().id + (f" + {adapter.name}" if adapter else "")
    found = cache.get_many(keys) if cache is not None else {}
    results: list[RequestResult | None] = [
        RequestResult.from_cache(kind, found[k]) if k in found else None for k in keys
    ]
    missing = [i for i, r in enumerate(results) if r is None]
    reporter.start(label, len(keys), len(keys) - len(missing))
    t0 = time.perf_counter()
    try:
        if missing:
            stream: Iterable[tuple[int, Generation | Loglikelihood]]
            if ll_requests is not None:
                stream = backend.loglikelihood([ll_requests[i] for i in missing], adapter)
            else:
                assert prompts is not None and params is not None
                stream = backend.generate([prompts[i] for i in missing], params, adapter)
            for j, raw in stream:
                i = missing[j]
                res = RequestResult.from_backend(kind, raw)
                results[i] = res
                if res.ok and cache is not None:
                    cache.put_many({keys[i]: res.to_cache()}, backend=backend.name, model=who)
                reporter.advance(1, res.tokens_out if kind == "generate" else 0)
    finally:
        elapsed = time.perf_counter() - t0
        reporter.finish()
    final = [r if r is not None else RequestResult.failed(kind, NO_RESULT) for r in results]
    return Batch(results=final, model_s=elapsed)


def _with_repeat_index(prompts: list[Rendered]) -> list[Any]:
    """Makes the k-th repeat of the same prompt a distinct request (n samples per item)."""
    seen: dict[str, int] = {}
    payloads = []
    for p in prompts:
        key = p if isinstance(p, str) else repr(p)
        k = seen.get(key, 0)
        seen[key] = k + 1
        payloads.append([p, k])
    return payloads
