"""The dependency direction of STYLE.md, checked by walking every import.

- The engine (``harness``, except the CLI on top) never imports ``tasks``, ``judges`` or
  ``adapters``: it finds them by registry name.
- ``tasks`` and ``judges`` use only harness's public modules (no ``harness._private``).
- The run record (``harness/record.py``) depends on nothing else of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "path",
    [p for p in _files("harness") if "cli" not in p.parts],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_engine_does_not_import_plugins(path: Path) -> None:
    bad = [m for m in _imports(path) if m.split(".")[0] in {"tasks", "judges", "adapters"}]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize(
    "path", _files("tasks") + _files("judges"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_plugins_use_public_api_only(path: Path) -> None:
    bad = [
        m
        for m in _imports(path)
        if m.startswith("harness") and any(part.startswith("_") for part in m.split(".")[1:])
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports private modules {bad}"


def test_record_depends_on_nothing_of_ours() -> None:
    mods = _imports(ROOT / "harness" / "record.py")
    assert not [m for m in mods if m.split(".")[0] in {"harness", "tasks", "judges", "adapters"}]
