"""Which model judges, and where it is served: a remote endpoint or a vLLM server we launch.

A judge scorer takes its configuration from the run context (``RunContext.judge``), with the
task's ``judge_*`` parameters on top. The command line builds that default from its ``--judge-*``
options, falling back to these environment variables (read there, and only there):

=============================  ===============================================================
``HARNESS_JUDGE_MODEL``        model name at the endpoint; with ``--judge local`` the local
                               model (bundled name, folder or hub id; default: bundled model)
``HARNESS_JUDGE_BASE_URL``     OpenAI-compatible root, e.g. ``http://10.0.0.5:8000/v1``
                               (default with a model and no URL: ``https://api.openai.com/v1``)
``HARNESS_JUDGE_API_KEY_ENV``  name of the variable holding the key (default ``OPENAI_API_KEY``)
``HARNESS_JUDGE_LOCAL``        ``1``: launch a vLLM server on 127.0.0.1 for the local model
``HARNESS_JUDGE_FORMAT``       ``json_schema`` / ``json_object`` / ``none`` (structured output)
=============================  ===============================================================

The key itself is read from the environment when a request is made and never recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from harness import HarnessError

ENV_MODEL = "HARNESS_JUDGE_MODEL"
ENV_BASE_URL = "HARNESS_JUDGE_BASE_URL"
ENV_KEY_ENV = "HARNESS_JUDGE_API_KEY_ENV"
ENV_LOCAL = "HARNESS_JUDGE_LOCAL"
ENV_FORMAT = "HARNESS_JUDGE_FORMAT"
OPENAI_URL = "https://api.openai.com/v1"
Format = Literal["json_schema", "json_object", "none"]


@dataclass(frozen=True)
class JudgeConfig:
    """How to reach the judge model.

    Attributes:
        model: Model name at the endpoint; when ``local``, the local model to serve.
        base_url: OpenAI-compatible root (None: OpenAI when ``model`` is set).
        api_key_env: Environment variable holding the API key.
        local: Launch a vLLM server for ``model`` (default: the bundled model).
        response_format: Structured output (None: json_schema for a local judge, else
            json_object, which OpenAI, vLLM and llama.cpp all accept).
        concurrency: Judge requests in flight at once.
        timeout: Seconds per attempt.
        max_retries: Retries on 429/5xx/timeouts.
        max_tokens: Budget for one verdict.
        cache: Read and write the request cache.
        server_kv_cache_gib: KV cache of a launched local server (CPU).
        server_max_model_len: Context length of a launched local server.
        server_startup_timeout: Seconds to wait for a launched local server (a busy CPU
            machine can take minutes).
        max_failure_rate: A judged run whose share of unreadable verdicts exceeds this is
            recorded as incomplete (``--max-judge-failures``).
        calibrate: Also grade the built-in known-good / known-bad pairs
            (`judges.calibration`, ``--judge-calibration``) and record the judge's accuracy.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    local: bool = False
    response_format: Format | None = None
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 4
    max_tokens: int = 256
    cache: bool = True
    server_kv_cache_gib: int = 1
    server_max_model_len: int = 4096
    server_startup_timeout: float = 1200.0
    max_failure_rate: float = 0.2
    calibrate: bool = False

    @classmethod
    def from_vars(cls, env: Mapping[str, str], **overrides: Any) -> JudgeConfig:
        """The configuration from ``HARNESS_JUDGE_*`` values, with non-None ``overrides`` on top.

        Args:
            env: The variables (the command line passes ``Settings.judge_vars``, which
                `harness.settings_from_env` read); library code passes a `JudgeConfig`.
            **overrides: Fields to set on top, None meaning not given.
        """
        base = cls(
            model=env.get(ENV_MODEL) or None,
            base_url=env.get(ENV_BASE_URL) or None,
            api_key_env=env.get(ENV_KEY_ENV) or "OPENAI_API_KEY",
            local=env.get(ENV_LOCAL, "").lower() in ("1", "true", "yes"),
            response_format=_format(env.get(ENV_FORMAT)),
        )
        return base.with_overrides(**overrides)

    def with_overrides(self, **overrides: Any) -> JudgeConfig:
        """This configuration with the non-None ``overrides`` applied."""
        fields = {k: v for k, v in overrides.items() if v is not None}
        if "response_format" in fields:
            fields["response_format"] = _format(fields["response_format"])
        return replace(self, **fields)

    @classmethod
    def resolve(cls, default: Any, overrides: dict[str, Any]) -> JudgeConfig:
        """The run's default judge (``RunContext.judge``; None: none configured) with a task's
        non-None ``overrides`` on top, validated."""
        base = default if isinstance(default, JudgeConfig) else cls()
        return base.with_overrides(**overrides).validate()

    def validate(self) -> JudgeConfig:
        """Raises `HarnessError` when no judge is configured or the choice is contradictory."""
        if self.local and self.base_url:
            raise HarnessError("use either --judge local or --judge-base-url, not both")
        if not self.local and not self.model and not self.base_url:
            raise HarnessError(
                "this task needs a judge: pass --judge local (a vLLM server for the bundled "
                "model), or --judge-model NAME [--judge-base-url URL], or set HARNESS_JUDGE_MODEL"
            )
        return self

    @property
    def structured(self) -> Format:
        """The structured-output mode in effect."""
        return self.response_format or ("json_schema" if self.local else "json_object")

    def to_env(self) -> dict[str, str]:
        """The ``HARNESS_JUDGE_*`` variables that reproduce this configuration."""
        env = {ENV_KEY_ENV: self.api_key_env}
        if self.model:
            env[ENV_MODEL] = self.model
        if self.base_url:
            env[ENV_BASE_URL] = self.base_url
        if self.local:
            env[ENV_LOCAL] = "1"
        if self.response_format:
            env[ENV_FORMAT] = self.response_format
        return env


def _format(value: str | None) -> Format | None:
    if not value:
        return None
    if value not in ("json_schema", "json_object", "none"):
        raise HarnessError(
            f"judge response format {value!r} is not one of json_schema, json_object, none"
        )
    return value  # type: ignore[return-value]
