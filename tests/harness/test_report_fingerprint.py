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
    (note,) = [n for n in report.notes if "runs of the same settings" in n]
    assert ": 2 runs of the same settings; shown: " in note and "; hidden: " in note


def test_incomplete_runs_are_marked_in_markdown_and_html(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_run(root, "done", [1, 0, 1], task="gsm8k")
    make_run(root, "partial", [1, 1], task="gsm8k", adapter="tuned", status="incomplete")
    report = build_report(load_runs([root]))
    md = to_markdown(report)
    board, paper = md.split("## Paper table")
    for part in (board, paper):  # the leaderboard and the paper table both say so
        lines = {ln.split(" | ")[0]: ln for ln in part.splitlines() if ln.startswith("| Smol")}
        assert "⚠ incomplete" in lines["| SmolLM2-135M-Instruct + tuned"]
        assert "⚠ incomplete" not in lines["| SmolLM2-135M-Instruct"]
    html = to_html(report, {})
    assert html.count('class="incomplete"') == 1  # the incomplete run's one cell


def _with(folder: Path, **generation: object) -> None:
    """Rewrites a run's generation settings in run.json (what `harness run` would record)."""
    import json

    path = folder / "run.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["generation"].update(generation)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_runs_differing_only_by_a_setting_are_separate_cells(tmp_path: Path) -> None:
    """Issue 23, case 4: three runs of one task that differ only by --system-prompt were one
    cell showing the newest; each is its own column now, labelled by what differs, and the
    note names each shown and hidden run once."""
    root = tmp_path / "runs"
    prompts = [None, "Be brief.", "Think step by step."]
    for k, prompt in enumerate(prompts):
        stamp = f"2026-11-22T10:00:0{k}+00:00"
        _with(
            make_run(root, f"sp-{k}", [1, 0, 1], task="gsm8k", created_at=stamp),
            system_prompt=prompt,
        )
    _with(
        make_run(root, "t-hot", [1, 1, 1], task="gsm8k", created_at="2026-11-22T10:00:05+00:00"),
        system_prompt="Be brief.",
        temperature=0.7,
    )
    for k in range(2):  # two reruns of the same settings: one cell, one note
        make_run(
            root, f"again-{k}", [0, 0, 1], task="viggo", created_at=f"2026-11-22T10:01:0{k}+00:00"
        )
    report = build_report(load_runs([root]))
    gsm = sorted(c for c in report.columns if c.startswith("gsm8k"))
    assert gsm == sorted(
        [
            "gsm8k [system_prompt=-, temperature=0]/accuracy",
            'gsm8k [system_prompt="Be brief.", temperature=0]/accuracy',
            'gsm8k [system_prompt="Think step by step.", temperature=0]/accuracy',
            'gsm8k [system_prompt="Be brief.", temperature=0.7]/accuracy',
        ]
    )
    (note,) = [n for n in report.notes if "runs of the same settings" in n]
    assert note.endswith(
        "viggo: 2 runs of the same settings; shown: again-1 (the latest); hidden: again-0"
    )


def test_a_pairwise_record_is_its_own_section(tmp_path: Path) -> None:
    """A ``judge-pairwise`` record (run A's shape, win rates against B) is not folded into the
    base model's leaderboard row."""
    import json

    root = tmp_path / "runs"
    make_run(root, "base", [1, 0, 1], task="gsm8k")
    pw = make_run(
        root,
        "pw",
        [1, 0, 0],
        task="gsm8k",
        metric="win_rate",
        created_at="2026-11-22T10:00:09+00:00",
    )
    data = json.loads((pw / "run.json").read_text(encoding="utf-8"))
    data["extra"]["pairwise_of"] = [str(root / "base"), str(root / "other")]
    (pw / "run.json").write_text(json.dumps(data), encoding="utf-8")
    report = build_report(load_runs([root]))
    assert report.columns == ["gsm8k/accuracy"]  # no win_rate cell in the model's row
    (section,) = [s for s in report.sections if s.title == "Pairwise judgements"]
    (row,) = section.rows
    assert row[:5] == ["pw", "SmolLM2-135M-Instruct", "gsm8k", "base", "other"]
    assert row[5] == "0.333" and row[-1] == "3"
    assert {r["run_id"] for r in report.runs} == {"base", "pw"}
