"""Every bench script runs: each Python one answers ``--help`` with its usage and exit code 0
(``bench/gpu_check.sh`` has its own tests in ``test_gpu_check.py``).

The benchmarks themselves take minutes to hours (and some need a GPU); this fast check keeps
their argument parsing and module-level imports working as the library they call changes.
Type errors are the job of ``mypy ... bench`` in ``.ci/run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def test_every_bench_script_is_checked() -> None:
    assert len(SCRIPTS) >= 10  # the folder moved or emptied: this test would check nothing


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_answers_help(script: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.lower().startswith("usage: "), res.stdout[:500]  # argparse or click
