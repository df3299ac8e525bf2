"""An async client for OpenAI-compatible endpoints, shared by backends and judges.

Every request to ``/v1/completions`` or ``/v1/chat/completions`` goes through `OpenAIClient`:
at most ``concurrency`` requests in flight (a semaphore), a timeout per request, and retries
with exponential backoff plus jitter on 429, 5xx, timeouts and connection errors. A request
that still fails becomes a `CompletionResult` with ``error`` set and is counted in
`ClientStats`; nothing is raised or dropped. The API key is read from an environment variable
(its *name* is configured, default ``OPENAI_API_KEY``) and is never logged, recorded or shown
in ``repr``. `OpenAIClient.run` is the synchronous entry point: it runs a batch on a private
event loop in a background thread and yields ``(index, result)`` as each request completes.

A dead endpoint does not cost the whole dataset: after ``max_consecutive_failures`` requests in
a row fail to connect (after their retries), the batch stops and every request not yet
answered becomes an error starting with ``aborted:`` that says how many answers came first.
`probe_models` checks an endpoint before a run.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness._errors import BackendError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
ABORTED = "aborted"
_DONE = object()


@dataclass(frozen=True)
class ClientConfig:
    """How to reach an endpoint and how hard to try.

    Attributes:
        base_url: Endpoint root including ``/v1`` (e.g. ``http://127.0.0.1:8000/v1``).
        api_key_env: Name of the environment variable holding the API key.
        require_key: Raise if that variable is unset (hosted APIs); local servers accept any key.
        concurrency: Requests in flight at once.
        timeout: Seconds allowed per attempt.
        max_retries: Retries after the first attempt (retryable errors only).
        backoff: First retry delay in seconds; doubles each retry, plus up to 100% jitter.
        max_backoff: Cap on one retry delay.
        max_consecutive_failures: Connection failures in a row (each after its retries) that
            stop the batch; the requests left become ``aborted`` errors.
    """

    base_url: str
    api_key_env: str = DEFAULT_KEY_ENV
    require_key: bool = False
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_consecutive_failures: int = 5

    def api_key(self) -> str:
        """The key from the environment (a placeholder for keyless local servers)."""
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.require_key:
            raise BackendError(
                f"environment variable {self.api_key_env} is not set; export your API key there "
                f"or name another variable with --api-key-env"
            )
        return "EMPTY"


@dataclass(frozen=True)
class CompletionRequest:
    """One request.

    Attributes:
        model: Served model (or LoRA adapter) name.
        prompt: A plain prompt string (``/v1/completions``) or a list of
            ``{"role", "content"}`` dicts (``/v1/chat/completions``).
        max_tokens: New-token budget.
        temperature: Sampling temperature (0 = greedy).
        top_p: Nucleus sampling mass.
        stop: Stop sequences.
        n: Completions per request.
        seed: Sampling seed (sent when the server supports it).
        response_format: e.g. ``{"type": "json_object"}`` or a ``json_schema`` format.
        extra_body: Server-specific fields (vLLM's ``top_k``, ...).
        top_logprobs: Chat only: ask for each generated token's log-probability and this
            many alternatives (OpenAI's and vLLM's ``logprobs`` / ``top_logprobs``).
    """

    model: str
    prompt: str | list[dict[str, str]]
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    top_logprobs: int | None = None

    @property
    def endpoint(self) -> Literal["completions", "chat"]:
        """Which API the request goes to, by the type of ``prompt``."""
        return "completions" if isinstance(self.prompt, str) else "chat"


@dataclass
class CompletionResult:
    """The answer to one request (or why there is none).

    Attributes:
        texts: One text per completion (``n``); empty on error.
        tokens_in: Prompt tokens as reported by the server.
        tokens_out: Completion tokens (all ``n``) as reported by the server.
        finish_reasons: Per completion: "stop", "length", ...
        error: ``"<ErrorType>: message"`` after the last failed attempt.
        attempts: Attempts made (1 = no retry).
        seconds: Wall time from first attempt to result.
        unreachable: The last attempt could not connect (refused, reset, timed out).
        logprobs: With ``top_logprobs``: the first completion's tokens, each as (token,
            {alternative: logprob}) (the token itself included); None when the server sent none.
        reasonings: Per completion, the thinking a server with a reasoning parser returned
            apart (``reasoning_content``, or ``reasoning``); None where it returned none.
        reasoning_tokens: Thinking tokens (all ``n``), when the server's usage counts them.
    """

    texts: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reasons: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    unreachable: bool = False
    logprobs: list[tuple[str, dict[str, float]]] | None = None
    reasonings: list[str | None] = field(default_factory=list)
    reasoning_tokens: int | None = None

    @property
    def text(self) -> str:
        """The first completion ("" if none)."""
        return self.texts[0] if self.texts else ""


@dataclass
class RequestCounts:
    """What every client of an endpoint counts: requests and tokens (the model client's
    `ClientStats` and the judge client's ``JudgeStats`` add their own counters)."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def to_dict(self) -> dict[str, int]:
        """Every counter by name, for the run record."""
        return dict(vars(self))


@dataclass
class ClientStats(RequestCounts):
    """Counts across the client's lifetime (for the run record)."""

    retries: int = 0
    failures: int = 0
    aborted: int = 0


def _is_unreachable(exc: BaseException) -> bool:
    """Connection refused or reset, DNS failure, or no answer in time."""
    import openai

    return isinstance(exc, openai.APIConnectionError | asyncio.TimeoutError)


def _is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return _is_unreachable(exc)


class Breaker:
    """Trips after ``limit`` unreachable results in a row within one batch.

    Attributes:
        base_url: The endpoint, for the message.
        limit: Consecutive unreachable results that trip it.
        answered: Requests answered so far in the batch.
        streak: Unreachable results since the last answer.
    """

    def __init__(self, base_url: str, limit: int) -> None:
        self.base_url = base_url
        self.limit = max(1, limit)
        self.answered = 0
        self.streak = 0
        self.message: str | None = None

    @property
    def tripped(self) -> bool:
        return self.message is not None

    def observe(self, result: CompletionResult) -> None:
        """Counts one finished request."""
        if result.error is None:
            self.answered += 1
            self.streak = 0
        elif result.unreachable:
            self.streak += 1
        if self.streak >= self.limit and self.message is None:
            self.message = (
                f"{ABORTED}: the endpoint {self.base_url} died after {self.answered} answers "
                f"({self.streak} requests in a row could not connect); restart the server and "
                f"rerun the same command (answered requests come from the cache)"
            )


def _describe(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class OpenAIClient:
    """Bounded, retrying access to one OpenAI-compatible endpoint.

    Args:
        config: Endpoint and limits.

    Example:
        >>> client = OpenAIClient(ClientConfig("http://127.0.0.1:8000/v1"))
        >>> for i, res in client.run([CompletionRequest("m", "Hello")]):  # doctest: +SKIP
        ...     print(i, res.text, res.error)
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        config.api_key()  # fail early if a required key is missing
        self.stats = ClientStats()
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the key
        return (
            f"OpenAIClient(base_url={self.config.base_url!r}, key_env={self.config.api_key_env!r})"
        )

    def async_openai(self) -> Any:
        """A fresh ``openai.AsyncOpenAI`` for this endpoint (own retries off; bind per loop)."""
        import openai

        return openai.AsyncOpenAI(
            base_url=self.config.base_url,
            api_key=self.config.api_key(),
            max_retries=0,
            timeout=self.config.timeout,
        )

    async def complete(
        self,
        api: Any,
        request: CompletionRequest,
        sem: asyncio.Semaphore,
        breaker: Breaker | None = None,
    ) -> CompletionResult:
        """Sends one request with retries; never raises for request failures.

        Args:
            api: An ``openai.AsyncOpenAI`` bound to the running loop (`async_openai`).
            request: What to send.
            sem: Bounds concurrency across the batch.
            breaker: The batch's breaker: once tripped, no further attempt is made.
        """
        cfg = self.config
        start = time.monotonic()
        result = CompletionResult()
        for attempt in range(cfg.max_retries + 1):
            result.attempts = attempt + 1
            try:
                async with sem:
                    if breaker is not None and breaker.message is not None:  # tripped
                        result.error, result.unreachable = breaker.message, False
                        break
                    response = await asyncio.wait_for(
                        self._send(api, request), timeout=cfg.timeout + 5
                    )
                _fill(result, response, request.endpoint)
                break
            except Exception as exc:  # noqa: BLE001 - every failure becomes a counted error
                result.error = _describe(exc)
                result.unreachable = _is_unreachable(exc)
                if attempt == cfg.max_retries or not _is_retryable(exc):
                    break
                if breaker is not None and breaker.tripped:
                    break  # the endpoint is gone: do not wait out the backoff
                with self._stats_lock:
                    self.stats.retries += 1
                delay = min(cfg.max_backoff, cfg.backoff * 2**attempt)
                await asyncio.sleep(delay * (1 + random.random()))
        result.seconds = time.monotonic() - start
        if breaker is not None:
            breaker.observe(result)
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.failures += result.error is not None
            self.stats.aborted += (result.error or "").startswith(ABORTED)
            self.stats.tokens_in += result.tokens_in
            self.stats.tokens_out += result.tokens_out
        return result

    async def _send(self, api: Any, r: CompletionRequest) -> Any:
        kwargs: dict[str, Any] = {
            "model": r.model,
            "max_tokens": r.max_tokens,
            "temperature": r.temperature,
            "top_p": r.top_p,
            "n": r.n,
        }
        if r.stop:
            kwargs["stop"] = list(r.stop)
        if r.seed is not None:
            kwargs["seed"] = r.seed
        if r.extra_body:
            kwargs["extra_body"] = r.extra_body
        if r.endpoint == "completions":
            return await api.completions.create(prompt=r.prompt, **kwargs)
        if r.response_format is not None:
            kwargs["response_format"] = r.response_format
        if r.top_logprobs is not None:
            kwargs.update(logprobs=True, top_logprobs=r.top_logprobs)
        return await api.chat.completions.create(messages=r.prompt, **kwargs)

    async def abatch(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        """Runs all requests concurrently (bounded); results in request order."""
        api = self.async_openai()
        sem = asyncio.Semaphore(self.config.concurrency)
        try:
            return list(await asyncio.gather(*(self.complete(api, r, sem) for r in requests)))
        finally:
            await api.close()

    def run(self, requests: Sequence[CompletionRequest]) -> Iterator[tuple[int, CompletionResult]]:
        """Yields ``(index, result)`` in completion order; usable from synchronous code.

        The batch runs on its own event loop in a daemon thread, so this works whether or not
        the caller already has a loop. Closing the iterator early cancels what is in flight.
        """
        if not requests:
            return
        out: queue.Queue[Any] = queue.Queue()
        loop = asyncio.new_event_loop()
        tasks: list[asyncio.Task[Any]] = []

        async def main() -> None:
            api = self.async_openai()
            sem = asyncio.Semaphore(self.config.concurrency)
            breaker = Breaker(self.config.base_url, self.config.max_consecutive_failures)

            async def one(i: int, r: CompletionRequest) -> None:
                out.put((i, await self.complete(api, r, sem, breaker)))

            tasks.extend(asyncio.ensure_future(one(i, r)) for i, r in enumerate(requests))
            try:
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                await api.close()

        def worker() -> None:
            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # noqa: BLE001 - surfaced in the consuming thread
                out.put(exc)
            finally:
                out.put(_DONE)
                loop.close()

        thread = threading.Thread(target=worker, name="openai-client", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if thread.is_alive():
                for t in list(tasks):  # noqa: PERF101 - snapshot: the loop thread extends it
                    try:
                        loop.call_soon_threadsafe(t.cancel)
                    except RuntimeError:  # the loop finished meanwhile
                        break
                thread.join(timeout=10)


def _fill(result: CompletionResult, response: Any, endpoint: str) -> None:
    choices = sorted(response.choices, key=lambda c: c.index)
    if endpoint == "completions":
        result.texts = [c.text or "" for c in choices]
    else:
        result.texts = [(c.message.content or "") for c in choices]
        result.reasonings = [_reasoning(c.message) for c in choices]
    result.finish_reasons = [c.finish_reason or "stop" for c in choices]
    if endpoint == "chat" and choices:
        result.logprobs = _token_logprobs(choices[0])
    usage = getattr(response, "usage", None)
    if usage is not None:
        result.tokens_in = int(usage.prompt_tokens or 0)
        result.tokens_out = int(usage.completion_tokens or 0)
        details = getattr(usage, "completion_tokens_details", None)
        counted = getattr(details, "reasoning_tokens", None) if details is not None else None
        result.reasoning_tokens = int(counted) if counted is not None else None
    result.error = None


def _token_logprobs(choice: Any) -> list[tuple[str, dict[str, float]]] | None:
    """A chat choice's per-token log-probabilities, when the server returned them."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    out = []
    for t in content:
        top = {a.token: float(a.logprob) for a in (getattr(t, "top_logprobs", None) or [])}
        top.setdefault(t.token, float(t.logprob))
        out.append((t.token, top))
    return out


def _reasoning(message: Any) -> str | None:
    """The thinking a server returned apart: ``reasoning_content`` (vLLM, DeepSeek) or
    ``reasoning`` (newer vLLM, OpenRouter); None when neither is there."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if isinstance(value, str):
            return value
    return None


def probe_models(base_url: str, api_key: str, timeout: float = 5.0) -> list[dict[str, Any]] | None:
    """``GET {base_url}/models`` before a run: the models listed, or None when the endpoint
    answers but lists none (not every server implements the route).

    Raises:
        BackendError: Nothing answers at ``base_url`` within ``timeout``, or it refuses the key.
    """
    import json
    import urllib.error
    import urllib.request

    url = f"{base_url.rstrip('/')}/models"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = json.loads(r.read()).get("data")
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise BackendError(
                f"{base_url} refused the API key (HTTP {e.code}); export the right key or name "
                f"its variable with --api-key-env"
            ) from None
        return None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise BackendError(
            f"nothing answers at {base_url} ({reason}); start the server or fix --base-url"
        ) from None
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return [m for m in data if isinstance(m, dict)]
