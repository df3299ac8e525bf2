"""Every command an error message or help text names exists.

Greps the string literals of harness/, tasks/, judges/ and adapters/ for ```harness <cmd>```
(and ``harness <cmd>`` after "run", "see", "use" ...) and checks each ``<cmd>`` is a
registered subcommand; registries that point users at a listing command must name one too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from harness._registry import Registry
from harness.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "tasks", "judges", "adapters")
# `harness run`, "run harness gate", "see harness tasks": a command is the word after harness.
MENTION = re.compile(
    r"`harness ([a-z][a-z0-9-]*)|(?:[Rr]un|[Ss]ee|[Uu]se|[Tt]ry) harness ([a-z][a-z0-9-]*)"
)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _mentions() -> list[tuple[str, str]]:
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found += [
                (f"{path.relative_to(ROOT)}:{line}", m.group(1) or m.group(2))
                for line, text in _strings(path)
                for m in MENTION.finditer(text)
            ]
    return found


def test_the_grep_finds_the_hints() -> None:
    names = {cmd for _, cmd in _mentions()}
    assert {"tasks", "run", "train"} <= names  # the test would notice a hint


def test_every_command_named_in_a_message_exists() -> None:
    missing = [f"{where}: harness {cmd}" for where, cmd in _mentions() if cmd not in COMMANDS]
    assert missing == []


def test_registry_hints_name_registered_commands() -> None:
    from harness._scorer import scorers
    from harness._task import tasks
    from harness.backends import backends

    for reg in (tasks, scorers, backends):
        assert isinstance(reg, Registry)
        if reg.list_command is not None:
            assert reg.list_command.split()[1] in COMMANDS, reg.list_command


@pytest.mark.parametrize(
    ("registry", "name", "tail"),
    [
        ("tasks", "gsm8kk", "Run `harness tasks` to list them."),
        ("backends", "vlm", "Known backends: fake, hf, openai, vllm, vllm-server."),
    ],
)
def test_unknown_name_errors_point_somewhere_real(registry: str, name: str, tail: str) -> None:
    from harness._errors import HarnessError
    from harness._task import tasks
    from harness.backends import backends

    reg = {"tasks": tasks, "backends": backends}[registry]
    with pytest.raises(HarnessError) as e:
        reg.get(name)
    assert str(e.value).endswith(tail)
