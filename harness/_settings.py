"""Harness settings from the environment, read in one place: `settings_from_env`.

The environment variables harness honours (``HARNESS_HOME``, ``HARNESS_CACHE``,
``HARNESS_DATA_DIR``, ``HARNESS_SANDBOX_PYTHON``, ``HARNESS_JUDGE_*``, ``OPENAI_BASE_URL``,
``XDG_CACHE_HOME``) are
defaults for the command line, never read by library code. The command line calls
`settings_from_env` once, at its edge, and installs the result with `use_settings`; library
code asks `current_settings` (or takes the value as an argument, or from the `RunContext`),
so a program that imports harness gets the documented defaults until it installs settings of
its own. ``tests/test_layering.py`` fails on any other read of these variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ENV = "HARNESS_CACHE"
HOME_ENV = "HARNESS_HOME"
DATA_DIR_ENV = "HARNESS_DATA_DIR"
SANDBOX_PYTHON_ENV = "HARNESS_SANDBOX_PYTHON"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"
JUDGE_ENV_PREFIX = "HARNESS_JUDGE_"


def _default_home() -> Path:
    return Path.home() / ".cache" / "harness"


@dataclass(frozen=True)
class Settings:
    """Where harness keeps its state and finds its inputs, when no flag says otherwise.

    Attributes:
        home: Converted models, weight-hash memos, the adapter registry, server records and
            logs (``$HARNESS_HOME``, else ``$XDG_CACHE_HOME/harness``, else
            ``~/.cache/harness``).
        cache_path: The request cache file (``$HARNESS_CACHE``, else
            ``home/requests.sqlite``; None: that default).
        data_dir: Folder with one sub-folder per dataset (``$HARNESS_DATA_DIR``; None: the
            task's hub dataset).
        sandbox_python: Interpreter for model-written programs (``$HARNESS_SANDBOX_PYTHON``;
            None: the system python3).
        openai_base_url: Endpoint of the ``openai`` backend (``$OPENAI_BASE_URL``; None:
            OpenAI's API).
        judge_vars: The ``HARNESS_JUDGE_*`` variables, for ``judges.JudgeConfig.from_vars``
            (harness itself never imports ``judges``).
    """

    home: Path = field(default_factory=_default_home)
    cache_path: Path | None = None
    data_dir: Path | None = None
    sandbox_python: str | None = None
    openai_base_url: str | None = None
    judge_vars: Mapping[str, str] = field(default_factory=dict)

    @property
    def cache(self) -> Path:
        """The request cache file."""
        return self.cache_path or self.home / "requests.sqlite"


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment gives (``os.environ`` when ``environ`` is None).

    The only reader of harness's environment variables; empty values count as unset. A
    relative ``HARNESS_DATA_DIR`` is made absolute against the working directory now, so it
    means the same folder wherever it is joined later (inside a YAML task's folder, say).
    """
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    xdg = env.get("XDG_CACHE_HOME")
    cache = env.get(CACHE_ENV)
    data = env.get(DATA_DIR_ENV)
    return Settings(
        home=Path(home) if home else (Path(xdg) / "harness" if xdg else _default_home()),
        cache_path=Path(cache) if cache else None,
        data_dir=Path(data).expanduser().absolute() if data else None,
        sandbox_python=env.get(SANDBOX_PYTHON_ENV) or None,
        openai_base_url=env.get(OPENAI_BASE_URL_ENV) or None,
        judge_vars={k: v for k, v in env.items() if k.startswith(JUDGE_ENV_PREFIX)},
    )


_provider: Callable[[], Settings] = Settings


def use_settings(settings: Settings | Callable[[], Settings]) -> None:
    """Installs the settings library code sees from now on.

    Args:
        settings: A value (the command line passes ``settings_from_env()``, read once), or a
            function called at each look-up (a test suite passes `settings_from_env` itself,
            so variables a test sets take effect).
    """
    global _provider
    _provider = settings if callable(settings) else (lambda: settings)


def current_settings() -> Settings:
    """The installed settings (the defaults, environment unread, until `use_settings`)."""
    return _provider()
