"""``--log-to`` and ``gate --summary-format github`` through the real entry point.

The MLflow tests start a real ``mlflow server`` on 127.0.0.1 and read what was logged back
with ``MlflowClient``; the W&B tests run W&B in offline mode and decode its local run files
(``_wandb_offline``). No stand-in for either tracker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli_helpers import invoke

sys.path.insert(0, str(Path(__file__).parents[1] / "harness"))
from _wandb_offline import offline_runs

POLICY = """\
version: 1
alpha: 0.05
checks:
  - task: gsm8k
    metric: flexible_match
    min: 0.1
    max_regression: 0.0
  - task: gsm8k
    metric: flexible_no_match
    max: 0.01
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def runs(tmp_path: Path, run_args: list[str], adapter: Path) -> Path:
    assert invoke([*run_args, "--adapter", str(adapter), "--base", "--json"]).exit_code == 0
    return tmp_path / "runs"


def test_a_bad_log_to_is_one_line_and_exit_2_before_any_run(
    tmp_path: Path, run_args: list[str]
) -> None:
    result = invoke([*run_args, "--log-to", "tensorboard:/tmp/x"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --log-to 'tensorboard:/tmp/x': expected mlflow[:TRACKING_URI] or wandb[:PROJECT]"
    ]
    assert not (tmp_path / "runs").exists()


def test_a_tracker_that_is_down_is_one_line_and_changes_nothing(
    tmp_path: Path, run_args: list[str], adapter: Path
) -> None:
    dead = f"mlflow:http://127.0.0.1:{_free_port()}"
    args = [*run_args, "--adapter", str(adapter), "--base", "--json"]
    logged = invoke([*args, "--log-to", dead])
    assert logged.exit_code == 0
    lines = logged.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: --log-to {dead}: not logged (")
    assert lines[0].endswith("the evaluation and its run folders are unaffected")
    shown = json.loads(logged.stdout)  # stdout is still the JSON summary alone
    assert [s["metrics"]["strict_match"]["value"] for s in shown] == pytest.approx([1 / 3, 2 / 3])
    assert len(list((tmp_path / "runs").glob("*/run.json"))) == 2


def test_the_github_summary_of_a_failing_gate_names_the_failing_check_first(
    tmp_path: Path, runs: Path
) -> None:
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    summary = tmp_path / "summary.md"
    result = invoke(
        ["gate", "--policy", str(policy), "--candidate", str(runs), "--adapter", "tuned",
         "--summary", str(summary), "--summary-format", "github"]
    )  # fmt: skip
    assert result.exit_code == 1
    text = summary.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "## harness gate: ❌ FAILED"
    assert lines[4].startswith("First failing check: **gsm8k: flexible_no_match max <= 0.01**")
    rows = [x for x in lines if x.startswith("| ") and "---" not in x]
    assert rows[0].startswith("| check | base | candidate | Δ [interval] | detectable Δ |")
    assert rows[1].startswith("| flexible_no_match max <= 0.01 | – | 0.3333 |")
    assert rows[1].endswith("| ❌ fail |")
    regression = next(r for r in rows if "regression" in r)
    assert "| 0.3333 | 0.6667 | +0.3333 [" in regression and regression.endswith("✅ pass |")
    assert len(text) < 65_536


def test_the_github_summary_stays_under_the_comment_limit() -> None:
    from types import SimpleNamespace

    from harness.gate import to_github_markdown
    from harness.gate._checks import CheckResult

    checks = [
        CheckResult(f"task{i}", "acc", "min", "fail", "x" * 400, {"bound": 0.5, "value": 0.1})
        for i in range(400)
    ]
    result = SimpleNamespace(
        policy=SimpleNamespace(on_inconclusive="fail"), results=checks, failed=checks, skipped=[]
    )
    text = to_github_markdown(result)
    assert len(text) < 65_536
    assert text.rstrip().endswith("see the JUnit file._")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server on 127.0.0.1 (SQLite store, served artifacts)."""
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = open(root / "server.log", "w")  # noqa: SIM115 -- the server writes it until teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=log, env=env,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(uri + "/health", timeout=30).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail((root / "server.log").read_text()[-2000:])
            time.sleep(0.5)
    else:
        pytest.fail("mlflow server did not start in 240 s")
    yield uri
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_a_base_and_adapter_run_is_two_mlflow_runs_under_one_parent(
    tmp_path: Path,
    run_args: list[str],
    adapter: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"t-{tmp_path.name}")
    args = [*run_args, "--adapter", str(adapter), "--base", "--json"]
    result = invoke([*args, "--log-to", f"mlflow:{mlflow_server}"])
    assert result.exit_code == 0, result.stderr
    assert f"logged to mlflow:{mlflow_server}: 3 tracker run(s)" in result.stderr
    json.loads(result.stdout)  # MLflow's "View run" links went to stderr, not into the JSON
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(f"t-{tmp_path.name}")
    found = client.search_runs([exp.experiment_id])
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    for child in children:
        folder = tmp_path / "runs" / child.data.tags["harness.run_id"]
        record = json.loads((folder / "run.json").read_text())
        for name, m in record["metrics"].items():
            assert child.data.metrics[name] == pytest.approx(m["value"])
            assert child.data.metrics[f"{name}/ci_low"] == pytest.approx(m["ci_low"])
            assert child.data.metrics[f"{name}/ci_high"] == pytest.approx(m["ci_high"])
            assert child.data.metrics[f"{name}/n"] == m["n"]
        assert child.data.metrics["usage/model_tokens_in"] == record["usage"]["model_tokens_in"]
        assert child.data.params["fingerprint"] == record["fingerprint"]["digest"]
        assert child.data.params["model_weight_sha256"] == record["model"]["weight_sha256"]
        arts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"run.json", "samples.jsonl"} <= arts
        assert child.info.status == "FINISHED"
    tuned = next(c for c in children if c.data.tags["harness.variant"] == "tuned")
    assert (
        tuned.data.params["adapter"] == "tuned" and len(tuned.data.params["adapter_sha256"]) == 64
    )


@pytest.mark.slow
def test_a_gate_logs_its_verdict_per_check_to_mlflow(
    tmp_path: Path, runs: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"g-{tmp_path.name}")
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    junit = tmp_path / "gate.xml"
    result = invoke(
        ["gate", "--policy", str(policy), "--candidate", str(runs), "--adapter", "tuned",
         "--junit", str(junit), "--log-to", f"mlflow:{mlflow_server}"]
    )  # fmt: skip
    assert result.exit_code == 1  # the tracker does not change the verdict
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name(f"g-{tmp_path.name}")
    (run,) = client.search_runs([exp.experiment_id])
    m = run.data.metrics
    assert m["gate/passed"] == 0 and m["gate/failing"] == 1
    assert m["check/gsm8k/flexible_no_match/max"] == 0
    assert m["check/gsm8k/flexible_match/min"] == 1
    assert m["check/gsm8k/flexible_match/regression"] == 1
    assert run.data.params["check/gsm8k/flexible_no_match/max"].startswith("fail: 0.3333")
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"gate.xml"}


@pytest.mark.slow
def test_a_base_and_adapter_run_is_one_wandb_group_offline(
    tmp_path: Path, run_args: list[str], adapter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    args = [*run_args, "--adapter", str(adapter), "--base", "--json"]
    result = invoke([*args, "--log-to", "wandb:harness-test"])
    assert result.exit_code == 0, result.stderr
    logged = offline_runs(tmp_path)
    assert len(logged) == 2
    assert len({r.group for r in logged}) == 1 and logged[0].group.startswith("g-")
    for run in logged:
        record = json.loads((tmp_path / "runs" / run.name / "run.json").read_text())
        assert run.project == "harness-test" and run.job_type == "eval" and run.exit_code == 0
        assert run.group == record["group_id"]
        for name, m in record["metrics"].items():
            assert run.summary[name] == pytest.approx(m["value"])
            assert run.summary[f"{name}/ci_low"] == pytest.approx(m["ci_low"])
            assert run.summary[f"{name}/n"] == m["n"]
        assert run.config["fingerprint"] == record["fingerprint"]["digest"]
        assert {"run.json", "samples.jsonl"} <= set(run.artifact_files)


@pytest.mark.slow
def test_a_training_logs_its_loss_curve_with_its_eval_runs(
    tmp_path: Path, runs: Path, adapter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest `harness train` writes (its loss history) on the group of its --eval."""
    from harness.tracking import log_training, parse_tracker

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    history = [
        {"step": 1, "train_loss": 2.5, "learning_rate": 1e-4},
        {"step": 2, "train_loss": 2.0, "eval_loss": 2.2},
        {"step": 3, "train_loss": 1.5},
    ]
    manifest = {
        "name": "tuned", "method": "lora", "steps": 3, "best_eval_loss": 2.2,
        "base_model": {"id": "fake", "path": "fake", "weight_sha256": "0" * 64},
        "data": {"name": "gsm8k", "files": {}, "train_examples": 12, "eval_examples": 4},
        "recipe": {"lora": {"r": 4}}, "loss_history": history,
    }  # fmt: skip
    (adapter / "adapter_manifest.json").write_text(json.dumps(manifest))
    log_training([parse_tracker("wandb:t")], adapter, sorted(runs.iterdir()))
    train, *evals = offline_runs(tmp_path)
    assert train.job_type == "train" and train.name == "train tuned"
    assert [row.get("train_loss") for row in train.history] == [2.5, 2.0, 1.5]
    assert train.summary["train/best_eval_loss"] == 2.2
    assert "adapter_manifest.json" in train.artifact_files
    assert len(evals) == 2 and {r.job_type for r in evals} == {"eval"}
