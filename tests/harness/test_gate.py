"""The release gate: policy parsing, check decisions, calibration by simulation, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from _runs_factory import make_run
from click.testing import CliRunner

from harness._errors import HarnessError
from harness.cli import cli
from harness.gate import check_bound, check_min, check_regression, load_policy
from harness.stats import compare

POLICY = """\
alpha: 0.05
checks:
  - task: gsm8k
    metric: accuracy
    min: 0.40
    max_regression: 0.0
    non_inferiority_margin: 0.10
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The policy's default baseline folder is ./runs/baselines: keep the checkout's out.
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, text: str, name: str = "gate.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_policy_reports_every_error_at_once(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "alpha: 0.7\nretries: 3\nchecks:\n  - task: gsm8k\n    metric: acc\n"
        "  - task: x\n    metric: y\n    min: high\n",
    )
    with pytest.raises(HarnessError) as e:
        load_policy(bad)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{bad}: 4 error(s): ")
    for part in (
        "alpha: Input should be less than 0.5",
        "retries: Extra inputs are not permitted",
        "checks.0: Value error, give at least one of min",
        "checks.1.min: Input should be a valid number",
    ):
        assert part in msg


def test_policy_defaults(tmp_path: Path) -> None:
    p = load_policy(_write(tmp_path, POLICY + "baseline: runs/old\n"))
    assert p.on_inconclusive == "fail" and p.baseline == ["runs/old"]
    assert p.checks[0].non_inferiority_margin == 0.10 and p.checks[0].alpha is None


def test_check_min_three_outcomes() -> None:
    values = [1.0] * 70 + [0.0] * 30
    assert check_min(values, 0.55, 0.05).status == "pass"
    assert check_min(values, 0.85, 0.05).status == "fail"
    r = check_min(values, 0.72, 0.05)
    assert r.status == "inconclusive" and r.numbers["ci_low"] < 0.72 < r.numbers["ci_high"]
    assert "0.7000 [0.6" in r.reason and "straddles min 0.72" in r.reason


def test_check_regression_pass_fail_inconclusive() -> None:
    base = [1.0] * 70 + [0.0] * 30
    drop = [0.0] * 12 + [1.0] * 58 + [0.0] * 30  # 12 right->wrong: significant

    def comp(cand: list[float]):
        return compare(base, cand, paired=True, alpha=0.10)

    r = check_regression(comp(drop), 0.05, 0.0)
    assert r.status == "fail" and "12 right->wrong / 0 wrong->right" in r.reason
    assert r.numbers["p_lower"] == pytest.approx(0.5**12)
    assert check_regression(comp(drop), 0.05, max_regression=0.15).status == "pass"
    small = [0.0] * 2 + [1.0] * 68 + [0.0] * 30  # 2 flips: p(worse) = 0.25, not significant
    r = check_regression(comp(small), 0.05, 0.0)
    assert r.status == "pass" and r.reason.endswith("not significantly worse")
    r = check_regression(comp(small), 0.05, 0.0, margin=0.01)
    assert r.status == "inconclusive" and r.numbers["non_inferiority_p"] > 0.05
    r = check_regression(comp(small), 0.05, 0.0, margin=0.08)
    assert r.status == "pass" and r.numbers["ci_low"] > -0.08


def test_lower_is_better_metrics_mirror_the_checks() -> None:
    base = [0.0] * 70 + [1.0] * 30  # e.g. strict_no_match: 30% of outputs had no answer
    more = [1.0] * 12 + [0.0] * 58 + [1.0] * 30  # 12 more items without an answer
    comp = compare(base, more, paired=True, alpha=0.10)
    r = check_regression(comp, 0.05, 0.0, lower_is_better=True)
    assert r.status == "fail" and "12 right->wrong / 0 wrong->right" in r.reason
    assert "lower is better" in r.reason
    assert check_regression(comp, 0.05, 0.0).status == "pass"  # read as higher-is-better
    fewer = compare(more, base, paired=True, alpha=0.10)
    r = check_regression(fewer, 0.05, 0.0, margin=0.05, lower_is_better=True)
    assert r.status == "pass" and r.numbers["non_inferiority_p"] < 0.001
    assert check_bound(more, 0.30, 0.05, "max").status == "fail"
    assert check_bound(base, 0.45, 0.05, "max").status == "pass"
    assert check_bound(base, 0.33, 0.05, "max").status == "inconclusive"
    assert check_bound(base, 1.0, 0.05, "max").status == "pass"
    assert check_bound(base, 0.0, 0.05, "min").status == "pass"


def test_metric_direction_from_name_or_policy(tmp_path: Path) -> None:
    p = load_policy(
        _write(
            tmp_path,
            "checks:\n"
            "  - {task: t, metric: strict_no_match, max: 0.5}\n"
            "  - {task: t, metric: error_rate, max: 0.5, higher_is_better: true}\n"
            "  - {task: t, metric: flexible_match, min: 0.5}\n",
        )
    )
    assert [c.lower_is_better for c in p.checks] == [True, False, False]


def _simulate(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Two systems sharing item difficulty; per-item success p_i ~ Beta(0.35, 0.15), mean 0.7.

    The candidate's p_i is scaled so its mean accuracy is ``drop`` lower. Outcomes are
    independent draws given p_i, so about 14% of items disagree between identical systems
    (as with sampled decoding); greedy reruns of one model would disagree on none.
    """
    p = rng.beta(0.35, 0.15, size=n)
    base = rng.random(n) < p
    cand = rng.random(n) < p * (0.7 - drop) / 0.7
    return base.astype(float), cand.astype(float)


def _gate_fail_rate(drop: float, trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    fails = 0
    for _ in range(trials):
        base, cand = _simulate(rng, 500, drop)
        comp = compare(base.tolist(), cand.tolist(), paired=True, alpha=0.10)
        fails += check_regression(comp, 0.05, max_regression=0.0).status == "fail"
    return fails / trials


def test_calibration_identical_systems_rarely_fail() -> None:
    assert _gate_fail_rate(0.0, trials=1000, seed=1) <= 0.05


def test_calibration_five_point_drop_is_detected() -> None:
    assert _gate_fail_rate(0.05, trials=400, seed=2) >= 0.80


def test_calibration_min_check_at_the_threshold() -> None:
    # True accuracy exactly at the minimum: the gate may fail at most alpha of such runs.
    # A 0/1 min check depends only on the count right, so each distinct count is checked once.
    counts = (np.random.default_rng(4).random((5000, 500)) < 0.7).sum(axis=1)
    status = {
        int(k): check_min([1.0] * int(k) + [0.0] * (500 - int(k)), 0.7, 0.05).status
        for k in np.unique(counts)
    }
    outcomes = [status[int(k)] for k in counts]
    assert outcomes.count("fail") / 5000 <= 0.05 and outcomes.count("pass") / 5000 <= 0.05
    assert {"fail", "pass", "inconclusive"} <= set(outcomes)


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(cli, args, env=env)
    return res.exit_code, res.output


def _runs(tmp_path: Path, cand_values: list[float], **kw: object) -> tuple[Path, Path]:
    base_values = [1.0] * 60 + [0.0] * 40
    base = make_run(tmp_path / "runs", "base-run", base_values)
    cand = make_run(tmp_path / "runs", "cand-run", cand_values, adapter="viggo-lora", **kw)
    return base, cand


def test_cli_pass_writes_valid_junit_and_step_summary(tmp_path: Path) -> None:
    base, cand = _runs(tmp_path, [1.0] * 62 + [0.0] * 38)
    policy = _write(tmp_path, POLICY)
    step = tmp_path / "step_summary.md"
    step.write_text("# earlier step\n", encoding="utf-8")
    code, out = _cli(
        [
            "gate",
            "--policy",
            str(policy),
            "--candidate",
            str(cand),
            "--baseline",
            str(base),
            "--junit",
            str(tmp_path / "gate.xml"),
        ],
        env={"GITHUB_STEP_SUMMARY": str(step)},
    )
    assert code == 0, out
    assert out.splitlines()[-1] == "gate PASSED: 2 checks, 0 failing"
    root = ET.parse(tmp_path / "gate.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["accuracy min >= 0.4", "accuracy regression <= 0 vs baseline"]
    assert not list(suite.iter("failure"))
    summary = step.read_text(encoding="utf-8")
    assert summary.startswith("# earlier step\n") and "## harness gate: PASSED" in summary
    assert "non-inferior" in summary and "paired" in summary


def test_cli_significant_drop_fails_with_junit_failure(tmp_path: Path) -> None:
    # Same items; candidate loses 15 items the base got right.
    _runs(tmp_path, [0.0] * 15 + [1.0] * 45 + [0.0] * 40)
    policy = _write(tmp_path, POLICY)
    code, out = _cli(
        [
            "gate",
            "--policy",
            str(policy),
            "--candidate",
            str(tmp_path / "runs"),
            "--junit",
            str(tmp_path / "out" / "gate.xml"),
            "--summary",
            str(tmp_path / "gate.md"),
        ]
    )
    assert code == 1, out
    assert "FAIL          gsm8k: accuracy regression <= 0 vs baseline: delta -0.1500" in out
    suite = ET.parse(tmp_path / "out" / "gate.xml").getroot().find("testsuite")
    # 0.45 [0.37, 0.53] also straddles min 0.40: inconclusive, which fails by default.
    assert suite is not None and suite.get("failures") == "2" and suite.get("tests") == "2"
    types = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    inconclusive, fail = types["accuracy min >= 0.4"], types["accuracy regression <= 0 vs baseline"]
    assert inconclusive is not None and inconclusive.get("type") == "inconclusive"
    assert fail is not None and fail.get("type") == "fail" and "worse = 15" in (fail.text or "")
    assert "❌ fail" in (tmp_path / "gate.md").read_text(encoding="utf-8")


def test_cli_unpaired_runs_are_labelled(tmp_path: Path) -> None:
    ids = [f"other-{i}" for i in range(100)]
    base, cand = _runs(tmp_path, [1.0] * 61 + [0.0] * 39, ids=ids, group_id="g2")
    policy = _write(
        tmp_path, "checks:\n  - task: gsm8k\n    metric: accuracy\n    max_regression: 0.05\n"
    )
    code, out = _cli(
        ["gate", "--policy", str(policy), "--candidate", str(cand), "--baseline", str(base)]
    )
    # n=100 unpaired cannot detect a 5-point drop with 80% power: underpowered, not a pass.
    assert code == 1, out
    assert "z p(worse) = " in out and "unpaired (item ids differ (100 only in baseline" in out
    assert out.startswith("UNDERPOWERED") and "evaluate about 1194 items" in out


def test_cli_inconclusive_follows_policy(tmp_path: Path) -> None:
    _base, cand = _runs(tmp_path, [1.0] * 58 + [0.0] * 42)
    text = "checks:\n  - task: gsm8k\n    metric: accuracy\n    min: 0.6\n"
    code, out = _cli(["gate", "--policy", str(_write(tmp_path, text)), "--candidate", str(cand)])
    assert code == 1 and out.startswith("INCONCLUSIVE  gsm8k: accuracy min >= 0.6"), out
    lenient = _write(tmp_path, "on_inconclusive: pass\n" + text, "lenient.yaml")
    code, out = _cli(["gate", "--policy", str(lenient), "--candidate", str(cand)])
    assert code == 0 and "gate PASSED: 1 checks, 0 failing" in out, out


@pytest.mark.parametrize(
    "case", ["bad-policy", "missing-run", "missing-metric", "no-baseline", "no-args", "partial-run"]
)
def test_cli_usage_and_data_errors_exit_2(tmp_path: Path, case: str) -> None:
    base, cand = _runs(tmp_path, [1.0] * 60 + [0.0] * 40)
    policy = _write(tmp_path, POLICY)
    args = ["gate", "--policy", str(policy), "--candidate", str(cand), "--baseline", str(base)]
    expected = {
        "bad-policy": f"error: {tmp_path / 'bad.yaml'}: 1 error(s): checks: Field required",
        "missing-run": "error: " + str(tmp_path / "nope") + ": no such run folder",
        "missing-metric": "no per-item values of metric 'f1' and no corpus statistic of that name "
        "(per-item metrics: accuracy)",
        "no-baseline": "error: no baseline run of task 'gsm8k' with metric 'accuracy'",
        "no-args": "Missing option '--policy'",
        "partial-run": "cand-run: run is partial; run it to completion",
    }[case]
    if case == "bad-policy":
        args[2] = str(_write(tmp_path, "alpha: 0.1\n", "bad.yaml"))
    elif case == "missing-run":
        args[4] = str(tmp_path / "nope")
    elif case == "missing-metric":
        args[2] = str(_write(tmp_path, POLICY.replace("accuracy", "f1"), "f1.yaml"))
    elif case == "no-baseline":
        args = args[:5]
        (tmp_path / "runs" / "base-run" / "run.json").unlink()
    elif case == "partial-run":
        make_run(
            tmp_path / "runs",
            "cand-run",
            [1.0] * 60 + [0.0] * 40,
            adapter="viggo-lora",
            status="partial",
        )
    else:
        args = ["gate"]
    code, out = _cli(args)
    assert code == 2 and expected in out, out


def test_report_option_writes_report(tmp_path: Path) -> None:
    base, cand = _runs(tmp_path, [1.0] * 62 + [0.0] * 38)
    code, out = _cli(
        [
            "gate",
            "--policy",
            str(_write(tmp_path, POLICY)),
            "--candidate",
            str(cand),
            "--baseline",
            str(base),
            "--report",
            str(tmp_path / "rep"),
        ]
    )
    assert code == 0, out
    data = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert [c["pairing"] for c in data["comparisons"]] == ["paired"]


def test_baseline_order_explicit_then_paired_then_policy_folder(tmp_path: Path) -> None:
    values = [1.0] * 60 + [0.0] * 40
    make_run(
        tmp_path / "runs" / "baselines",
        "release-1",
        values,
        group_id="old",
        created_at="2026-10-01T00:00:00+00:00",
    )
    make_run(
        tmp_path / "runs" / "baselines",
        "release-2",
        values,
        group_id="older",
        created_at="2026-11-01T00:00:00+00:00",
    )
    cand = make_run(
        tmp_path / "new", "cand", [1.0] * 64 + [0.0] * 36, adapter="lora", group_id="now"
    )
    policy = _write(
        tmp_path, "checks:\n  - task: gsm8k\n    metric: accuracy\n    max_regression: 0\n"
    )

    # No paired base run: the latest run of the task under runs/baselines, paired by id.
    code, out = _cli(["gate", "--policy", str(policy), "--candidate", str(cand)])
    assert code == 0, out
    assert (
        "paired by item id, detectable Δ (one-sided α=0.05, 80% power) 0.05365): "
        "not significantly worse" in out
    )
    assert "[baseline run release-2]" in out
    # With a base run from the same engine invocation, that one wins.
    make_run(tmp_path / "new", "paired-base", [1.0] * 60 + [0.0] * 40, group_id="now")
    code, out = _cli(["gate", "--policy", str(policy), "--candidate", str(tmp_path / "new")])
    assert code == 0, out
    assert (
        "4 wrong->right, paired, detectable Δ (one-sided α=0.05, 80% power) 0.05365): "
        "not significantly worse" in out
    )
    assert "[baseline run paired-base]" in out
    # An explicit --baseline overrides both.
    code, out = _cli(
        [
            "gate",
            "--policy",
            str(policy),
            "--candidate",
            str(tmp_path / "new"),
            "--baseline",
            str(tmp_path / "runs" / "baselines" / "release-1"),
        ]
    )
    assert code == 0, out
    assert (
        "paired by item id, detectable Δ (one-sided α=0.05, 80% power) 0.05365): "
        "not significantly worse" in out
    )
    assert "[baseline run release-1]" in out


@pytest.mark.slow
def test_gate_runs_base_and_adapter_in_one_engine(tmp_path: Path) -> None:
    """The real runner on the bundled model: base + a LoRA adapter on 2 GSM8K items."""
    from _lora import make_lora

    from harness._models import resolve_model

    data = Path("/work/shared/datasets")
    if not (data / "gsm8k").is_dir():
        pytest.skip("needs the gsm8k dataset folder (HARNESS_DATA_DIR)")
    lora = make_lora(resolve_model(None).path, tmp_path / "cand-lora", scale=0.02)
    policy = _write(
        tmp_path,
        # 2 items cannot detect a 0.5 drop with 80% power: this test is about the engine path.
        "checks:\n  - task: gsm8k\n    metric: flexible_match\n"
        "    min: 0.0\n    max_regression: 0.5\n    require_power: false\n"
        "    params: {num_fewshot: 0}\n",
    )
    code, out = _cli(
        [
            "gate",
            "--policy",
            str(policy),
            "--eval-adapter",
            str(lora),
            "--limit",
            "2",
            "--max-new-tokens",
            "24",
            "--data-dir",
            str(data),
            "--output-dir",
            str(tmp_path / "runs"),
            "--junit",
            "gate.xml",
            "--report",
            str(tmp_path / "report"),
        ],
        env={
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HARNESS_CACHE": str(tmp_path / "cache.sqlite"),
        },
    )
    assert code == 0, out
    runs = sorted((tmp_path / "runs").glob("*/run.json"))
    records = [json.loads(p.read_text(encoding="utf-8")) for p in runs]
    assert len(records) == 2 and records[0]["group_id"] == records[1]["group_id"]
    assert sorted(bool(r["model"]["adapter"]) for r in records) == [False, True]
    assert ", paired, detectable Δ " in out and "gate PASSED: 2 checks, 0 failing" in out
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2"
    rep = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert {c["pairing"] for c in rep["comparisons"]} == {"paired"}
    assert {c["metric"] for c in rep["comparisons"]} >= {"flexible_match", "strict_match"}


def test_several_adapters_need_a_name(tmp_path: Path) -> None:
    _base, _ = _runs(tmp_path, [1.0] * 62 + [0.0] * 38)
    make_run(tmp_path / "runs", "cand-2", [0.0] * 20 + [1.0] * 40 + [0.0] * 40, adapter="bad-lora")
    policy = _write(tmp_path, POLICY)
    args = ["gate", "--policy", str(policy), "--candidate", str(tmp_path / "runs")]
    code, out = _cli(args)
    assert (
        code == 2
        and (
            "2 candidate runs of task 'gsm8k': SmolLM2-135M-Instruct + bad-lora "
            "(cand-2), SmolLM2-135M-Instruct + viggo-lora (cand-run)"
        )
        in out
    ), out
    code, out = _cli([*args, "--adapter", "viggo-lora"])
    assert code == 0, out
    code, out = _cli([*args, "--adapter", "bad-lora"])
    assert code == 1 and "20 right->wrong / 0 wrong->right, paired, detectable" in out, out


def test_a_metric_name_with_two_numbers_is_refused(tmp_path: Path) -> None:
    """Per-item values whose mean is not the run.json value under the same name (an old run's
    per-item sentence BLEU beside corpus BLEU, with no corpus statistic to recompute)."""
    cand = make_run(tmp_path / "runs", "old", [10.0, 20.0, 30.0], metric="bleu", scorer="x")
    record = json.loads((cand / "run.json").read_text(encoding="utf-8"))
    record["metrics"]["bleu"]["value"] = 14.0
    (cand / "run.json").write_text(json.dumps(record), encoding="utf-8")
    policy = _write(tmp_path, "checks:\n  - {task: gsm8k, metric: bleu, min: 5}\n")
    code, out = _cli(["gate", "--policy", str(policy), "--candidate", str(cand)])
    assert code == 2, out
    assert "per-item 'bleu' values average 20 but run.json records bleu = 14" in out
    assert "harness rescore" in out


def _bench() -> object:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "gate_calibration.py"
    spec = importlib.util.spec_from_file_location("gate_calibration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_calibration_covers_a_corpus_metric() -> None:
    """The paired corpus bootstrap (corpus precision, n=500): identical systems rarely fail,
    a 5-point drop is caught (bench/gate_calibration.py runs more trials)."""
    bench: Any = _bench()
    assert bench.corpus_rates(500, 0.0, trials=60, seed=4) <= 0.1
    assert bench.corpus_rates(500, 0.05, trials=20, seed=5) >= 0.8


@pytest.mark.slow
def test_calibration_covers_a_clustered_task() -> None:
    bench: Any = _bench()
    gate, _ = bench.clustered_rates(500, 0.0, trials=60, seed=11)
    assert gate <= 0.1
