"""No silent prompt truncation: too long is an error (exit 3) unless --truncate-prompt left.

The fake backend's script gives a context window in whitespace tokens; with
``--max-new-tokens`` the window left for the prompt is smaller than GSM8K's longest item
among the three, so that item is never sent, and with ``--truncate-prompt left`` it is cut
from the left, sent, scored and recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli
from harness.record import read_run, read_samples

SCRIPT = {"default": "#### 3", "max_model_len": 70}


def _run(tmp_path: Path, *flags: str) -> tuple[int, str, Path]:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(SCRIPT))
    args = ["run", "--task", "gsm8k", "--num-fewshot", "0", "--limit", "3", "--backend", "fake"]
    args += ["--model", str(script), "--max-new-tokens", "20", "-o", str(tmp_path / "runs")]
    args += ["--no-cache", *flags]
    res = CliRunner(env={"COLUMNS": "200"}).invoke(cli, args, catch_exceptions=False)
    [folder] = list((tmp_path / "runs").iterdir())
    return res.exit_code, res.stderr, folder


def test_too_long_prompt_is_a_counted_error(tmp_path: Path) -> None:
    code, err, folder = _run(tmp_path)
    assert code == 3
    assert "prompt too long" in err and "--truncate-prompt left" in err
    record, samples = read_run(folder), read_samples(folder)
    assert record.status == "incomplete" and record.counts.errors == 1
    assert record.prompting is not None and record.prompting.too_long_ids == ["test-0"]
    [long] = [s for s in samples if s.id == "test-0"]
    assert long.scores == {} and long.errors[0].startswith("prompt too long: 54 tokens")
    assert record.metrics["strict_match"].n == 2  # the two that fit are scored


def test_truncate_left_is_explicit_and_recorded(tmp_path: Path) -> None:
    code, _, folder = _run(tmp_path, "--truncate-prompt", "left")
    assert code == 0
    record, samples = read_run(folder), read_samples(folder)
    assert record.prompting is not None
    assert record.prompting.truncate_prompt == "left"
    assert record.prompting.truncated_ids == ["test-0"]
    [cut] = [s for s in samples if s.id == "test-0"]
    assert len(str(cut.prompt).split()) == 50 and str(cut.prompt).endswith("Answer:")
    assert record.metrics["strict_match"].n == 3
