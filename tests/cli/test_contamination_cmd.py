"""``harness contamination`` through the real entry point: text, JSON and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli


def _leak(tmp_path: Path, data_dir: Path) -> Path:
    test = [json.loads(line) for line in (data_dir / "gsm8k" / "test.jsonl").open()][:4]
    rows = [{"question": test[k]["question"], "answer": "x"} for k in (1, 3)]
    rows.append({"question": "What is two plus two?", "answer": test[0]["question"]})
    path = tmp_path / "leak.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_text_output_names_each_overlapping_item(tmp_path: Path, data_dir: Path) -> None:
    leak = _leak(tmp_path, data_dir)
    res = CliRunner().invoke(cli, ["contamination", f"{leak}:question", "-t", "gsm8k", "-n", "6"])
    assert res.exit_code == 1, res.output
    out = re.sub(r"\d+\.\d s\)", "S s)", res.output)
    lines = out.splitlines()
    assert lines[0] == (
        "gsm8k: 2 of 6 items overlap leak.jsonl (2 by 13-gram overlap, 2 near-duplicates at "
        "Jaccard >= 0.8; 3 training texts, S s)"
    )
    assert [ln.split("\t")[0] for ln in lines[1:]] == ["  test-1", "  test-3"]
    assert lines[1].endswith("\tleak.jsonl:1") and lines[2].endswith("\tleak.jsonl:2")
    # Every text of a row without a field: test-0's question hides in an answer.
    res = CliRunner().invoke(cli, ["contamination", str(leak), "-t", "gsm8k", "-n", "6", "--json"])
    assert res.exit_code == 1
    (task,) = json.loads(res.output)["tasks"]
    assert task["flagged"] == ["test-0", "test-1", "test-3"] and task["status"] == "checked"
    assert task["items"][0]["match"] == "leak.jsonl:3" and task["settings"]["ngram"] == 13


def test_clean_unchecked_and_bad_input_exit_codes(tmp_path: Path, data_dir: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"text": "Nothing from any test set is here at all."}) + "\n")
    res = CliRunner().invoke(cli, ["contamination", str(clean), "--task", "gsm8k", "-n", "3"])
    assert res.exit_code == 0 and res.output.startswith("gsm8k: 0 of 3 items overlap clean.jsonl")
    adapter = tmp_path / "tuned"
    adapter.mkdir()
    ref = {"files": [{"path": str(tmp_path / "gone.jsonl"), "sha256": "0" * 64}]}
    manifest = {"contamination": {**ref, "fingerprint": "f"}}
    (adapter / "adapter_manifest.json").write_text(json.dumps(manifest))
    res = CliRunner().invoke(cli, ["contamination", str(adapter), "--task", "gsm8k", "-n", "3"])
    assert res.exit_code == 3
    assert res.output == f"gsm8k: unchecked: training file {tmp_path / 'gone.jsonl'} not found\n"
    res = CliRunner().invoke(cli, ["contamination", "nope.jsonl", "--task", "gsm8k"])
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "training data 'nope.jsonl' not found" in res.output
