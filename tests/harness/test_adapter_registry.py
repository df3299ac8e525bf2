"""The adapter registry: names survive, and a corrupt registry is an error, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness._errors import ModelError
from harness.lora import find_adapter, register_adapter


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no ./adapters/ folder
    return tmp_path / "home"


def _adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_registered_names_are_found_and_kept(home: Path, tmp_path: Path) -> None:
    a, b = _adapter(tmp_path / "a"), _adapter(tmp_path / "b")
    register_adapter("first", a)  # no registry file yet: created
    register_adapter("second", b)
    assert find_adapter("first") == a.resolve() and find_adapter("second") == b.resolve()
    assert set(json.loads((home / "adapters.json").read_text())) == {"first", "second"}


@pytest.mark.parametrize("content", ['{"first": "/x", ', '["not", "a", "mapping"]', '{"a": 1}'])
def test_a_corrupt_registry_is_an_error_and_is_not_overwritten(
    home: Path, tmp_path: Path, content: str
) -> None:
    registry = home / "adapters.json"
    home.mkdir()
    registry.write_text(content)
    with pytest.raises(ModelError) as err:
        register_adapter("new", _adapter(tmp_path / "new"))
    msg = str(err.value)
    assert msg.startswith(f"the adapter registry {registry} is corrupt") and "\n" not in msg
    assert "fix it or move it aside" in msg
    assert registry.read_text() == content
    with pytest.raises(ModelError, match="is corrupt"):
        find_adapter("first")
