"""Judged YAML tasks end to end on the fake backend and a stub OpenAI-compatible judge: the
MT-bench-style example (category templates, reference-guided, ``[[rating]]``), what the judge
saw in samples.jsonl, judge counts in run.json and the summary line, --max-judge-failures, and
the ``judge_pairwise`` scorer's record as report and gate read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.record import read_run, read_samples
from judges.parse import parse_pattern, parse_score
from judges.templates import BUILTIN
from tests.judges._stub_judge import run_mtbench, stub_judge

ANSWERS = """\
default: "I am not sure."
answers:
  - contains: "lighthouse keeper"
    text: "A keeper climbs at night..."
  - contains: "bakery sells muffins"
    text: "12 bought and 3 free: 15 muffins."
"""


pytestmark = pytest.mark.usefixtures("judge_home")


def _verdict(messages: list[dict[str, str]]) -> str:
    user = messages[-1]["content"]
    if "lighthouse keeper" in user:
        return "A decent poem. Rating: 5.5"  # no [[...]]: unreadable, never 10
    if "[Reference answer]" in user:
        return "Matches the reference. Rating: [[9]]"
    return "Vague. Rating: [[3.5]]"


def _run(tmp: Path, url: str, *extra: str) -> tuple[int, str, str]:
    return run_mtbench(tmp, url, ANSWERS, *extra)


def _folder(tmp: Path) -> Path:
    return max((tmp / "runs").iterdir(), key=lambda p: p.stat().st_mtime)


def test_mtbench_example_records_the_servers_verdicts(tmp_path: Path, no_network: list) -> None:
    with stub_judge(_verdict) as (url, seen):
        code, out, err = _run(tmp_path, url)
    assert code == 0, err
    assert len(seen) == 6 and all("response_format" not in b for b in seen)  # regex format
    record = read_run(_folder(tmp_path))
    by_id = {s.id: s for s in read_samples(_folder(tmp_path))}
    scores = {i: s.scores["judge"] for i, s in by_id.items()}
    assert scores["w1"].values["judge_score"] is None  # "Rating: 5.5" without [[ ]]
    assert scores["w1"].metadata["raw"] == ["A decent poem. Rating: 5.5"]
    assert scores["m1"].values["judge_score"] == 9.0 and scores["x1"].values["judge_score"] == 3.5
    used = {i: s.metadata["template"]["name"] for i, s in scores.items()}
    assert used == {
        "w1": "rated",
        "r1": "rated",
        "m1": "rated_reference",
        "m2": "rated_reference",
        "c1": "rated_reference",
        "x1": "rated",
    }
    prompt = scores["m1"].metadata["judge_prompts"][0]
    assert prompt[0]["role"] == "system" and "[[rating]]" in prompt[1]["content"]
    assert "15 muffins in total" in prompt[1]["content"]  # the reference, filled in
    assert "12 bought and 3 free" in prompt[1]["content"]  # the model's answer
    assert scores["m1"].metadata["template"]["sha256"] == BUILTIN["rated_reference"].sha256
    counts = record.extra["judge:judge"]
    assert counts["judge"]["base_url"] == url and counts["judge"]["model"] == "stub-judge"
    assert (counts["calls"], counts["cache_hits"], counts["answered"]) == (6, 0, 6)
    assert counts["verdict_formats"] == {"rated": "regex", "rated_reference": "regex"}
    assert (counts["tokens_in"], counts["tokens_out"], counts["parse_failures"]) == (66, 18, 1)
    assert record.metrics["judge_score"].value == pytest.approx((9 * 3 + 3.5 * 2) / 5)
    assert record.metrics["judge_parse_failure_rate"].value == pytest.approx(1 / 6)
    assert record.status == "complete"  # 1/6 is under the default 0.2
    assert "judge:judge: 6 judge calls, 0 cached, 84 tokens, 1 of 6 verdicts unreadable" in out
    assert record.scorers[0]["args"]["max_tokens"] == 384
    assert all(b["max_tokens"] == 384 for b in seen)

    with stub_judge(_verdict) as (_url2, seen2):  # same judge identity needs the same URL
        code, out, _ = _run(tmp_path, url)
    assert code == 0  # the first server is gone: the cache answers every judge request
    assert "judge:judge: 0 judge calls, 6 cached" in out and not seen2
    with stub_judge(_verdict) as (url3, seen3):
        _run(tmp_path, url3)  # answered, and cached
        code, out, _ = _run(tmp_path, url3, "--no-cache")  # asked again
    assert code == 0 and len(seen3) == 12 and "6 judge calls, 0 cached" in out


def test_too_many_unreadable_verdicts_make_the_run_incomplete(tmp_path: Path) -> None:
    with stub_judge(_verdict) as (url, _):
        code, _, err = _run(tmp_path, url, "--max-judge-failures", "0.1")
    assert code == 3
    last = err.strip().splitlines()[-1]  # (above it: the progress bar)
    assert last.startswith("error: run recorded as incomplete: judge ")
    assert err.count("error:") == 1
    assert "1 of 6 verdicts unreadable (17% > --max-judge-failures 0.1)" in last
    record = read_run(_folder(tmp_path))
    assert record.status == "incomplete" and len(record.scorer_problems) == 1


def test_rating_5_5_is_never_read_as_10() -> None:
    rated = BUILTIN["rated"].verdict_pattern
    assert rated is not None
    assert parse_pattern("Rating: 5.5", rated).value is None
    assert parse_pattern("Rating: [[5.5]]", rated).value == 5.5
    assert parse_pattern("[[10]] ... [[5]]", rated).value == 10.0  # the first, as MT-bench
    assert parse_pattern("Rating: [[11]]", rated).failure == "score 11 outside 1-10"
    assert parse_score("Rating: 5.5").value == 5.5  # the default JSON-first reader


def test_template_file_declares_its_format(tmp_path: Path) -> None:
    from harness import HarnessError
    from judges.templates import load_template

    path = tmp_path / "t.yaml"
    path.write_text("user: 'Q {question} A {answer}'\nformat: regex\npattern: 'Score=(\\d+)'\n")
    tmpl = load_template(path)
    assert tmpl.format == "regex" and tmpl.verdict_pattern is not None
    assert parse_pattern("Score=7", tmpl.verdict_pattern).value == 7.0
    path.write_text("user: '{answer}'\nformat: xml\n")
    with pytest.raises(HarnessError, match="format 'xml' is not one of"):
        load_template(path)
