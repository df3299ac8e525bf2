"""`harness run` end to end through the real entry point, on the bundled model and real data."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness._device import resolve_device, resolve_dtype
from harness.cli import cli
from harness.record import read_run, read_samples


def _run(args: list[str]) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.slow
def test_run_gsm8k_writes_complete_record_and_reruns_from_cache(
    tmp_path: Path, data_dir: Path
) -> None:
    runs, cache = tmp_path / "runs", tmp_path / "cache.sqlite"
    args = [
        "run",
        "--task",
        "gsm8k",
        "--limit",
        "3",
        "-o",
        str(runs),
        "--cache",
        str(cache),
        "--data-dir",
        str(data_dir),
        "--json",
    ]
    code, out, err = _run(args)
    assert code == 0, err
    summary = json.loads(out)
    assert len(summary) == 1 and summary[0]["counts"]["model_calls"] == 3
    folder = Path(summary[0]["folder"])
    record = read_run(folder)
    assert record.schema_version == 1
    assert record.task.name == "gsm8k" and record.task.params == {"num_fewshot": 5}
    assert len(record.task.prompt_sha256) == 64
    assert record.dataset.source == "local" and record.dataset.n_evaluated == 3
    assert set(record.dataset.files) == {"test.jsonl", "train.jsonl"}
    assert record.model.id == "smollm2-135m" and len(record.model.weight_sha256 or "") == 64
    assert record.model.backend == "hf"
    # What harness resolves here (float32 on CPU; bf16/fp16 on a GPU), never "auto".
    assert record.model.device == resolve_device("auto")
    assert record.model.dtype == resolve_dtype("auto", record.model.device)
    assert record.model.weights_hash_s is not None  # the time spent identifying the weights
    assert record.model.chat_template is True
    assert record.generation.max_new_tokens == 256 and record.generation.temperature == 0.0
    assert {"strict_match", "strict_no_match", "flexible_match", "flexible_no_match"} <= set(
        record.metrics
    )
    m = record.metrics["flexible_match"]
    assert m.n == 3 and m.ci_low is not None and m.ci_low <= (m.value or 0) <= (m.ci_high or 1)
    assert record.timing.tokens_out > 0 and record.timing.tokens_per_s
    assert record.host.python and record.harness.version
    samples = read_samples(folder)
    assert [s.id for s in samples] == ["test-0", "test-1", "test-2"]
    assert all(s.outputs and s.outputs[0] for s in samples)
    assert samples[0].target == "18" and "<|im_start|>" in samples[0].prompt
    assert set(samples[0].scores) == {"strict", "flexible"}

    # The same command again: every answer from the cache, identical outputs.
    code, out, err = _run(args)
    assert code == 0, err
    again = json.loads(out)[0]
    assert again["counts"]["model_calls"] == 0 and again["counts"]["cache_hits"] == 3
    assert [s.outputs for s in read_samples(Path(again["folder"]))] == [s.outputs for s in samples]


@pytest.mark.slow
def test_killed_run_resumes_without_loss_or_duplication(tmp_path: Path, data_dir: Path) -> None:
    runs, cache = tmp_path / "runs", tmp_path / "cache.sqlite"
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--task",
        "gsm8k",
        "--limit",
        "6",
        "--num-fewshot",
        "0",
        "--batch-size",
        "1",
        "--max-new-tokens",
        "24",
        "-o",
        str(runs),
        "--cache",
        str(cache),
        "--data-dir",
        str(data_dir),
        "--json",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    cached = 0
    while time.time() < deadline and proc.poll() is None:
        if cache.exists():
            try:
                with sqlite3.connect(cache) as db:
                    cached = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            except sqlite3.OperationalError:
                cached = 0
        if cached >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not runs.exists() or not any(runs.iterdir()), "a killed run must not leave a record"

    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)[0]
    assert summary["counts"]["cache_hits"] >= 2
    assert summary["counts"]["cache_hits"] + summary["counts"]["model_calls"] == 6
    samples = read_samples(Path(summary["folder"]))
    assert sorted(s.id for s in samples) == [f"test-{i}" for i in range(6)]
    assert all(s.outputs for s in samples)


def test_unknown_task_exits_2_with_hint() -> None:
    code, _, err = _run(["run", "--task", "gsm8kk"])
    assert code == 2
    assert err.strip() == (
        "error: unknown task 'gsm8kk'. Did you mean 'gsm8k'? Run `harness tasks` to list them."
    )


def test_missing_data_dir_exits_2(tmp_path: Path) -> None:
    code, _, err = _run(["run", "--task", "gsm8k", "--data-dir", str(tmp_path / "nope")])
    assert code == 2
    assert (
        err.startswith("error: data dir")
        and "--data-dir" in err
        and len(err.strip().splitlines()) == 1
    )


def test_bad_model_path_exits_2(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _run(
        ["run", "--task", "gsm8k", "--model", str(tmp_path / "empty"), "--data-dir", str(data_dir)]
    )
    assert code == 2
    assert "is not a model folder" in err and len(err.strip().splitlines()) == 1


def test_tasks_lists_gsm8k() -> None:
    code, out, _ = _run(["tasks"])
    assert code == 0
    assert any(line.startswith("gsm8k ") and "GSM8K" in line for line in out.splitlines())


def test_help_is_fast() -> None:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "run" in res.stdout
    # Heavy libraries must not load for --help.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import harness.cli, sys; "
                "print(any(m in sys.modules for m in ('torch','transformers','vllm')))"
            ),
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "False"
    assert time.perf_counter() - t0 < 10
