"""An adapter trained on 5 GSM8K test questions is flagged on exactly those 5 when evaluated.

Through the real entry points on the bundled model: ``harness train`` (2 steps of a tiny
recipe on 12 alpaca rows, 5 of them GSM8K test questions), ``harness run --adapter`` (12 test
items, 4 new tokens) and ``harness gate`` with each contamination policy. About a minute on a
quiet 2-core CPU, like tests/adapters/test_train.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.record import read_run, read_samples

LEAKED = (0, 2, 5, 8, 11)  # test items whose questions are in the training data
TINY = ["max_train_items=12", "batch_size=4", "max_steps=2", "validation.every_steps=2"]
TINY += ["logging_steps=1", "lora.r=4"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("leak")
    mp = pytest.MonkeyPatch()
    mp.setenv("HARNESS_HOME", str(root / "home"))
    mp.setenv("HARNESS_CACHE", str(root / "requests.sqlite"))
    mp.chdir(root)
    test = [json.loads(line) for line in (data_dir / "gsm8k" / "test.jsonl").open()][:12]
    rows = [
        {"instruction": f"What is {k} plus {k + 1}?", "output": str(2 * k + 1)} for k in range(7)
    ]
    for k in LEAKED:
        rows.insert(k, {"instruction": test[k]["question"], "output": test[k]["answer"]})
    data = root / "leak.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--data", str(data), "--out", "adapters/gsm-leak", *TINY])
    assert res.exit_code == 0, res.output
    run = ["run", "--task", "gsm8k", "--adapter", "adapters/gsm-leak", "--limit", "12"]
    res = runner.invoke(
        cli, [*run, "--num-fewshot", "0", "--max-new-tokens", "4", "--output-dir", "runs"]
    )
    assert res.exit_code == 0, res.output
    (folder,) = list((root / "runs").iterdir())
    yield {"root": root, "folder": folder, "stderr": res.stderr, "runner": runner}
    mp.undo()


@pytest.mark.slow
def test_exactly_the_leaked_items_are_flagged_and_clean_metrics_leave_them_out(
    evaluated: dict[str, Any],
) -> None:
    manifest = json.loads(
        (evaluated["root"] / "adapters/gsm-leak/adapter_manifest.json").read_text()
    )
    ref = manifest["contamination"]
    assert ref["files"][0]["path"] == str(evaluated["root"] / "leak.jsonl")
    assert ref["files"][0]["rows"] == 12 and len(ref["fingerprint"]) == 64
    record = read_run(evaluated["folder"])
    leaked = [f"test-{k}" for k in LEAKED]
    c = record.contamination
    assert c is not None and c.status == "checked" and c.flagged == leaked and c.n == 12
    assert c.ngram_flagged == 5 and c.near_duplicate_flagged == 5
    samples = read_samples(evaluated["folder"])
    assert {s.id: s.contaminated for s in samples} == {f"test-{k}": k in LEAKED for k in range(12)}
    clean = [s.scores["strict"].values["strict_match"] for s in samples if not s.contaminated]
    m = record.metrics
    assert m["strict_match"].n == 12 and m["strict_match@clean"].n == 7
    assert m["strict_match@clean"].value == pytest.approx(sum(clean) / 7)
    assert m["flexible_match@clean"].n == 7 and m["strict_match@clean"].method == "wilson"
    assert "5 of 12 gsm8k items are in the training data of adapter gsm-leak" in evaluated["stderr"]


def _gate(evaluated: dict[str, Any], policy: str | None) -> tuple[int, list[str]]:
    root: Path = evaluated["root"]
    body = {"checks": [{"task": "gsm8k", "metric": "strict_match", "max": 1.0}]}
    if policy:
        body["contamination"] = policy  # type: ignore[assignment]
    path = root / f"gate-{policy}.yaml"
    path.write_text(json.dumps(body))
    res = evaluated["runner"].invoke(cli, ["gate", "--policy", str(path), "--candidate", "runs"])
    return res.exit_code, res.output.splitlines()


@pytest.mark.slow
def test_default_gate_refuses_it_in_one_line_naming_the_overlap(evaluated: dict[str, Any]) -> None:
    code, lines = _gate(evaluated, None)
    assert code == 1
    (fail,) = [line for line in lines if line.startswith("FAIL")]
    assert fail.startswith("FAIL          gsm8k: contamination (policy fail): 5 of 12 items are")
    assert fail.endswith("(leak.jsonl): test-0, test-2, test-5, test-8, test-11")
    code, lines = _gate(evaluated, "clean_only")  # decided on the 7 clean items
    rule = next(line for line in lines if "contamination" in line)
    assert rule.startswith("PASS") and rule.endswith("; the checks use the other items")
    code, lines = _gate(evaluated, "warn")
    assert next(line for line in lines if "contamination" in line).startswith("PASS")
