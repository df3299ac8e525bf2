"""A scripted fake backend: answers come from a YAML or JSON file, no model is loaded.

``--backend fake --model script.yaml`` runs any task, adapters included, in milliseconds, so
the CLI, the runner, the cache, reports and gates can be tested end to end with answers the
test chose. The script says what each prompt gets; nothing else is made up beyond the
deterministic defaults below. The run record names the model ``fake:<script stem>`` and its
``weight_sha256`` is the sha256 of the script's bytes, so the request cache never serves an
answer made under another script. Example::

    default: "I do not know."            # any prompt no rule matches (default "")
    answers:                             # first match wins
      - contains: "Janet"                # a substring of the rendered prompt ...
        text: "16 - 3 - 4 = 9 eggs, 9 * 2 = 18. #### 18"
      - prompt: "Say hi"                 # ... or the whole rendered prompt
        text: "hi"
        tokens_in: 3                     # default: whitespace tokens of the prompt
        tokens_out: 1                    # default: whitespace tokens of the answer
        finish_reason: length            # default stop
      - contains: "robe"
        error: "HTTP 503 from server"    # the request fails (counted, never raised)
      - contains: "slow question"
        text: "late"
        delay_s: 0.2                     # arrives 0.2 s after the call starts
    loglikelihood:
      per_token: -1.0                    # unmatched: this times the whitespace tokens (>= 1)
      answers:                           # every key given must match
        - continuation: " positive"
          contains: "I love it"
          logprob: -0.1
    chat_template: "... <think> ... </think> ..."  # a template's text: <think> splits outputs
    reasoning_markers: ["<reason>", "</reason>"]  # or the model's own markers
    max_model_len: 4096                  # context window in whitespace tokens (default none)
    adapters:
      my-adapter:                        # keys given replace the top-level ones
        answers:
          - contains: "Janet"
            text: "#### 20"

Plain prompts are rendered as ``prompt.text``; with ``--chat-template`` the messages are
sent as ``{"role", "content"}`` dicts (like the ``openai`` backend) and rules match their
contents joined by blank lines. Answers are cut at the request's stop sequences and at
``max_new_tokens`` whitespace tokens (then ``finish_reason`` is "length"). Results of one call
come back in order of ``delay_s``, as from a server answering concurrent requests. Adapters
are never loaded: an adapter without a section in ``adapters`` answers like the base model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import ModelError
from harness._types import Generation, GenerationParams, Prompt
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Rendered,
)
from harness.backends._fake_script import Reply, Script, Section, load_script
from harness.backends._options import FakeOptions


@dataclass(frozen=True)
class Call:
    """One request the fake backend answered (what tests inspect).

    Attributes:
        kind: "generate" or "loglikelihood".
        prompt: The prompt text (for log-likelihoods: the context).
        adapter: The adapter's name, None for the base model.
        continuation: The scored continuation (log-likelihood requests only).
    """

    kind: str
    prompt: str
    adapter: str | None
    continuation: str | None = None


class FakeBackend(Backend):
    """Answers from a script file instead of a model.

    Args:
        options: A `FakeOptions` (or the same as keywords): ``model`` is the script's path
            (YAML, or JSON for ``.json`` files); ``chat_template`` True renders chat messages,
            None/False the prompt's plain text; ``batch_size`` is recorded only;
            ``chat_template_kwargs`` are recorded and in the cache key (the fake has no
            template).

    Raises:
        ModelError: No script given, or it is missing or malformed.
    """

    #: What the constructor takes (checked by `harness.backends.build_backend`).
    options_type = FakeOptions
    name = "fake"
    supports_loglikelihood = True
    supports_adapters = True

    def __init__(self, options: FakeOptions | None = None, /, **keywords: Any) -> None:
        o = FakeOptions.of(options, keywords)
        super().__init__(chat_template=bool(o.chat_template), batch_size=o.batch_size)
        self.chat_template_kwargs = dict(o.chat_template_kwargs or {})
        if not o.model:
            raise ModelError("--backend fake needs --model SCRIPT (a YAML or JSON answer script)")
        self.path = Path(o.model).expanduser().resolve()
        self.script: Script
        self.script, self.sha256 = load_script(self.path)
        self.calls: list[Call] = []

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=f"fake:{self.path.stem}",
            path=str(self.path),
            weight_sha256=self.sha256,
            dtype=None,
            device="fake",
        )

    def render(self, prompt: Prompt) -> Rendered:
        if not self.chat_template:
            return prompt.text
        return [{"role": m.role, "content": m.content} for m in prompt.messages]

    def chat_template_source(self) -> str | None:
        return self.script.chat_template

    def reasoning_markers(self) -> tuple[str, str] | None:
        return self.script.reasoning_markers

    def count_tokens(self, text: str) -> int | None:
        return _count(text)

    def template_settings(self) -> dict[str, Any]:
        return {"chat_template_kwargs": dict(self.chat_template_kwargs), "system_merged": False}

    def context_length(self) -> int | None:
        return self.script.max_model_len

    def prompt_tokens(self, rendered: Rendered) -> int | None:
        return _count(prompt_text(rendered))

    def truncate_left(self, rendered: Rendered, keep: int) -> Rendered:
        if not isinstance(rendered, str):
            return super().truncate_left(rendered, keep)
        return " ".join(rendered.split()[-keep:])

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        """Nothing to load: adapters only select a section of the script."""

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        section = self._section(adapter)
        texts = [prompt_text(p) for p in prompts]
        replies = [section.reply(t) for t in texts]
        for text in texts:
            self.calls.append(Call("generate", text, adapter.name if adapter else None))
        for i in _arrival_order([r.delay_s for r in replies]):
            yield i, _generation(replies[i], texts[i], params)

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Loglikelihood]]:
        section = self._section(adapter)
        rules = [section.loglikelihood_rule(r.context, r.continuation) for r in requests]
        for r in requests:
            name = adapter.name if adapter else None
            self.calls.append(Call("loglikelihood", r.context, name, r.continuation))
        delays = [rule.delay_s if rule else 0.0 for rule in rules]
        for i in _arrival_order(delays):
            rule, cont = rules[i], requests[i].continuation
            tokens = rule.tokens if rule and rule.tokens is not None else max(1, _count(cont))
            if rule and rule.error:
                yield i, Loglikelihood(logprob=float("-inf"), tokens=tokens, error=rule.error)
                continue
            per_token = section.loglikelihood.per_token * tokens
            logprob = rule.logprob if rule and rule.logprob is not None else per_token
            yield i, Loglikelihood(logprob=logprob, tokens=tokens)

    def _section(self, adapter: AdapterSpec | None) -> Section:
        return self.script.section(adapter.name if adapter else None)


def prompt_text(rendered: Rendered) -> str:
    """The text rules match: the prompt string, or the messages' contents joined by blank lines."""
    if isinstance(rendered, str):
        return rendered
    return "\n\n".join(str(m["content"]) for m in rendered)


def _count(text: str) -> int:
    """Whitespace tokens: the fake's stand-in for a tokenizer."""
    return len(text.split())


def _arrival_order(delays: list[float]) -> Iterator[int]:
    """Indices in the order their answers arrive, sleeping until each is due."""
    t0 = time.monotonic()
    for i in sorted(range(len(delays)), key=lambda k: delays[k]):
        wait = delays[i] - (time.monotonic() - t0)
        if wait > 0:
            time.sleep(wait)
        yield i


def _generation(reply: Reply, prompt: str, params: GenerationParams) -> Generation:
    """The scripted reply as a backend would return it: cut at stop and length limits."""
    tokens_in = reply.tokens_in if reply.tokens_in is not None else _count(prompt)
    if reply.error:
        return Generation(text="", tokens_in=tokens_in, finish_reason="error", error=reply.error)
    text, finish = _cut_at_stop(reply.text, params.stop), reply.finish_reason
    words = list(re.finditer(r"\S+", text))
    if len(words) > params.max_new_tokens:
        end = words[params.max_new_tokens - 1].end() if params.max_new_tokens > 0 else 0
        text, finish = text[:end], "length"
    tokens_out = reply.tokens_out if reply.tokens_out is not None else _count(text)
    return Generation(text=text, tokens_in=tokens_in, tokens_out=tokens_out, finish_reason=finish)


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest stop sequence (the stop itself is dropped, as elsewhere)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text
