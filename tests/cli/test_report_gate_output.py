"""``harness report`` and ``harness gate`` on runs made with the fake backend: whole outputs.

The runs come from one ``harness run`` of the base model and the ``tuned`` adapter (see
``conftest.py``: the adapter turns item 2 from wrong to right). Each expected output is one
constant next to its test, normalised by `normalise` (temporary folder, run ids, timestamps).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_helpers import invoke, normalise


@pytest.fixture
def runs(tmp_path: Path, run_args: list[str], adapter: Path) -> Path:
    """The base and adapter runs of one invocation, in ``tmp_path/runs``."""
    assert invoke([*run_args, "--adapter", str(adapter), "--base", "--json"]).exit_code == 0
    return tmp_path / "runs"


REPORT_STDOUT = """\
2 runs, 2 rows, 4 comparisons
html: <tmp>/report/report.html
markdown: <tmp>/report/report.md
json: <tmp>/report/report.json
"""

REPORT_MD = """\
# harness leaderboard

Generated <time> from 2 runs. Values are means (or corpus scores) with 95% intervals and the n they were computed on; detectable Δ (one-sided α=0.05, 80% power) is the smallest difference a comparison detects, as the gate defines it at its default alpha.

Forgetting: no adapter is significantly worse than its base (paired).

## Leaderboard

| model | gsm8k/flexible_match | gsm8k/strict_match | gsm8k/contamination (flagged/n) |
| --- | --- | --- | --- |
| fake:answers | 0.333 [0.061, 0.792] n=3 (flexible_no_match 0.333) | 0.333 [0.061, 0.792] n=3 (strict_no_match 0.333) | – |
| fake:answers + tuned | 0.667 [0.208, 0.939] n=3 (flexible_no_match 0.333) | 0.667 [0.208, 0.939] n=3 (strict_no_match 0.333) | unknown |

## Paper table

Values: mean (or corpus score) [95% interval] and n. Δ: adapter minus its base run, paired when both hold the same items, [95% interval] and two-sided p.

**gsm8k**

| model | flexible_match | strict_match |
| --- | --- | --- |
| fake:answers | 0.333 [0.061, 0.792] n=3 | 0.333 [0.061, 0.792] n=3 |
| fake:answers + tuned | 0.667 [0.208, 0.939] n=3 | 0.667 [0.208, 0.939] n=3 |
| *Δ fake:answers + tuned − fake:answers* | +0.333 [-0.326, +0.726] p=1 | +0.333 [-0.326, +0.726] p=1 |

## Adapter vs base

| task/metric | candidate | baseline | delta [95%] | p | detectable Δ (one-sided α=0.05, 80% power) | n | test | pairing | right→wrong / wrong→right |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| gsm8k/strict_match | fake:answers + tuned 0.667 | fake:answers 0.333 | +0.333 [-0.326, +0.726] | 1 | 0.6672 | 3 | mcnemar-exact | paired | 0 / 1 |
| gsm8k/strict_no_match | fake:answers + tuned 0.333 | fake:answers 0.333 | +0.000 [-0.392, +0.392] | 1 | 0.4973 | 3 | mcnemar-exact | paired | 0 / 0 |
| gsm8k/flexible_match | fake:answers + tuned 0.667 | fake:answers 0.333 | +0.333 [-0.326, +0.726] | 1 | 0.6672 | 3 | mcnemar-exact | paired | 0 / 1 |
| gsm8k/flexible_no_match | fake:answers + tuned 0.333 | fake:answers 0.333 | +0.000 [-0.392, +0.392] | 1 | 0.4973 | 3 | mcnemar-exact | paired | 0 / 0 |

![bars_gsm8k_0-1](plots/bars_gsm8k_0-1.png)

![deltas_0-1](plots/deltas_0-1.png)

### Flips: gsm8k/strict_match, fake:answers + tuned vs fake:answers (1)

| id | flip | target | baseline output | candidate output |
| --- | --- | --- | --- | --- |
| test-1 | wrong->right | 3 | It takes 2 bolts. #### 2 | 2 + 1 = 3 bolts. #### 3 |

### Flips: gsm8k/flexible_match, fake:answers + tuned vs fake:answers (1)

| id | flip | target | baseline output | candidate output |
| --- | --- | --- | --- | --- |
| test-1 | wrong->right | 3 | It takes 2 bolts. #### 2 | 2 + 1 = 3 bolts. #### 3 |

## Tokens, cost and time

calls: requests the run needed from the model (cached ones included), and those its LLM-as-judge and RAGAS scorers sent (cache hits excluded); – where none. cost: the model tokens of every request (cached answers included) at the run's --price-per-1k-tokens; – where no price was given. Set-up and engine start come before the first request and are not part of the wall time.

| run | model | task | calls model / judge / ragas | model tokens in / out | judge tokens in / out | ragas tokens in / out | cost | wall | set-up | engine start | generated |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| <ts>-gsm8k-base-<hex> | fake:answers | gsm8k | 3 / – / – | 1,726 / 25 | – | – | – | <s> s | <s> s | – | <rate> tok/s |
| <ts>-gsm8k-tuned-<hex> | fake:answers + tuned | gsm8k | 3 / – / – | 1,726 / 13 | – | – | – | <s> s | <s> s | – | <rate> tok/s |

## Notes

- fake:answers + tuned: no adapter_manifest.json in <tmp>/tuned; no loss curve
"""  # noqa: E501


def test_report_prints_its_files_and_writes_the_leaderboard(tmp_path: Path, runs: Path) -> None:
    result = invoke(["report", str(runs), "--out", str(tmp_path / "report")])
    assert (result.exit_code, result.stderr) == (0, "")
    assert normalise(result.stdout, tmp_path) == REPORT_STDOUT
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert normalise(md, tmp_path) == REPORT_MD


# A floor the adapter clears, no regression against its paired base run, and a ceiling on
# answers without a number that 1 in 3 already breaks: the gate fails with exit code 1.
POLICY = """\
version: 1
alpha: 0.05
on_inconclusive: fail
checks:
  - task: gsm8k
    metric: flexible_match
    min: 0.1
    max_regression: 0.0
  - task: gsm8k
    metric: flexible_no_match
    max: 0.01
"""

GATE_FAILED = """\
PASS          gsm8k: flexible_match min >= 0.1: 0.6667 [0.1354, 0.9830] (90% clopper-pearson, n=3): significantly within min 0.1
PASS          gsm8k: flexible_match regression <= 0 vs baseline: delta +0.3333 [-0.2414, +0.6414] (0.3333 -> 0.6667, mcnemar-exact p(worse) = 1, n=3, 0 right->wrong / 1 wrong->right, paired, detectable Δ (one-sided α=0.05, 80% power) 0.6672): not significantly worse [baseline run <ts>-gsm8k-base-<hex>]
FAIL          gsm8k: flexible_no_match max <= 0.01: 0.3333 [0.0170, 0.8646] (90% clopper-pearson, n=3): significantly above max 0.01
gate FAILED: 3 checks, 1 failing
"""  # noqa: E501

GATE_SUMMARY = """\
## harness gate: FAILED

3 checks, 1 failing (inconclusive counts as fail).

| task | check | status | evidence |
| --- | --- | --- | --- |
| gsm8k | flexible_match min >= 0.1 | ✅ pass | 0.6667 [0.1354, 0.9830] (90% clopper-pearson, n=3): significantly within min 0.1 |
| gsm8k | flexible_match regression <= 0 vs baseline | ✅ pass | delta +0.3333 [-0.2414, +0.6414] (0.3333 -> 0.6667, mcnemar-exact p(worse) = 1, n=3, 0 right->wrong / 1 wrong->right, paired, detectable Δ (one-sided α=0.05, 80% power) 0.6672): not significantly worse [baseline run <ts>-gsm8k-base-<hex>] |
| gsm8k | flexible_no_match max <= 0.01 | ❌ fail | 0.3333 [0.0170, 0.8646] (90% clopper-pearson, n=3): significantly above max 0.01 |
"""  # noqa: E501


def test_gate_fails_on_a_broken_ceiling(tmp_path: Path, runs: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    summary = tmp_path / "summary.md"
    args = ["gate", "--policy", str(policy), "--candidate", str(runs), "--adapter", "tuned"]
    result = invoke([*args, "--summary", str(summary)])
    assert (result.exit_code, result.stderr) == (1, "")
    assert normalise(result.stdout, tmp_path) == GATE_FAILED
    assert normalise(summary.read_text(encoding="utf-8"), tmp_path) == GATE_SUMMARY


GATE_PASSED = """\
PASS          gsm8k: flexible_match min >= 0.1: 0.6667 [0.1354, 0.9830] (90% clopper-pearson, n=3): significantly within min 0.1
PASS          gsm8k: flexible_match regression <= 0 vs baseline: delta +0.3333 [-0.2414, +0.6414] (0.3333 -> 0.6667, mcnemar-exact p(worse) = 1, n=3, 0 right->wrong / 1 wrong->right, paired, detectable Δ (one-sided α=0.05, 80% power) 0.6672): not significantly worse [baseline run <ts>-gsm8k-base-<hex>]
gate PASSED: 2 checks, 0 failing
"""  # noqa: E501


def test_gate_passes_without_the_ceiling(tmp_path: Path, runs: Path) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY.split("  - task: gsm8k\n    metric: flexible_no_match")[0])
    result = invoke(["gate", "--policy", str(policy), "--candidate", str(runs)])
    assert (result.exit_code, result.stderr) == (0, "")
    assert normalise(result.stdout, tmp_path) == GATE_PASSED
