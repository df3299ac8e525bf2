"""``--judge-calibration``: the built-in known-good / known-bad pairs go through the run's judge
(a stub server here) with the judged run; the accuracy lands in run.json and the summary line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.record import read_run
from judges.calibration import PAIRS
from tests.judges._stub_judge import run_mtbench, stub_judge

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("judge_home")


def _verdict(messages: list[dict[str, str]]) -> str:
    """Good answers 8, bad ones 2, except the capital pair, tied at 5; the run's answers 6."""
    user = messages[-1]["content"]
    if "Tokyo" in user or "Beijing" in user:
        return "Rating: [[5]]"
    if any(p.good in user for p in PAIRS):
        return "Rating: [[8]]"
    if any(p.bad in user for p in PAIRS):
        return "Rating: [[2]]"
    return "Rating: [[6]]"


def _run(tmp: Path, url: str, *extra: str) -> tuple[int, str, str]:
    return run_mtbench(tmp, url, 'default: "I am not sure."\n', *extra)


def _latest(tmp: Path) -> Path:
    return max((tmp / "runs").iterdir(), key=lambda p: p.stat().st_mtime)


def test_calibration_accuracy_in_record_and_summary(tmp_path: Path, no_network: list) -> None:
    with stub_judge(_verdict) as (url, seen):
        code, out, err = _run(tmp_path, url, "--judge-calibration")
    assert code == 0, err
    assert len(seen) == 6 + 2 * len(PAIRS) == 18  # the run's six items and the pairs' answers
    cal = read_run(_latest(tmp_path)).extra["judge_calibration"]
    assert (cal["correct"], cal["n"], cal["ties"], cal["unreadable"]) == (5, 6, 1, 0)
    assert cal["accuracy"] == pytest.approx(5 / 6)
    assert cal["template"]["name"] == "rated"  # the run's default template, [[rating]] verdicts
    assert cal["judge"] == "stub-judge" and cal["calls"] == 12
    by_id = {p["id"]: p for p in cal["pairs"]}
    assert by_id["capital"] == {"id": "capital", "good": 5.0, "bad": 5.0, "correct": False}
    assert by_id["code"] == {"id": "code", "good": 8.0, "bad": 2.0, "correct": True}
    line = (
        "judge calibration: 5 of 6 known-good answers graded above their known-bad twins "
        "(83%; 1 tied, 0 unreadable) · judge stub-judge"
    )
    assert line in out
    sent = [b["messages"][-1]["content"] for b in seen]
    assert sum(PAIRS[0].good in m for m in sent) == 1 and sum(PAIRS[0].bad in m for m in sent) == 1

    with stub_judge(_verdict) as (_, seen2):  # the same judge again: answered from the cache
        code, out, _ = _run(tmp_path, url, "--judge-calibration", "--json")
    assert code == 0 and not seen2
    cal2 = json.loads(out)[0]["judge"]["judge_calibration"]
    assert (cal2["correct"], cal2["cache_hits"], cal2["calls"]) == (5, 12, 0)


def test_no_calibration_without_the_flag(tmp_path: Path) -> None:
    with stub_judge(_verdict) as (url, seen):
        code, out, _ = _run(tmp_path, url)
    assert code == 0 and len(seen) == 6
    assert "judge_calibration" not in read_run(_latest(tmp_path)).extra
    assert "judge calibration" not in out


def test_calibration_without_a_judge_scorer_says_so(tmp_path: Path) -> None:
    script = tmp_path / "answers.yaml"
    script.write_text('default: "4"\n')
    args = ["run", "--task", str(ROOT / "examples" / "tasks" / "multiple_choice.yaml")]
    args += ["--backend", "fake", "--model", str(script)]
    args += ["-n", "2", "-o", str(tmp_path / "runs"), "--judge-calibration"]
    res = CliRunner().invoke(cli, args)
    assert "note: --judge-calibration: no judge scorer ran, nothing calibrated" in res.stderr


def test_judge_cache_entries_name_backend_and_model(tmp_path: Path) -> None:
    from harness import RequestCache, default_cache_path

    with stub_judge(_verdict) as (url, _):
        code, _, err = _run(tmp_path, url)
    assert code == 0, err
    path = default_cache_path()  # judge replies: the harness cache under $HARNESS_HOME
    assert path.is_relative_to(tmp_path)
    cache = RequestCache(path)
    groups = {(g.backend, g.model): g.entries for g in cache.groups()}
    cache.close()
    assert groups == {("judge", "stub-judge"): 6}  # one per judged item
    res = CliRunner().invoke(cli, ["cache", "--cache", str(path)])
    assert any(line.split()[-2:] == ["judge", "stub-judge"] for line in res.output.splitlines())
