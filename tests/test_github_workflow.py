"""``examples/ci/github-actions.yml``: its structure, and every harness command it runs exists
with every flag it passes (checked against the command's own ``--help``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from click.testing import CliRunner

from harness.cli import cli

WORKFLOW = Path(__file__).parents[1] / "examples" / "ci" / "github-actions.yml"


def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _harness_commands(steps: list[dict]) -> list[list[str]]:
    commands = []
    for step in steps:
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines() if "\n" in script.strip() else [script]:
            if ".venv/bin/harness " in line:
                argv = shlex.split(line.split(".venv/bin/harness ", 1)[1])
                commands.append(argv)
    return commands


def test_the_workflow_trains_evaluates_gates_and_posts_on_a_pull_request() -> None:
    wf = _workflow()
    assert "pull_request" in wf["on"]
    assert wf["permissions"]["pull-requests"] == "write"
    steps = wf["jobs"]["gate"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert ".cache/harness" in cache["with"]["path"]
    assert "restore-keys" in cache["with"]
    order = [argv[0] for argv in _harness_commands(steps)]
    assert order == ["train", "run", "gate"]
    gate = _harness_commands(steps)[2]
    assert gate[gate.index("--summary-format") + 1] == "github"
    post = next(s for s in steps if "gh pr comment" in s.get("run", ""))
    assert "gate/summary.md" in post["run"] and post["if"].startswith("${{ always()")
    assert steps[-1]["run"].startswith("exit ") and "steps.gate.outputs.code" in steps[-1]["run"]


def test_every_harness_command_in_the_workflow_takes_its_flags() -> None:
    runner = CliRunner()
    for argv in _harness_commands(_workflow()["jobs"]["gate"]["steps"]):
        shown = runner.invoke(cli, [argv[0], "--help"], terminal_width=200)
        assert shown.exit_code == 0, shown.output
        for flag in (a for a in argv if a.startswith("--")):
            assert re.search(rf"(^|[\s,/]){re.escape(flag)}\b", shown.output), (argv[0], flag)
