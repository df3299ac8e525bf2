"""Cache-aware execution of a variant's model requests.

Looks every request up in the request cache, sends only the misses to the backend, and commits
each result to the cache the moment it arrives. Failed requests are counted and not cached, so
a rerun retries them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness._cache import RequestCache, request_key
from harness._types import GenerationParams
from harness._ui import Reporter
from harness.backends._base import AdapterSpec, Backend, LoglikelihoodRequest, Rendered


@dataclass
class Batch:
    """The outcome of one variant's requests.

    Attributes:
        results: Per request, the stored dict (a Generation or Loglikelihood as dict).
        cache_hits: Requests answered by the cache.
        model_calls: Requests sent to the backend.
        errors: Requests that failed.
        model_s: Seconds spent waiting on the backend.
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    cache_hits: int = 0
    model_calls: int = 0
    errors: int = 0
    model_s: float = 0.0


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
    found = cache.get_many(keys) if cache is not None else {}
    out = Batch(results=[found.get(k, {}) for k in keys])
    out.cache_hits = sum(1 for k in keys if k in found)
    missing = [i for i, k in enumerate(keys) if k not in found]
    reporter.start(label, len(keys), out.cache_hits)
    t0 = time.perf_counter()
    try:
        if missing:
            if ll_requests is not None:
                stream: Any = backend.loglikelihood([ll_requests[i] for i in missing], adapter)
            else:
                assert prompts is not None and params is not None
                stream = backend.generate([prompts[i] for i in missing], params, adapter)
            for j, result in stream:
                i = missing[j]
                d = result.__dict__.copy()
                out.results[i] = d
                out.model_calls += 1
                if d.get("error"):
                    out.errors += 1
                elif cache is not None:
                    cache.put_many({keys[i]: d})
                reporter.advance(1, int(d.get("tokens_out", 0) or 0))
    finally:
        out.model_s = time.perf_counter() - t0
        reporter.finish()
    return out


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
