"""``harness runs`` on real runs written by ``harness run`` (fake backend): list and filter,
show, paired diff, rm with confirmation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli_helpers import invoke, normalise
from click.testing import CliRunner

from harness.cli import cli


@pytest.fixture
def runs(tmp_path: Path, run_args: list[str], adapter: Path) -> Path:
    """A base and a ``tuned`` run of gsm8k on the same 3 items, in tmp_path/runs."""
    assert invoke([*run_args, "--adapter", str(adapter), "--base"]).exit_code == 0
    return tmp_path / "runs"


def _ids(root: Path) -> dict[str, str]:
    return {("tuned" if "-tuned-" in p.name else "base"): p.name for p in root.iterdir()}


def test_list_shows_every_run_and_filters(runs: Path, tmp_path: Path) -> None:
    out = invoke(["runs", "-o", str(runs)])
    assert out.exit_code == 0, out.output
    text = normalise(out.stdout, tmp_path)
    assert "2 of 2 runs in <tmp>/runs" in text
    assert "flexible_match" not in text  # only the first two key metrics
    assert "strict_match=0.667" in text and "strict_match=0.333" in text
    assert text.count("fake:answers") == 2 and "complete" in text
    tuned = invoke(["runs", "-o", str(runs), "--adapter", "tuned"]).stdout
    assert "1 of 2 runs" in tuned and "strict_match=0.667" in tuned
    base = invoke(["runs", "-o", str(runs), "--adapter", "base"]).stdout
    assert "1 of 2 runs" in base and "strict_match=0.333" in base
    assert "0 of 2 runs" in invoke(["runs", "-o", str(runs), "--task", "viggo"]).stdout
    assert "0 of 2 runs" in invoke(["runs", "-o", str(runs), "--status", "incomplete"]).stdout
    assert "2 of 2 runs" in invoke(["runs", "-o", str(runs), "--since", "1h"]).stdout
    assert "0 of 2 runs" in invoke(["runs", "-o", str(runs), "--since", "2999-01-01"]).stdout
    bad = invoke(["runs", "-o", str(runs), "--since", "yesterday"])
    assert bad.exit_code == 2
    assert bad.stderr == (
        "error: --since 'yesterday': pass an age (30m, 12h, 7d, 2w) or a date (2026-12-01)\n"
    )


def test_show_prints_the_record_and_first_samples(runs: Path) -> None:
    run_id = _ids(runs)["tuned"]
    out = invoke(["runs", "-o", str(runs), "show", run_id[:-2], "--samples", "2"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[1] == "task     gsm8k {'num_fewshot': 5}"
    assert lines[2] == "model    fake:answers + tuned"
    assert lines[3] == "status   complete · n=3 of 1319"
    assert "  strict_match                 0.6667 [0.208, 0.939]" in lines
    assert out.stdout.count("--- ") == 2
    assert "output:  #### 18" in lines


def test_diff_pairs_items_and_lists_the_changed_ones(runs: Path) -> None:
    ids = _ids(runs)
    out = invoke(["runs", "-o", str(runs), "diff", ids["base"], ids["tuned"]])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "strict_match: A 0.3333 · B 0.6667 · 3 paired items, 2 equal, 1 better in B, 0 better in A"
    )
    assert lines[1].endswith("A=0.0000 B=1.0000  (B better)")
    assert lines[2] == "    A: It takes 2 bolts. #### 2"
    assert lines[3] == "    B: 2 + 1 = 3 bolts. #### 3"
    missing = invoke(["runs", "-o", str(runs), "diff", ids["base"], "nope"])
    assert missing.exit_code == 2
    assert "no run 'nope'" in missing.stderr


def test_rm_asks_first(runs: Path) -> None:
    run_id = _ids(runs)["base"]
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    no = runner.invoke(cli, ["runs", "-o", str(runs), "rm", run_id], input="n\n")
    assert no.exit_code == 0 and "nothing deleted" in no.output
    assert (runs / run_id).is_dir()
    yes = invoke(["runs", "-o", str(runs), "rm", run_id, "--yes"])
    assert yes.exit_code == 0 and "deleted 1 run folder(s)" in yes.stdout
    assert not (runs / run_id).exists() and len(list(runs.iterdir())) == 1


def test_piped_runs_keep_every_value_and_tell_system_prompts_apart(
    tmp_path: Path, run_args: list[str]
) -> None:
    """Two runs that differ only by --system-prompt: `runs`, `--format tsv`, `--json` and
    `runs show` all show which is which; piped output is never cut with an ellipsis."""
    prompt = "You are a meticulous grade-school maths tutor who always shows the working."
    assert invoke(run_args).exit_code == 0
    assert invoke([*run_args, "--system-prompt", prompt]).exit_code == 0
    root = tmp_path / "runs"
    narrow = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    listed = narrow.invoke(cli, ["runs", "-o", str(root)], catch_exceptions=False).stdout
    assert "…" not in listed
    assert "sys=sha256:" in listed and "sys=- " in listed
    assert all(p.name in listed for p in root.iterdir())  # whole run ids, even at 80 columns
    tsv = invoke(["runs", "-o", str(root), "--format", "tsv"]).stdout.splitlines()
    assert tsv[0].split("\t") == [
        "run", "task", "model", "adapter", "n", "status", "settings", "metrics", "age"
    ]  # fmt: skip
    rows = [line.split("\t") for line in tsv[1:]]
    assert len(rows) == 2 and all(len(r) == 9 for r in rows)
    assert len({r[6] for r in rows}) == 2  # the settings column differs
    shown = json.loads(invoke(["runs", "-o", str(root), "--json"]).stdout)
    assert sorted(str(r["system_prompt"]) for r in shown) == sorted([prompt, "None"])
    with_prompt = next(r["run"] for r in shown if r["system_prompt"])
    show = invoke(["runs", "-o", str(root), "show", with_prompt, "--samples", "0"]).stdout
    assert (
        "system   sha256:" in show and '"You are a meticulous grade-school maths tutor who' in show
    )
    assert "fingerprint.digest" in show and "chat     template off" in show
