"""Every scorer a task file may name is registered under that name (through the entry-point
tables of pyproject.toml), listed by ``harness scorers``, and an unknown one names the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner

import harness.metrics
import judges
import tasks
from harness import HarnessError, scorers
from harness.cli import cli

ROOT = Path(__file__).resolve().parents[2]
ISSUE_NAMES = {
    "judge",
    "judge_pairwise",
    "ragas_answer_correctness",
    "ragas_semantic_similarity",
    "ragas_faithfulness",
    "pass_at_k",
    "sql_exec",
    "mr_match",
}


def test_entry_point_tables_are_declared() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["harness.scorers"] == {
        "builtin": "harness.metrics:BUILTIN_SCORERS",
        "judges": "judges:SCORERS",
        "tasks": "tasks:SCORERS",
    }


def test_every_scorer_resolves_under_its_name() -> None:
    tables = {**harness.metrics.BUILTIN_SCORERS, **judges.SCORERS, **tasks.SCORERS}
    missing = ISSUE_NAMES - set(scorers.names())
    assert not missing, f"not registered: {missing} (reinstall: pip install -e . --no-deps)"
    for name in tables:
        assert scorers.get(name).registry_name == name


def test_scorers_command_lists_params_and_metrics() -> None:
    res = CliRunner().invoke(cli, ["scorers"])
    assert res.exit_code == 0
    assert "judge: Grades each answer 1-10 with an LLM judge" in res.output
    assert "    params:  baseline=required, template='pairwise'" in res.output
    assert "    metrics: acc, acc_norm" in res.output
    for name in ISSUE_NAMES:
        assert f"\n{name}: " in "\n" + res.output


def test_scorers_command_lists_every_placeholder_a_judge_fills() -> None:
    import json

    from judges.templates import PLACEHOLDERS

    res = CliRunner().invoke(cli, ["scorers", "--json"])
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert {n for n, r in rows.items() if "placeholders" in r} == set(PLACEHOLDERS)
    judge = rows["judge"]["placeholders"]
    assert {"question", "answer", "reference", "question_N", "answer_N", "ref_answer_N"} == set(
        judge
    )
    assert set(rows["judge_pairwise"]["placeholders"]) >= {"question", "answer_a", "answer_b"}
    text = CliRunner().invoke(cli, ["scorers"]).output
    block = text.split("\njudge: ")[1].split("\njudge_pairwise: ")[0]
    assert "    {ref_answer_N}: turn N's reference" in block
    assert "params:" in block and "multi_turn_template=None" in block and "samples=1" in block


def test_unknown_scorer_names_the_valid_ones(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "x"}\n')
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\ndataset: {path: d.jsonl}\nprompt: {template: '{q}'}\nmetrics: [jduge]\n"
    )
    from harness import get_task

    with pytest.raises(HarnessError) as info:
        get_task(str(path))
    msg = str(info.value)
    assert "unknown scorer 'jduge'. Did you mean 'judge' or 'rouge'?" in msg
    assert "Valid scorers: bertscore, bleu, choice_accuracy" in msg and "sql_exec." in msg
