"""The gate's contamination policy and the report's contamination column, on recorded runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from _runs_factory import make_run

from harness.gate import GatePolicy
from harness.gate import evaluate as evaluate_gate
from harness.record import ContaminationRecord, MetricRecord, read_run, read_samples, write_run
from harness.report import build_report
from harness.report._markdown import to_markdown
from harness.runstore import load_runs

LEAKED = [f"gsm8k-{i:04d}" for i in range(10)]


def _runs(tmp_path: Path, status: str = "checked") -> Path:
    """A base run and an adapter run of 100 items; the adapter is right on the 10 items of
    its training data and on 40 of the other 90."""
    root = tmp_path / "runs"
    make_run(root, "base", [1.0] * 10 + [1.0] * 40 + [0.0] * 50)
    cand = make_run(root, "cand", [1.0] * 10 + [1.0] * 40 + [0.0] * 50, adapter="leaky")
    record = read_run(cand)
    if status == "checked":
        record.metrics["accuracy@clean"] = MetricRecord(value=40 / 90, n=90)
    record.contamination = ContaminationRecord(
        status=status,
        reason=None if status == "checked" else "training file /d/train.jsonl not found",
        training="train.jsonl",
        n=100,
        flagged=LEAKED if status == "checked" else [],
    )
    samples = read_samples(cand)
    for s in samples:
        s.contaminated = s.id in LEAKED if status == "checked" else None
    write_run(cand, record, samples)
    return root


def _gate(root: Path, **policy: object) -> list[tuple[str, str, str]]:
    checks = [{"task": "gsm8k", "metric": "accuracy", "min": 0.3}]
    result = evaluate_gate(
        GatePolicy.model_validate({"checks": checks, **policy}), load_runs([root])
    )
    return [(r.check, r.status, r.reason) for r in result.results]


def test_default_policy_fails_a_candidate_with_flagged_items(tmp_path: Path) -> None:
    rule, bound = _gate(_runs(tmp_path))
    assert rule[:2] == ("contamination", "fail")
    assert rule[2] == (
        "10 of 100 items are in the training data of SmolLM2-135M-Instruct + leaky "
        "(train.jsonl): " + ", ".join(LEAKED)
    )
    assert bound[:2] == ("min", "pass")  # 50/100 right


def test_clean_only_decides_on_the_other_items_and_warn_only_says_so(tmp_path: Path) -> None:
    root = _runs(tmp_path)
    policy = GatePolicy.model_validate(
        {
            "checks": [{"task": "gsm8k", "metric": "accuracy", "min": 0.3}],
            "contamination": "clean_only",
        }
    )
    result = evaluate_gate(policy, load_runs([root]))
    rule, bound = result.results
    assert rule.status == "pass" and rule.reason.endswith("; the checks use the other items")
    assert bound.numbers["n"] == 90 and bound.numbers["value"] == pytest.approx(40 / 90)
    rule, bound = _gate(root, contamination="warn")
    assert rule[1] == "pass" and rule[2].startswith("10 of 100 items")


def test_a_check_of_metric_at_clean_uses_the_items_not_flagged(tmp_path: Path) -> None:
    checks = [{"task": "gsm8k", "metric": "accuracy@clean", "min": 0.3}]
    policy = GatePolicy.model_validate({"checks": checks, "contamination": "warn"})
    _, bound = evaluate_gate(policy, load_runs([_runs(tmp_path)])).results
    assert bound.numbers["n"] == 90 and bound.numbers["value"] == pytest.approx(40 / 90)


def test_unchecked_training_data_is_never_clean(tmp_path: Path) -> None:
    root = _runs(tmp_path, status="unchecked")
    rule, _ = _gate(root)
    assert rule[1] == "inconclusive" and "not known to be clean" in rule[2]
    assert "/d/train.jsonl not found" in rule[2]
    assert _gate(root, contamination="warn")[0][1] == "pass"


def test_report_shows_flagged_over_n_beside_the_adapters_cells(tmp_path: Path) -> None:
    md = to_markdown(build_report(load_runs([_runs(tmp_path)])))
    lines = md.splitlines()
    head = next(line for line in lines if line.startswith("| model |"))
    assert head == (
        "| model | gsm8k/accuracy | gsm8k/accuracy@clean | gsm8k/contamination (flagged/n) |"
    )
    base = next(line for line in lines if line.startswith("| SmolLM2-135M-Instruct |"))
    cand = next(line for line in lines if line.startswith("| SmolLM2-135M-Instruct + leaky |"))
    assert base.endswith("n=100 | – | – |") and cand.endswith("0.444 n=90/100 | 10/100 |")
    md = to_markdown(build_report(load_runs([_runs(tmp_path / "u", status="unchecked")])))
    assert "| unchecked |" in md
