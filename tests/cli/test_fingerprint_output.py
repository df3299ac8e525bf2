"""End to end: run.json records what was evaluated, and ``harness report`` keeps runs of one
task on different data apart (fake backend, real gsm8k rows)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from _cli_helpers import invoke

from harness.record import read_run


def test_run_records_its_fingerprint(tmp_path: Path, run_args: list[str], data_dir: Path) -> None:
    assert invoke([*run_args, "-T", "num_fewshot=2"]).exit_code == 0
    (folder,) = (tmp_path / "runs").iterdir()
    fp = read_run(folder).fingerprint
    assert fp is not None and re.fullmatch(r"[0-9a-f]{12}", fp.digest)
    sha = hashlib.sha256((data_dir / "gsm8k" / "test.jsonl").read_bytes()).hexdigest()
    assert fp.data_files["test.jsonl"] == sha
    assert fp.task_params["num_fewshot"] == 2 and fp.task_file is None


def test_yaml_task_file_and_hash_are_in_the_fingerprint(tmp_path: Path, script: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"q": "2+2?", "a": "4"}\n', encoding="utf-8")
    task = tmp_path / "mine.yaml"
    task.write_text(
        "name: mine\nversion: '1'\n"
        "dataset: {path: rows.jsonl, target: a}\nprompt: {template: '{q}'}\n"
        "metrics: [{name: exact_match}]\n",
        encoding="utf-8",
    )
    result = invoke(["run", "--task", str(task), "--backend", "fake", "--model", str(script),
                     "-o", str(tmp_path / "runs"), "--no-cache"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    fp = read_run(folder).fingerprint
    assert fp is not None and fp.task_file == str(task.resolve())
    assert fp.task_file_sha256 == hashlib.sha256(task.read_bytes()).hexdigest()
    assert list(fp.data_files) == ["rows.jsonl"]


def test_report_splits_one_task_run_on_two_datasets(
    tmp_path: Path, run_args: list[str], data_dir: Path
) -> None:
    other = tmp_path / "other-data" / "gsm8k"
    other.mkdir(parents=True)
    lines = (data_dir / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    (other / "test.jsonl").write_text("\n".join(lines[1:4]) + "\n", encoding="utf-8")
    shutil.copy(data_dir / "gsm8k" / "train.jsonl", other / "train.jsonl")
    assert invoke(run_args).exit_code == 0
    args = list(run_args)
    args[args.index("--data-dir") + 1] = str(other.parent)
    assert invoke(args).exit_code == 0
    result = invoke(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.stderr
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    header = next(line for line in md.splitlines() if line.startswith("| model |"))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    # 2 primary metrics x 2 datasets, never merged (no-match rates are badges, not columns)
    assert len(columns) == 4
    shas = {
        hashlib.sha256((d / "gsm8k" / "test.jsonl").read_bytes()).hexdigest()[:8]
        for d in (data_dir, other.parent)
    }
    # Only test.jsonl differs (train.jsonl, the few-shot pool, is the same file).
    assert {c.split("/")[0] for c in columns} == {f"gsm8k [data=test.jsonl@{s}]" for s in shas}
    assert "several runs" not in md
