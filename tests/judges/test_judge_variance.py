"""Judge variance end to end: ``samples: 3`` draws three verdicts per item at the template's
temperature (seeds 0-2) and takes their median, with the per-item spread recorded; ``score:
expected`` reads Σ p(grade) × grade from the top log-probabilities the scripted judge returns,
and falls back to the verdict, counting why, where it returns none. Also the expected-grade
arithmetic on its own."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from pathlib import Path

import pytest

from harness.record import read_run, read_samples
from judges.draws import combine, expected_grade
from tests.judges._stub_judge import run_mtbench, stub_judge

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = """\
system: You grade answers.
user: "Question: {question}\\nAnswer: {answer}\\nEnd with Rating: [[N]]."
format: regex
temperature: 0.7
max_tokens: 64
"""
TASK = f"""\
name: variance
dataset:
  path: {ROOT / "examples" / "data" / "mtbench_style.jsonl"}
  id: question_id
prompt:
  template: "{{turns[0]}}"
metrics:
  - name: judge
    args: {{template: judge/grade.yaml, samples: 3, score: expected}}
"""
ANSWERS = 'default: "An answer."\n'


class Draws:
    """Grades 6, 7, 8 in turn for each question; log-probabilities except for the poem."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, str]]) -> object:
        user = messages[-1]["content"]
        with self.lock:
            grade = 6 + self.seen[user] % 3
            self.seen[user] += 1
        text = f"Fine. Rating: [[{grade}]]"
        if "lighthouse" in user:
            return text  # an endpoint that sends no logprobs
        top = {str(grade): math.log(0.5), str(grade + 1): math.log(0.3)}
        top |= {str(grade - 1): math.log(0.2), "x": math.log(0.01)}
        head, tail = ("Fine. Rating: [[", {"Fine. Rating: [[": 0.0}), ("]]", {"]]": 0.0})
        return text, [head, (str(grade), top), tail]


def _task(tmp: Path) -> Path:
    (tmp / "judge").mkdir()
    (tmp / "judge" / "grade.yaml").write_text(TEMPLATE)
    (tmp / "variance.yaml").write_text(TASK)
    return tmp / "variance.yaml"


@pytest.mark.usefixtures("judge_home")
def test_three_draws_median_and_expected_grade(tmp_path: Path, no_network: list) -> None:
    task = _task(tmp_path)
    with stub_judge(Draws()) as (url, seen):
        code, out, err = run_mtbench(tmp_path, url, ANSWERS, task=task)
    assert code == 0, err
    assert len(seen) == 18 and not no_network
    assert all(b["temperature"] == 0.7 and b["logprobs"] and b["top_logprobs"] == 20 for b in seen)
    assert all(b["max_tokens"] == 64 and "response_format" not in b for b in seen)
    seeds = Counter(b["messages"][-1]["content"] for b in seen if "seed" in b)
    assert sorted({b.get("seed") for b in seen}) == [0, 1, 2] and len(seeds) == 6
    folder = next((tmp_path / "runs").iterdir())
    scores = {s.id: s.scores["judge"] for s in read_samples(folder)}
    assert scores["m1"].values["judge_score"] == pytest.approx(7.1)  # median of 6.1, 7.1, 8.1
    assert sorted(scores["m1"].metadata["draws"][0]) == pytest.approx([6.1, 7.1, 8.1])
    assert scores["m1"].metadata["spread"] == pytest.approx([2.0])
    assert scores["w1"].values["judge_score"] == 7.0  # no logprobs: the verdicts' median
    assert scores["w1"].metadata["expected_fallbacks"] == ["no logprobs returned"] * 3
    record = read_run(folder)
    counts = record.extra["judge:judge"]
    assert counts["expected"] == {"computed": 15, "fell_back": {"no logprobs returned": 3}}
    assert counts["temperatures"] == {"file:grade.yaml": 0.7}
    assert "temperature" not in counts["judge"]  # not the greedy default it would say
    assert record.metrics["judge_score"].value == pytest.approx((7.1 * 5 + 7.0) / 6)
    assert record.metrics["judge_spread"].value == pytest.approx(2.0)
    assert record.scorers[0]["args"]["samples"] == 3
    assert "judge:judge: 18 judge calls, 0 cached" in out

    with stub_judge(Draws()) as (_, seen2):  # the same URL is gone: the cache must answer
        code, out, _ = run_mtbench(tmp_path, url, ANSWERS, task=task)
    assert code == 0 and not seen2 and "0 judge calls, 18 cached" in out
    again = max((tmp_path / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    assert read_run(again).metrics["judge_score"].value == record.metrics["judge_score"].value


def test_expected_grade_and_its_fallback_reasons() -> None:
    rating = re.compile(r"\[\[(\d+\.?\d*)\]\]")
    tokens = [("Rating: [[", {}), ("8", {"8": math.log(0.75), "9": math.log(0.25)}), ("]]", {})]
    assert expected_grade("Rating: [[8]]", tokens, rating) == (pytest.approx(8.25), None)
    assert expected_grade("Rating: [[8]]", None, rating) == (None, "no logprobs returned")
    assert expected_grade("Rating: [[8.5]]", tokens, rating)[1] == "grade is not a whole number"
    odd = [("Rating: [[", {}), ("8", {"eight": 0.0}), ("]]", {})]
    assert expected_grade("Rating: [[8]]", odd, rating)[1] == "no grade among the top logprobs"
    json_tokens = [('{"score": ', {}), ("3", {"3": math.log(0.5), "4": math.log(0.5)}), ("}", {})]
    assert expected_grade('{"score": 3}', json_tokens, None) == (pytest.approx(3.5), None)
    assert combine([6.0, None, 9.0, 7.0]) == 7.0 and combine([6.0, 9.0], "mean") == 7.5
