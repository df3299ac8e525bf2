"""The script of the fake backend: its schema, its loading, and which entry answers a request.

A script is a YAML or JSON mapping validated by the pydantic models below (unknown keys are
errors, every error is reported at once). The format is documented, with an example, in
`harness.backends.fake`; this module only knows how to read it and look answers up.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness._errors import ModelError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(_Strict):
    """What one generation request gets back.

    Attributes:
        text: The completion (before stop sequences and ``max_new_tokens`` cut it).
        error: When set, the request fails with this message (``text`` is ignored).
        tokens_in: Prompt tokens reported (None: whitespace tokens of the prompt).
        tokens_out: Generated tokens reported (None: whitespace tokens of the answer).
        finish_reason: "stop" or "length" (a cut at ``max_new_tokens`` also says "length").
        delay_s: Seconds after the call starts before this answer arrives.
    """

    text: str = ""
    error: str | None = None
    tokens_in: int | None = Field(None, ge=0)
    tokens_out: int | None = Field(None, ge=0)
    finish_reason: Literal["stop", "length"] = "stop"
    delay_s: float = Field(0.0, ge=0)


class Rule(Reply):
    """A `Reply` for the prompts it matches: exactly one of ``prompt`` or ``contains``.

    Attributes:
        prompt: Matches a rendered prompt equal to this.
        contains: Matches a rendered prompt holding this substring.
    """

    prompt: str | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Rule:
        if (self.prompt is None) == (self.contains is None):
            raise ValueError("give exactly one of `prompt` or `contains`")
        return self

    def matches(self, text: str) -> bool:
        """Whether this rule answers the prompt ``text``."""
        if self.prompt is not None:
            return text == self.prompt
        return self.contains is not None and self.contains in text


class LoglikelihoodRule(_Strict):
    """A log-likelihood answer for the requests matching every key given.

    Attributes:
        continuation: Matches this continuation exactly.
        prompt: Matches a context equal to this.
        contains: Matches a context holding this substring.
        logprob: Summed log-probability returned (None: ``per_token`` times ``tokens``).
        tokens: Continuation tokens reported (None: whitespace tokens, at least 1).
        error: When set, the request fails with this message.
        delay_s: Seconds after the call starts before this answer arrives.
    """

    continuation: str | None = None
    prompt: str | None = None
    contains: str | None = None
    logprob: float | None = Field(None, le=0)
    tokens: int | None = Field(None, ge=0)
    error: str | None = None
    delay_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _some_key(self) -> LoglikelihoodRule:
        if self.continuation is None and self.prompt is None and self.contains is None:
            raise ValueError("give at least one of `continuation`, `prompt` or `contains`")
        return self

    def matches(self, context: str, continuation: str) -> bool:
        """Whether this rule answers scoring ``continuation`` after ``context``."""
        return (
            (self.continuation is None or continuation == self.continuation)
            and (self.prompt is None or context == self.prompt)
            and (self.contains is None or self.contains in context)
        )


class LoglikelihoodTable(_Strict):
    """Log-likelihood answers: the first matching rule, else ``per_token`` per token."""

    per_token: float = Field(-1.0, le=0)
    answers: list[LoglikelihoodRule] = Field(default_factory=list)


class Section(_Strict):
    """The answers of one variant (the base model, or one adapter)."""

    default: Reply = Field(default_factory=lambda: Reply.model_validate({}))
    answers: list[Rule] = Field(default_factory=list)
    loglikelihood: LoglikelihoodTable = Field(
        default_factory=lambda: LoglikelihoodTable.model_validate({})
    )

    @field_validator("default", mode="before")
    @classmethod
    def _text_shorthand(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    def reply(self, text: str) -> Reply:
        """The first rule matching the prompt ``text``, else the default."""
        return next((r for r in self.answers if r.matches(text)), self.default)

    def loglikelihood_rule(self, context: str, continuation: str) -> LoglikelihoodRule | None:
        """The first log-likelihood rule matching the request, if any."""
        table = self.loglikelihood.answers
        return next((r for r in table if r.matches(context, continuation)), None)


class Script(Section):
    """A whole script: the base model's section plus per-adapter sections.

    Keys an adapter's section gives replace the top-level ones; keys it leaves out are
    inherited. An adapter without a section answers like the base model. ``chat_template``
    stands in for a tokenizer's template text (only searched for reasoning markers) and
    ``reasoning_markers`` for a model's own key.
    """

    adapters: dict[str, Section] = Field(default_factory=dict)
    chat_template: str | None = None
    reasoning_markers: tuple[str, str] | None = None
    max_model_len: int | None = Field(None, ge=1)

    def section(self, adapter: str | None) -> Section:
        """The answers for ``adapter`` (None: the base model)."""
        own = self.adapters.get(adapter) if adapter is not None else None
        if own is None:
            return self
        merged = {
            k: getattr(own if k in own.model_fields_set else self, k) for k in Section.model_fields
        }
        return Section(**merged)


def load_script(path: Path) -> tuple[Script, str]:
    """Reads and validates a script file; returns it with the sha256 of its bytes.

    Raises:
        ModelError: The file is missing, does not parse, or does not fit the schema.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelError(
            f"fake backend script {path} cannot be read ({e.strerror or e}); "
            f"pass a YAML or JSON script with --model"
        ) from None
    data = _parse(path, raw.decode("utf-8", errors="replace"))
    if not isinstance(data, dict):
        raise ModelError(f"fake backend script {path} must be a mapping (default:, answers:, ...)")
    try:
        script = Script.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()
        )
        raise ModelError(f"fake backend script {path}: {problems}") from None
    return script, hashlib.sha256(raw).hexdigest()


def _parse(path: Path, text: str) -> Any:
    """The script's data: JSON for ``.json`` files, YAML (a superset of JSON) otherwise."""
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as e:
            raise ModelError(f"fake backend script {path} is not valid JSON ({e})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ModelError(
            f"fake backend script {path} is not valid YAML{where}: {problem}"
        ) from None
