"""The ``judge_pairwise`` scorer: a run record with win / tie / loss per item (both orders,
position consistency), whose ``win_rate`` the report shows and the gate checks like any metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.record import read_run, read_samples
from judges.pairwise_scorer import lc_win_rate
from tests.judges._stub_judge import stub_judge

QUESTIONS = [f"Question number {i}?" for i in range(6)]


def _write_data(tmp: Path) -> Path:
    data = tmp / "q.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"q{i}", "q": q}) + "\n" for i, q in enumerate(QUESTIONS))
    )
    return data


def _script(tmp: Path, name: str, answers: list[str]) -> Path:
    path = tmp / f"{name}.yaml"
    rules = [{"contains": q, "text": a} for q, a in zip(QUESTIONS, answers, strict=True)]
    path.write_text(json.dumps({"answers": rules}))
    return path


def _task(tmp: Path, name: str, metrics: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: pairs\ndataset: {{path: q.jsonl, id: id}}\nprompt: {{template: '{{q}}'}}\n"
        f"metrics: {metrics}\n"
    )
    return path


def _run(tmp: Path, task: Path, script: Path, out: str, *extra: str) -> Path:
    args = ["run", "--task", str(task), "--backend", "fake", "--model", str(script)]
    args += ["-o", str(tmp / out), "--no-cache", "--json", *extra]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return Path(json.loads(res.stdout)[0]["folder"])


def _prefers_good(messages: list[dict[str, str]]) -> str:
    """A judge preferring the answer marked GOOD; with two, it picks the first shown (bias)."""
    user = messages[-1]["content"]
    a, b = user.split("[Answer B]")
    if "GOOD" in a and "GOOD" in b:
        return '{"reason": "both fine", "winner": "A"}'
    if "GOOD" in a:
        return '{"reason": "A is better", "winner": "A"}'
    if "GOOD" in b:
        return '{"reason": "B is better", "winner": "B"}'
    return '{"reason": "same", "winner": "tie"}'


def test_pairwise_scorer_writes_a_record_report_and_gate_read(tmp_path: Path) -> None:
    _write_data(tmp_path)
    base_answers = ["GOOD base", "meh", "meh", "GOOD base", "meh", "meh"]
    cand_answers = ["meh", "GOOD cand", "GOOD cand", "GOOD cand", "GOOD cand", "meh"]
    # per item (candidate vs baseline): loss, win, win, both GOOD -> position bias -> tie,
    # win, tie  => win_rate (ties half) = (0 + 1 + 1 + .5 + 1 + .5) / 6 = 4 / 6
    baseline = _run(
        tmp_path,
        _task(tmp_path, "plain", "[exact_match]"),
        _script(tmp_path, "b", base_answers),
        "base",
    )
    metrics = f"[{{name: judge_pairwise, args: {{baseline: '{baseline}'}}}}]"
    task = _task(tmp_path, "pairwise", metrics)
    with stub_judge(_prefers_good) as (url, seen):
        folder = _run(
            tmp_path,
            task,
            _script(tmp_path, "c", cand_answers),
            "runs",
            "--judge-base-url",
            url,
            "--judge-model",
            "stub-judge",
        )
    assert len(seen) == 12  # both orders of six items
    record = read_run(folder)
    m = record.metrics
    assert m["win_rate"].value == pytest.approx(4 / 6) and m["win_rate"].n == 6
    assert m["tie_rate"].value == pytest.approx(2 / 6)
    assert m["loss_rate"].value == pytest.approx(1 / 6)
    assert m["position_consistency"].value == pytest.approx(5 / 6)  # item 4 flipped with order
    assert m["win_rate"].ci_low is not None and m["win_rate"].ci_low < 4 / 6 < m["win_rate"].ci_high
    assert m["answer_chars"].value == pytest.approx(sum(map(len, cand_answers)) / 6)
    assert 0 < m["lc_win_rate"].value < 1
    samples = {s.id: s.scores["pairwise"] for s in read_samples(folder)}
    assert samples["q3"].metadata == {"first": "a", "second": "b", "position": "first"}
    assert samples["q0"].answer == "b" and samples["q1"].answer == "a"

    res = CliRunner().invoke(cli, ["report", str(folder), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "win_rate" in (tmp_path / "rep" / "report.md").read_text()

    policy = tmp_path / "gate.yaml"
    policy.write_text("version: 1\nchecks:\n  - {task: pairs, metric: win_rate, min: 0.9}\n")
    res = CliRunner().invoke(cli, ["gate", "--policy", str(policy), "--candidate", str(folder)])
    assert res.exit_code == 1, res.output  # 4/6 is not shown to be >= 0.9
    assert "win_rate" in res.output


def test_length_controlled_win_rate_discounts_winning_by_length() -> None:
    # Wins come exactly with longer answers: at equal length the model is about even.
    wins = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    longer = [250, 260, 240, 50, 40, 60]
    assert lc_win_rate(wins, longer, [150] * 6) == pytest.approx(0.5, abs=0.01)
    # Half the wins come with longer answers, half with shorter ones: the length explains nothing.
    assert lc_win_rate([1.0, 1.0, 0.0, 0.0], [200, 100, 200, 100], [150] * 4) == pytest.approx(0.5)
    assert lc_win_rate(wins, [100] * 6, [100] * 6) == pytest.approx(0.5, abs=0.01)
    assert lc_win_rate([1.0] * 4, [100] * 4, [100] * 4) > 0.9


def test_judge_pairwise_command_writes_a_run_record(tmp_path: Path) -> None:
    _write_data(tmp_path)
    task = _task(tmp_path, "plain", "[exact_match]")
    a = _run(tmp_path, task, _script(tmp_path, "a", ["GOOD"] * 4 + ["meh"] * 2), "a")
    b = _run(tmp_path, task, _script(tmp_path, "b", ["meh"] * 5 + ["GOOD"]), "b")
    with stub_judge(_prefers_good) as (url, seen):
        args = ["judge-pairwise", str(a), str(b), "--record", "--runs-dir", str(tmp_path / "pw")]
        args += ["--judge-base-url", url, "--judge-model", "stub-judge"]
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert len(seen) == 12
    (folder,) = (tmp_path / "pw").iterdir()
    assert str(folder) in res.output and res.output.startswith("win_rate 0.750 [")
    record = read_run(folder)
    assert record.model.id == read_run(a).model.id and record.task.name == "pairs"
    assert record.metrics["win_rate"].value == pytest.approx(4.5 / 6)  # 4 wins, 1 tie, 1 loss
    assert record.scorers[0]["name"] == "judge_pairwise"
    assert {s.id for s in read_samples(folder)} == {f"q{i}" for i in range(6)}
    res = CliRunner().invoke(cli, ["report", str(folder), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0 and "win_rate" in (tmp_path / "rep" / "report.md").read_text()
