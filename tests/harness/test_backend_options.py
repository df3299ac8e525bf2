"""Backend options: one a backend does not take is an error, and the CLI passes only those set."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness._errors import HarnessError
from harness.backends import BackendOptionError, backends, build_backend
from harness.cli import cli


class _Fake:
    def __init__(self, model: str | None = None, batch_size: int | None = None) -> None:
        self.model, self.batch_size = model, batch_size


def test_options_reach_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "get", lambda name: _Fake)
    built: Any = build_backend("fake", model="m", batch_size=4)
    assert (built.model, built.batch_size) == ("m", 4)


def test_an_option_the_backend_does_not_take_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backends, "get", lambda name: _Fake)
    with pytest.raises(BackendOptionError) as err:
        build_backend("fake", model="m", base_url="http://x", device="cpu")
    assert isinstance(err.value, HarnessError) and str(err.value) == (
        "backend 'fake' does not take base_url (--base-url), device (--device); drop it or "
        "pick a backend that does. fake takes: model, batch_size"
    )


def test_base_url_with_the_hf_backend_fails_before_loading_a_model() -> None:
    with pytest.raises(BackendOptionError, match=r"backend 'hf' does not take base_url"):
        build_backend("hf", base_url="http://127.0.0.1:1/v1")


class _Stop(HarnessError):
    pass


def _run_with(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, args: list[str]
) -> tuple[int, str, dict[str, Any]]:
    """``harness run`` up to the backend, returning what `build_backend` was given."""
    seen: dict[str, Any] = {}

    def fake_build(name: str, **options: Any) -> Any:
        seen.update(name=name, options=options)
        raise _Stop("stopped before the model")

    # The front door (`harness._eval`) is where `harness run` builds its backend.
    monkeypatch.setattr(importlib.import_module("harness._eval"), "build_backend", fake_build)
    base = ["run", "--task", "gsm8k", "--limit", "1", "--data-dir", str(data_dir), "--no-cache"]
    res = CliRunner().invoke(cli, base + args, catch_exceptions=False)
    return res.exit_code, res.stderr, seen


@pytest.mark.parametrize("backend", ["hf", "vllm", "vllm-server", "openai"])
def test_a_plain_run_passes_no_options_so_each_backend_keeps_its_defaults(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, backend: str
) -> None:
    code, err, seen = _run_with(monkeypatch, data_dir, ["--backend", backend])
    assert (code, err) == (2, "error: stopped before the model\n")
    assert seen == {"name": backend, "options": {}}


def test_the_run_passes_the_options_the_user_set(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    args = ["--backend", "vllm", "--batch-size", "4", "--dtype", "auto", "--no-chat-template"]
    _, _, seen = _run_with(monkeypatch, data_dir, args)
    assert seen["options"] == {"batch_size": 4, "dtype": "auto", "chat_template": False}


def test_base_url_with_the_hf_backend_is_a_one_line_usage_error(data_dir: Path) -> None:
    args = ["run", "--task", "gsm8k", "--data-dir", str(data_dir), "--base-url", "http://x/v1"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: backend 'hf' does not take base_url (--base-url); ")
    assert len(res.stderr.strip().splitlines()) == 1
