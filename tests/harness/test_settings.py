"""Settings at the edge: the environment is read by `settings_from_env` alone, which the
command line calls; library code sees only the installed settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import DataOptions, Settings, current_settings, settings_from_env, use_settings


def test_settings_from_a_mapping(tmp_path: Path) -> None:
    s = settings_from_env(
        {
            "HARNESS_HOME": str(tmp_path / "home"),
            "HARNESS_DATA_DIR": "data",
            "HARNESS_SANDBOX_PYTHON": "/usr/bin/python3.11",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "HARNESS_JUDGE_MODEL": "judge",
            "HARNESS_CACHE": "",  # empty counts as unset
        }
    )
    assert s.home == tmp_path / "home"
    assert s.cache == tmp_path / "home" / "requests.sqlite"
    assert s.data_dir == Path("data").absolute()
    assert s.sandbox_python == "/usr/bin/python3.11"
    assert s.openai_base_url == "http://127.0.0.1:9/v1"
    assert s.judge_vars == {"HARNESS_JUDGE_MODEL": "judge"}
    xdg = settings_from_env({"XDG_CACHE_HOME": str(tmp_path), "HARNESS_CACHE": "c.sqlite"})
    assert (xdg.home, xdg.cache) == (tmp_path / "harness", Path("c.sqlite"))
    assert settings_from_env({}) == Settings()


def test_library_code_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", "/somewhere")
    monkeypatch.setenv("HARNESS_HOME", "/elsewhere")
    use_settings(Settings())  # what a program importing harness sees: the defaults
    assert DataOptions().resolved_data_dir() is None
    assert current_settings().home == Path.home() / ".cache" / "harness"
    use_settings(settings_from_env())  # an edge that reads the environment
    assert DataOptions().resolved_data_dir() == Path("/somewhere")
    assert current_settings().home == Path("/elsewhere")


def test_the_command_line_installs_the_environment(tmp_path: Path) -> None:
    from harness.cli import cli

    use_settings(Settings())
    env = {"HARNESS_HOME": str(tmp_path / "h"), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    result = CliRunner().invoke(cli, ["adapters"], env=env)
    assert result.exit_code == 0, result.output
    assert current_settings().home == tmp_path / "h"


def test_openai_base_url_is_a_command_line_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.backends.openai import OPENAI_URL, OpenAIBackend
    from harness.cli._common import backend_options

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIBackend(model="m").base_url == OPENAI_URL  # the library ignores the variable
    kw = {"backend": "openai", "model": "m", "base_url": None}
    assert backend_options(kw)["base_url"] == "http://127.0.0.1:9/v1"
    assert "base_url" not in backend_options({**kw, "backend": "hf"})
    given = backend_options({**kw, "base_url": "http://127.0.0.1:8/v1"})
    assert given["base_url"] == "http://127.0.0.1:8/v1"


def test_sandbox_python_comes_through_the_run_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli._common import code_execution
    from harness.sandbox import default_python

    monkeypatch.setenv("HARNESS_SANDBOX_PYTHON", "/opt/py/bin/python3")
    assert default_python() != "/opt/py/bin/python3"
    assert code_execution(True, False).python == "/opt/py/bin/python3"
