"""The MT-bench example graded as FastChat grades it, end to end on the fake backend and a
stub judge: both turns from one task file (``judge_score_turn1``, ``judge_score_turn2``, the
mean), the table's per-metric n, a first turn served by the cache counted as cached, and
``judge-pairwise`` with FastChat's pair-v2: the judge sees each turn's question, never the
rendered prompt, in free text (no JSON mode)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.record import read_run, read_samples
from tests.judges._stub_judge import run_mtbench, stub_judge

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tasks" / "mtbench_fastchat.yaml"
JUDGE = ROOT / "examples" / "tasks" / "judge"
QUESTIONS = {
    json.loads(line)["question_id"]: json.loads(line)["turns"]
    for line in (ROOT / "examples" / "data" / "mtbench_style.jsonl").open()
}
pytestmark = pytest.mark.usefixtures("judge_home")


def _grade(messages: list[dict[str, str]]) -> str:
    user = messages[-1]["content"]
    if "### User:" in user:  # the multi-turn templates
        return "Turn two. Rating: [[4]]"
    return "Turn one. Rating: [[8]]" if "Reference" in user else "Turn one. Rating: [[6]]"


def _latest(runs: Path) -> Path:
    return max(runs.iterdir(), key=lambda p: p.stat().st_mtime)


def test_both_turns_from_one_task_file(tmp_path: Path, no_network: list) -> None:
    with stub_judge(_grade) as (url, seen):
        code, out, err = run_mtbench(tmp_path, url, 'default: "Sure."\n', task=EXAMPLE)
    assert code == 0, err
    assert len(seen) == 12 and not no_network  # 6 items x 2 turns
    record = read_run(_latest(tmp_path / "runs"))
    m = record.metrics
    # references (math m1, m2, coding c1) grade 8 on turn 1; the rest 6
    assert m["judge_score_turn1"].value == pytest.approx((8 * 3 + 6 * 3) / 6)
    assert m["judge_score_turn2"].value == pytest.approx(4.0)
    assert m["judge_score"].value == pytest.approx((7 + 4) / 2)
    assert m["judge_score_turn2"].n == 6
    by_id = {s.id: s for s in read_samples(_latest(tmp_path / "runs"))}
    units = by_id["m1"].scores["judge"].metadata["units"]
    assert units == [
        {"template": "file:single-math-v1.yaml", "turn": 1},
        {"template": "file:single-math-v1-multi-turn.yaml", "turn": 2},
    ]
    assert by_id["m1"].user_turns == QUESTIONS["m1"]
    row = next(line for line in out.splitlines() if "judge_score_turn2" in line)
    assert row.split("│")[-2].strip() == "6"  # the scored n


def test_a_first_turn_from_the_cache_is_counted(tmp_path: Path) -> None:
    with stub_judge(_grade) as (url, _):
        code, _, _ = run_mtbench(tmp_path, url, 'default: "Sure."\n')  # turn 1 only
        assert code == 0
        code, out, _ = run_mtbench(tmp_path, url, 'default: "Sure."\n', task=EXAMPLE)
    assert code == 0
    assert "6 model calls, 6 cached, 0 failed" in out  # turn 1 cached, turn 2 asked


def test_judge_pairwise_shows_the_question_in_free_text(tmp_path: Path) -> None:
    with stub_judge(_grade) as (url, _):
        for side, answer in (("a", "Answer A."), ("b", "Answer B.")):
            (tmp_path / side).mkdir()
            code, _, _ = run_mtbench(tmp_path / side, url, f'default: "{answer}"\n', task=EXAMPLE)
            assert code == 0
    run_a, run_b = _latest(tmp_path / "a" / "runs"), _latest(tmp_path / "b" / "runs")
    base = ["judge-pairwise", str(run_a), str(run_b), "--judge-model", "stub-judge", "--json"]
    base += ["--template", str(JUDGE / "pair-v2.yaml")]
    with stub_judge(lambda m: "A is better. [[A]]") as (url, seen):
        res = CliRunner().invoke(cli, [*base, "--judge-base-url", url])
        assert res.exit_code == 0, res.output
        assert len(seen) == 12  # the last turn of 6 items, in both orders
        for body in seen:
            user = body["messages"][-1]["content"]
            assert "response_format" not in body and body["max_tokens"] == 1024
            assert "<|im_start|>" not in user and user.startswith("[User Question]\n")
        asked = {b["messages"][-1]["content"].split("\n")[1] for b in seen}
        assert asked == {turns[1] for turns in QUESTIONS.values()}  # the second question
        assert json.loads(res.output)["first_position_bias"] == 6  # "[[A]]" both times

        seen.clear()
        more = ["--multi-turn-template", str(JUDGE / "pair-v2-multi-turn.yaml")]
        res = CliRunner().invoke(cli, [*base, "--judge-base-url", url, *more])
        assert res.exit_code == 0, res.output
        assert len(seen) == 24 and json.loads(res.output)["n"] == 12  # each turn judged
        later = [
            b["messages"][-1]["content"]
            for b in seen
            if "### User:" in b["messages"][-1]["content"]
        ]
        assert len(later) == 12 and all("Answer A." in u and "Answer B." in u for u in later)
