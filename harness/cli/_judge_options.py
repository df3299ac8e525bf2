"""The ``--judge*`` options shared by commands whose tasks use an LLM judge.

`judge_options` adds the options to a click command; `run_judge` turns the parsed values
(with ``HARNESS_JUDGE_*`` variables as defaults, read here at the command line's edge) into the
`judges.config.JudgeConfig` that goes into the run context, where judge scorers find it (a
``-T judge_*`` task parameter still wins). The API key is never an option: only the *name* of
the variable that holds it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from harness._errors import HarnessError


def judge_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--judge``, ``--judge-model``, ``--judge-base-url``, ``--judge-format``,
    ``--judge-max-tokens``, ``--max-judge-failures`` and ``--judge-api-key-env``."""
    opts = [
        click.option(
            "--judge",
            "judge_mode",
            default=None,
            metavar="local",
            help="`local`: serve the judge model with vLLM on 127.0.0.1 (the bundled "
            "model unless --judge-model names another).",
        ),
        click.option(
            "--judge-model",
            default=None,
            help="Judge model name at the endpoint (with --judge local: a model folder, "
            "bundled name or hub id).",
        ),
        click.option(
            "--judge-base-url",
            default=None,
            help="OpenAI-compatible judge endpoint, e.g. http://host:8000/v1 "
            "(default with --judge-model: https://api.openai.com/v1).",
        ),
        click.option(
            "--judge-format",
            type=click.Choice(["json_schema", "json_object", "none"]),
            default=None,
            help="Structured output for verdicts (default: json_schema with --judge local, "
            "else json_object; vLLM and OpenAI also take json_schema).",
        ),
        click.option(
            "--judge-max-tokens",
            type=click.IntRange(min=1),
            default=None,
            help="Token budget of one verdict (default 256; a scorer's max_tokens wins).",
        ),
        click.option(
            "--max-judge-failures",
            type=click.FloatRange(min=0.0, max=1.0),
            default=None,
            help="Largest share of unreadable verdicts a complete run may have (default 0.2); "
            "above it the run is recorded as incomplete (exit 3).",
        ),
        click.option(
            "--judge-api-key-env",
            default=None,
            metavar="VAR",
            help="Environment variable holding the judge API key (never recorded; "
            "default OPENAI_API_KEY).",
        ),
    ]
    return functools.reduce(lambda f, o: o(f), reversed(opts), fn)


def calibration_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--judge-calibration`` (``harness run``)."""
    return click.option(
        "--judge-calibration",
        is_flag=True,
        default=None,
        help="Also grade a few built-in known-good / known-bad answer pairs with the run's "
        "judge; their accuracy (good above bad) goes into run.json and the summary line.",
    )(fn)


def judge_config_from_options(kw: dict[str, Any]) -> Any:
    """The `JudgeConfig` the parsed options describe (environment values fill the gaps)."""
    from harness._settings import current_settings
    from judges.config import JudgeConfig

    mode = kw.get("judge_mode")
    if mode not in (None, "local"):
        raise HarnessError(
            f"--judge {mode!r}: the only value is 'local' (use --judge-model / "
            f"--judge-base-url for an endpoint)"
        )
    return JudgeConfig.from_vars(
        current_settings().judge_vars,
        response_format=kw.get("judge_format"),
        model=kw.get("judge_model"),
        base_url=kw.get("judge_base_url"),
        api_key_env=kw.get("judge_api_key_env"),
        local=True if mode == "local" else None,
        max_tokens=kw.get("judge_max_tokens"),
        max_failure_rate=kw.get("max_judge_failures"),
        calibrate=kw.get("judge_calibration") or None,
    )


def run_judge(kw: dict[str, Any], use_cache: bool = True) -> Any:
    """The run's default judge (`RunContext.judge`): the ``--judge*`` options over the
    ``HARNESS_JUDGE_*`` variables. Validated when an option was given (a contradictory choice
    fails at once); otherwise a judge scorer validates it when the task needs one.
    ``use_cache`` False (``--no-cache``): judge replies are neither read from nor written to
    the request cache either."""
    config = judge_config_from_options(kw)
    if not use_cache:
        config = config.with_overrides(cache=False)
    keys = ("judge_mode", "judge_model", "judge_base_url", "judge_api_key_env", "judge_format")
    return config if all(kw.get(k) is None for k in keys) else config.validate()
