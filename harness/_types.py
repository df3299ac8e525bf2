"""The values that flow between tasks, backends, scorers and the runner.

A task turns dataset rows into `Sample`s, each holding a `Prompt` (chat messages plus the plain
completion-style text). A backend renders the prompt (chat template or plain text), answers
with `Generation`s or choice log-likelihoods, and the runner hands each sample's `Output` to
the task's scorers, which return a `Score` per sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


@dataclass(frozen=True)
class Prompt:
    """What the model is asked, in both renderings a backend may need.

    Attributes:
        messages: The prompt as chat turns (used with a chat template or a chat endpoint).
        text: The same prompt as one completion-style string (used without a chat template).
        fewshot: How many exemplar user/assistant pairs open the (non-system) chat turns;
            they go into the first user turn unless ``--fewshot-as-multiturn``.
    """

    messages: tuple[Message, ...]
    text: str
    fewshot: int = 0

    @classmethod
    def plain(cls, text: str, system: str | None = None) -> Prompt:
        """A one-turn prompt whose chat form is a single user message holding ``text``."""
        msgs = ((Message("system", system),) if system else ()) + (Message("user", text),)
        return cls(messages=msgs, text=(system + "\n\n" if system else "") + text)

    def with_system(self, system: str) -> Prompt:
        """This prompt with ``system`` leading its system turn: the task's own system text, if
        any, follows after a blank line, so its instructions are kept. The completion-style
        text gets ``system`` as a first paragraph."""
        own = [m.content for m in self.messages if m.role == "system"]
        turns = tuple(m for m in self.messages if m.role != "system")
        merged = "\n\n".join([system, *own])
        return Prompt(
            messages=(Message("system", merged), *turns),
            text=f"{system}\n\n{self.text}",
            fewshot=self.fewshot,
        )


@dataclass
class Sample:
    """One evaluation item.

    Attributes:
        id: Stable identifier within the dataset (used to pair runs item by item).
        prompt: What the model is asked.
        target: The reference answer(s); any JSON-serialisable value.
        choices: For log-likelihood tasks, the continuations scored against the prompt.
        continuation: Partial scoring (Winogrande): the text scored after each choice. Each
            choice then completes the context (prompt + choice) instead of being scored
            itself, and the choices compete on how likely they make this continuation.
        metadata: Anything a scorer needs besides the target (test code, schema, ...).
        followups: Further user turns, each asked after the model's previous answer
            (multi-turn tasks; the output is the last turn's answer).
    """

    id: str
    prompt: Prompt
    target: Any
    choices: list[str] | None = None
    continuation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    followups: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationParams:
    """How to sample. Recorded verbatim in every run record and part of every cache key."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass
class Generation:
    """One completion from a backend.

    Attributes:
        text: The generated text, cut at the first stop sequence.
        tokens_in: Prompt tokens.
        tokens_out: Generated tokens.
        finish_reason: "stop", "length" or "error".
        error: Why the request failed, if it did (counted, never dropped).
        reasoning: The thinking a server returned apart (``reasoning_content`` or
            ``reasoning``); None when it returned none (``text`` may still hold a block).
        reasoning_tokens: Tokens of that thinking, when the server counted them.
    """

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"
    error: str | None = None
    reasoning: str | None = None
    reasoning_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Output:
    """Everything the model produced for one sample.

    Attributes:
        texts: The n completions (generation tasks); empty for log-likelihood tasks.
        choice_logprobs: Summed log-probability of each of ``sample.choices`` (log-likelihood
            tasks only).
        choice_tokens: Tokens in each choice as the backend scored it (log-likelihood tasks;
            what token-weighted perplexity divides by).
        errors: Errors of failed requests for this sample.
        turn_texts: Multi-turn samples: per completion, every turn's answer (the last is
            in ``texts``); empty otherwise.
        raw_texts: Per completion, the text before the reasoning split (empty when no split
            ran); ``texts`` then holds the answers, which is all scorers see.
        reasoning: Per completion, the thinking (None: none), when a split ran.
        reasoning_truncated: Per completion, whether the thinking never closed.
    """

    texts: list[str] = field(default_factory=list)
    choice_logprobs: list[float] | None = None
    choice_tokens: list[int] | None = None
    errors: list[str] = field(default_factory=list)
    turn_texts: list[list[str]] = field(default_factory=list)
    raw_texts: list[str] = field(default_factory=list)
    reasoning: list[str | None] = field(default_factory=list)
    reasoning_truncated: list[bool] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The first completion ("" if none)."""
        return self.texts[0] if self.texts else ""


@dataclass
class Score:
    """A scorer's verdict on one sample.

    Attributes:
        values: Metric name to per-sample value (``None`` when not applicable to this sample).
        answer: The answer extracted from the output, if the scorer extracts one.
        explanation: Why, in words (judges fill this in).
        metadata: Anything else worth keeping per sample.
    """

    values: dict[str, float | None]
    answer: Any = None
    explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricValue:
    """An aggregated metric with its uncertainty.

    Attributes:
        value: The point estimate.
        stderr: Standard error of the estimate (None when not defined).
        ci_low: Lower end of the 95% confidence interval.
        ci_high: Upper end of the 95% confidence interval.
        n: Samples that contributed.
        method: How the interval was computed ("wilson", "normal", "bootstrap", "none").
    """

    value: float
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    method: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
