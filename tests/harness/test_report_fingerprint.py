"""Runs of one task name on different data never share a leaderboard cell; incomplete runs
are marked in both leaderboards.

Reproduces issue 11's "two instruct runs on different data files became one leaderboard
cell (the later one shown, the other dropped without a word)".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _runs_factory import make_run

from harness import load_runs
from harness.record import Fingerprint
from harness.report import build_report, to_html, to_markdown


def _fp(files: dict[str, str], **params: Any) -> Fingerprint:
    return Fingerprint(digest=str(abs(hash((tuple(files.items()), tuple(params.items()))))),
                       data_files=files, task_params={"path": None, **params})  # fmt: skip


def _two(tmp_path: Path, first: Fingerprint, second: Fingerprint) -> Any:
    root = tmp_path / "runs"
    make_run(root, "r1", [1, 1, 0, 1], task="instruct", fingerprint=first)
    make_run(
        root, "r2", [0, 0, 0, 1], task="instruct", fingerprint=second,
        created_at="2026-11-22T11:00:00+00:00",
    )  # fmt: skip
    return build_report(load_runs([root]))


def test_two_instruct_runs_on_different_data_files_are_two_columns(tmp_path: Path) -> None:
    report = _two(
        tmp_path,
        _fp({"a.jsonl": "aa" * 32}, path="/data/a.jsonl"),
        _fp({"b.jsonl": "bb" * 32}, path="/data/b.jsonl"),
    )
    assert report.columns == [
        "instruct [data=a.jsonl]/accuracy",
        "instruct [data=b.jsonl]/accuracy",
    ]
    (row,) = report.rows
    assert row.cells["instruct [data=a.jsonl]/accuracy"].value == 0.75
    assert row.cells["instruct [data=b.jsonl]/accuracy"].value == 0.25
    assert not [n for n in report.notes if "several runs" in n]  # nothing dropped


def test_same_file_name_other_content_is_labelled_by_hash(tmp_path: Path) -> None:
    report = _two(tmp_path, _fp({"test.jsonl": "aa" * 32}), _fp({"test.jsonl": "bb" * 32}))
    assert len(report.columns) == 2
    assert all(c.startswith("instruct [data=test.jsonl@") for c in report.columns)


def test_other_task_parameters_are_labelled_by_the_parameter(tmp_path: Path) -> None:
    files = {"a.jsonl": "aa" * 32}
    report = _two(tmp_path, _fp(files, num_fewshot=0), _fp(files, num_fewshot=5))
    assert report.columns == [
        "instruct [num_fewshot=0]/accuracy",
        "instruct [num_fewshot=5]/accuracy",
    ]


def test_same_fingerprint_stays_one_column(tmp_path: Path) -> None:
    fp = _fp({"a.jsonl": "aa" * 32})
    report = _two(tmp_path, fp, fp)
    assert report.columns == ["instruct/accuracy"]
    assert [n for n in report.notes if "several runs" in n]


def test_incomplete_runs_are_marked_in_markdown_and_html(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_run(root, "done", [1, 0, 1], task="gsm8k")
    make_run(root, "partial", [1, 1], task="gsm8k", adapter="tuned", status="incomplete")
    report = build_report(load_runs([root]))
    md = to_markdown(report)
    lines = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| Smol")}
    assert "⚠ incomplete" in lines["| SmolLM2-135M-Instruct + tuned"]
    assert "⚠ incomplete" not in lines["| SmolLM2-135M-Instruct"]
    html = to_html(report, {})
    assert html.count('class="incomplete"') == 1  # the incomplete run's one cell
