"""bench/gpu_check.sh: valid bash, its usage, and one clear line for a bad argument."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.sh"


def test_script_parses_and_documents_dry_run() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    out = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert "--dry-run" in out.stdout and "--model" in out.stdout


def test_unknown_argument_is_one_line_and_exit_2() -> None:
    res = subprocess.run([str(SCRIPT), "--bogus"], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["gpu_check: unknown argument --bogus (see --help)"]
