"""Options and helpers shared by the commands that run models (run, parity, gate, train --eval)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness._errors import HarnessError

if TYPE_CHECKING:
    from harness._context import CodeExecution


def parse_task_params(pairs: tuple[str, ...], flag: str = "-T") -> dict[str, Any]:
    """``-T key=value`` pairs (or another ``flag``'s) into a dict; values parsed as YAML
    scalars (3, 0.5, true, [1,2])."""
    import yaml

    params: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise HarnessError(f"{flag} {pair!r}: expected key=value")
        params[key.strip()] = yaml.safe_load(value)
    return params


def model_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that pick and configure a backend and its model."""
    opts = [
        click.option(
            "--model",
            "-m",
            default=None,
            help="Bundled model name (default smollm2-135m), local folder or hub id.",
        ),
        click.option(
            "--backend",
            "-b",
            default="hf",
            show_default=True,
            help="Backend: hf, vllm, vllm-server, openai.",
        ),
        click.option(
            "--base-url",
            default=None,
            help="OpenAI-compatible server URL (openai / vllm-server backends).",
        ),
        click.option(
            "--api-key-env",
            default="OPENAI_API_KEY",
            show_default=True,
            help="Environment variable holding the API key (never recorded).",
        ),
        click.option(
            "--batch-size",
            type=int,
            default=None,
            help="Prompts per batch (default: 16 on CPU, 64 on GPU).",
        ),
        click.option(
            "--concurrency", type=int, default=None, help="Concurrent requests (server backends)."
        ),
        click.option(
            "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N."
        ),
        click.option(
            "--dtype",
            default="auto",
            show_default=True,
            help="auto (float32 on CPU, bf16 on GPU), float32, bfloat16, float16.",
        ),
        click.option(
            "--max-connection-failures",
            type=click.IntRange(min=1),
            default=None,
            help="Server backends: stop the run after this many requests in a row cannot "
            "connect (default 5).",
        ),
        click.option(
            "--chat-template/--no-chat-template",
            default=None,
            help="Apply the model's chat template (default: when it has one).",
        ),
    ]
    return functools.reduce(lambda f, o: o(f), reversed(opts), fn)


def backend_options(kw: dict[str, Any]) -> dict[str, Any]:
    """The `build_backend` keyword arguments the user set, from the parsed CLI options.

    Options left at their default are not passed, so every backend keeps its own defaults and
    an option the chosen backend does not take (``--base-url`` with ``--backend hf``) is an
    error instead of being ignored. Outside a click command, every option that is not None
    counts as set. ``$OPENAI_BASE_URL`` stands in for ``--base-url`` of ``--backend openai``.
    """
    from click.core import ParameterSource

    from harness._settings import current_settings

    keys = (
        "model",
        "base_url",
        "api_key_env",
        "batch_size",
        "concurrency",
        "device",
        "dtype",
        "max_connection_failures",
        "chat_template_kwargs",
    )
    ctx = click.get_current_context(silent=True)

    def given(key: str) -> bool:
        if ctx is None:
            return kw.get(key) is not None
        return ctx.get_parameter_source(key) not in (None, ParameterSource.DEFAULT)

    options = {k: kw[k] for k in (*keys, "chat_template") if k in kw and given(k)}
    default_url = current_settings().openai_base_url
    if kw.get("backend") == "openai" and "base_url" not in options and default_url:
        options["base_url"] = default_url
    return options


def code_execution(allow: bool, unsafe_no_sandbox: bool) -> CodeExecution:
    """The run context's code-execution policy from the two opt-in flags."""
    from harness._context import CodeExecution
    from harness._settings import current_settings

    return CodeExecution(
        allow=allow, sandbox=not unsafe_no_sandbox, python=current_settings().sandbox_python
    )


def offline_defaults() -> None:
    """Nothing phones home: ragas telemetry off; hub lookups off unless the user opted in."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def runs_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--output-dir",
        "-o",
        type=click.Path(path_type=Path),
        default=None,
        help="Where run folders go (default: $HARNESS_RUNS_DIR or ./runs).",
    )(fn)


def resolve_runs_dir(value: Path | None, write: bool = False) -> Path:
    """The runs folder (``--output-dir``, else $HARNESS_RUNS_DIR, else ./runs); with
    ``write``, checked (`check_output_dir`) before any model loads, so a bad one costs
    seconds, not a whole run's work."""
    folder = value or Path(os.environ.get("HARNESS_RUNS_DIR", "runs"))
    if write:
        check_output_dir(folder, "--output-dir" if value else "runs folder")
    return folder


def check_output_dir(folder: Path, flag: str) -> None:
    """Raises a one-line `HarnessError` unless ``folder`` is, or can become, a writable folder.

    Nothing is created: a missing folder is judged by its nearest existing parent, and writing
    is proved by a temporary probe file there (which also catches a read-only mount).
    """
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"{flag} {folder} is a file, not a folder; pass a folder for the runs")
    existing = next(p for p in [folder, *folder.absolute().parents] if p.exists())
    why = None
    if not existing.is_dir():
        why = f"{existing} is a file"
    else:
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as e:
            why = f"{existing} is not writable: {e.strerror or type(e).__name__}"
    if why:
        raise HarnessError(f"{flag} {folder} cannot hold runs ({why}); pass a writable folder")
