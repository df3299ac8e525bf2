"""``harness train`` and ``harness adapters`` through the real entry point (no model runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bad_recipe_values_are_one_line_errors(home: Path) -> None:
    res = CliRunner().invoke(
        cli, ["train", "--task", "viggo", "--out", "adapters/x", "lora.r=0", "lr=abc", "nope=1"]
    )
    assert res.exit_code == 2
    assert res.output.count("\n") == 1
    assert res.output.startswith("error: ") and "3 error(s)" in res.output
    assert "lora.r:" in res.output and "lr:" in res.output and "nope: unknown key" in res.output


def test_eval_needs_a_task_and_data_needs_a_file(home: Path) -> None:
    res = CliRunner().invoke(cli, ["train", "--data", "d.jsonl", "--out", "a", "--eval"])
    assert (
        res.exit_code == 2
        and res.output == "error: --eval needs --task (the task whose test split is scored)\n"
    )
    res = CliRunner().invoke(cli, ["train", "--data", "missing.jsonl", "--out", "a"])
    assert res.exit_code == 2 and "missing.jsonl does not exist" in res.output


def test_adapters_lists_registered_and_local_folders(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["adapters"]).output.startswith("no adapters yet")
    folder = home / "adapters" / "viggo-a"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (folder / "adapter_manifest.json").write_text(
        json.dumps(
            {
                "base_model": {"id": "smollm2-135m"},
                "data": {"name": "viggo"},
                "steps": 40,
                "best_eval_loss": 0.25,
            }
        )
    )
    res = runner.invoke(cli, ["adapters"])
    assert res.exit_code == 0
    assert res.output == (
        f"viggo-a\tbase=smollm2-135m\tdata=viggo\tsteps=40\teval_loss=0.2500\t{folder.resolve()}\n"
    )
    rows = json.loads(runner.invoke(cli, ["adapters", "--json"]).output)
    assert [r["name"] for r in rows] == ["viggo-a"]
