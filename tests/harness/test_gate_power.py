"""Gate power and the paired base: evidence decides before power does (issue 23, cases 2-3).

A check whose interval already excludes the failing side passes (or fails) on that interval;
``underpowered`` is kept for an inconclusive one. The detectable difference has one
definition, shown under one name by the gate's lines, its JUnit, its Markdown summary and the
report. Given only the adapter run of a ``--adapter x --base`` pair, the gate finds the base
run of the same group beside it and says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from _runs_factory import make_run
from click.testing import CliRunner

from harness.cli import cli
from harness.gate import check_regression
from harness.stats import compare, detectable_name

# The issue's pair: n=40, 0 right->wrong and 11 wrong->right, accuracy +0.275.
BASE = [1.0] * 20 + [0.0] * 20
BETTER = [1.0] * 31 + [0.0] * 9
POLICY = "checks:\n  - {task: gsm8k, metric: accuracy, max_regression: 0.05}\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # keep the checkout's runs/baselines out


def _pair(root: Path, cand: list[float], base: list[float] = BASE) -> Path:
    make_run(root, "base-run", base, group_id="g-pair")
    return make_run(root, "cand-run", cand, adapter="lora", group_id="g-pair")


def test_the_issues_pair_passes_on_its_interval() -> None:
    comp = compare(BASE, BETTER, paired=True, alpha=0.10)
    assert (comp.worse, comp.better, comp.n) == (0, 11, 40)
    assert comp.delta == pytest.approx(0.275)
    assert (round(comp.ci_low, 3), round(comp.ci_high, 3)) == (0.144, 0.380)
    r = check_regression(comp, 0.05, max_regression=0.05)
    assert r.numbers["minimal_detectable_effect"] > 0.05  # too few items to detect 0.05 ...
    assert r.status == "pass", r.reason  # ... but the interval shows no worsening at all
    assert "the 90% interval excludes a worsening of more than 0.05" in r.reason


def test_underpowered_only_when_the_interval_straddles() -> None:
    same = [1.0] * 2 + [0.0] * 18 + [0.0] * 2 + [1.0] * 18  # 2 flips each way
    r = check_regression(compare(same, same[::-1], paired=True, alpha=0.10), 0.05, 0.05)
    assert r.status == "underpowered" and "straddles a worsening of 0.05" in r.reason
    # The same pair the other way round is significantly worse: it fails as before.
    worse = compare(BETTER, BASE, paired=True, alpha=0.10)
    r = check_regression(worse, 0.05, 0.05)
    assert r.status == "fail" and "11 right->wrong / 0 wrong->right" in r.reason
    # Lower-is-better metrics mirror the rule: 11 fewer errors passes on its interval.
    errors = compare([1 - v for v in BASE], [1 - v for v in BETTER], paired=True, alpha=0.10)
    r = check_regression(errors, 0.05, 0.05, lower_is_better=True)
    assert r.status == "pass" and "excludes a worsening" in r.reason


def test_interval_wholly_beyond_the_threshold_fails_without_significance() -> None:
    from harness.stats import Comparison

    # A comparison whose one-sided p (0.1) is not significant but whose 90% interval
    # [-0.3, -0.1] lies wholly beyond -max_regression.
    comp = Comparison("unpaired", "z", 30, 30, 0.6, 0.4, -0.2, -0.3, -0.1, 0.2, 0.1, 0.9, 0.1)
    comp.se = 0.2  # detectable difference far above max_regression
    r = check_regression(comp, 0.05, 0.05)
    assert r.status == "fail" and "lies wholly beyond a worsening of 0.05" in r.reason


def test_gate_report_junit_and_summary_show_one_detectable_number(tmp_path: Path) -> None:
    cand = _pair(tmp_path / "runs", BETTER)
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    res = CliRunner().invoke(
        cli,
        [
            "gate",
            "--policy",
            str(policy),
            "--candidate",
            str(cand),
            "--junit",
            "gate.xml",
            "--summary",
            "gate.md",
            "--report",
            "rep",
        ],
    )
    assert res.exit_code == 0, res.output
    name = detectable_name(0.05)
    assert name == "detectable Δ (one-sided α=0.05, 80% power)"
    shown = re.search(re.escape(name) + r" ([0-9.]+)\)", res.output)
    assert shown is not None, res.output
    mde = shown.group(1)
    assert res.output.splitlines()[1].startswith("PASS          gsm8k: accuracy regression")
    summary = Path("gate.md").read_text(encoding="utf-8")
    assert f"{name} {mde})" in summary and "✅ pass" in summary
    case = ET.parse("gate.xml").getroot().find("testsuite/testcase/system-out")
    assert case is not None and f"{name} {mde})" in (case.text or "")
    report = Path("rep/report.md").read_text(encoding="utf-8")
    row = next(line for line in report.splitlines() if line.startswith("| gsm8k/accuracy"))
    assert f"| {mde} |" in row and name in report
    data = json.loads(Path("rep/report.json").read_text(encoding="utf-8"))
    (comp,) = data["comparisons"]
    assert f"{comp['minimal_detectable_effect']:.4g}" == mde
    assert comp["minimal_detectable_effect_is"] == name


def test_gate_finds_the_paired_base_beside_the_adapter_run(tmp_path: Path) -> None:
    cand = _pair(tmp_path / "runs", BETTER)
    # An older base run elsewhere in the policy's baselines must not win over the pair.
    make_run(tmp_path / "runs" / "baselines", "old", BASE, group_id="other")
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    res = CliRunner().invoke(cli, ["gate", "--policy", str(policy), "--candidate", str(cand)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == (
        f"baseline of gsm8k: {tmp_path / 'runs' / 'base-run'} (the base-model run of group "
        "g-pair, found beside the candidate)"
    )
    assert "0 right->wrong / 11 wrong->right, paired, " in lines[1]
    assert lines[1].endswith("[baseline run base-run]")
    assert lines[2] == "gate PASSED: 1 checks, 0 failing"


def test_no_paired_base_beside_still_says_what_to_do(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "base-run", BASE, group_id="another-group")
    cand = make_run(tmp_path / "runs", "cand-run", BETTER, adapter="lora", group_id="g-pair")
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    res = CliRunner().invoke(cli, ["gate", "--policy", str(policy), "--candidate", str(cand)])
    assert res.exit_code == 2, res.output
    assert "no baseline run of task 'gsm8k' with metric 'accuracy'" in res.output


def test_underpowered_is_named_and_skipped_under_on_inconclusive_pass(tmp_path: Path) -> None:
    flips = [1.0] * 2 + [0.0] * 18 + [0.0] * 2 + [1.0] * 18
    cand = _pair(tmp_path / "runs", flips[::-1], base=flips)
    policy = tmp_path / "gate.yaml"
    policy.write_text("on_inconclusive: pass\n" + POLICY, encoding="utf-8")
    args = ["gate", "--policy", str(policy), "--candidate", str(cand), "--junit", "gate.xml"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[1].startswith("UNDERPOWERED  gsm8k: accuracy regression")
    skipped = ET.parse("gate.xml").getroot().find("testsuite/testcase/skipped")
    assert skipped is not None
    assert skipped.get("message", "").startswith("underpowered (on_inconclusive: pass): delta")
