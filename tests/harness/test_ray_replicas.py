"""Evaluation on Ray: replicas answer exactly what one process answers, a killed replica loses
nothing, and no Ray process outlives the run. Local Ray on CPU (slow: Ray starts in ~5 s)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness._types import GenerationParams
from harness.cli import cli

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")


def _raylets() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "raylet"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture
def no_new_ray_process() -> Any:
    """Fails the test if a raylet it started is still running afterwards."""
    before = _raylets()
    yield
    assert not ray.is_initialized()
    assert _raylets() - before == set()


def test_a_killed_replica_loses_and_repeats_nothing(
    tmp_path: Path, no_new_ray_process: None
) -> None:
    from harness.backends.ray_replicas import RayOptions, RayReplicas

    script = tmp_path / "s.yaml"
    rules = [f"  - contains: 'q{i};'\n    text: 'a{i}'\n    delay_s: 0.05\n" for i in range(24)]
    script.write_text("answers:\n" + "".join(rules))
    replicas = RayReplicas(
        "fake", {"model": str(script)}, RayOptions(replicas=2, chunk_size=2, num_cpus=2)
    )
    got: list[tuple[int, str]] = []
    with replicas:
        replicas.prepare([])
        assert replicas.model_info().extra["ray"] == {
            "address": "local",
            "replicas": 2,
            "replica_gpus": 0.0,
        }
        stream = replicas.generate([f"q{i};" for i in range(24)], GenerationParams())
        for k, (i, gen) in enumerate(stream):
            got.append((i, gen.text))
            if k == 0:
                ray.kill(replicas.actors[0])  # mid-run: its chunk goes to the other replica
        assert len(replicas.actors) == 1
    assert sorted(got) == [(i, f"a{i}") for i in range(24)]  # each once, each right


def _run(args: list[str], data_dir: Path, out: Path) -> list[dict[str, Any]]:
    base = ["run", "-t", "gsm8k", "--limit", "4", "--max-new-tokens", "24"]
    base += ["--data-dir", str(data_dir), "-o", str(out), "--json"]
    res = CliRunner().invoke(cli, base + args, catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    (folder,) = [Path(r["folder"]) for r in json.loads(res.stdout)]
    record = json.loads((folder / "run.json").read_text())
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    return [record, *samples]


def test_two_hf_replicas_answer_like_one_process(
    tmp_path: Path, data_dir: Path, no_new_ray_process: None
) -> None:
    from harness import RequestCache

    single = _run(["--backend", "hf", "--no-cache"], data_dir, tmp_path / "one")
    cache = tmp_path / "cache.sqlite"
    ray_args = ["--backend", "hf", "--ray", "--replicas", "2", "--cache", str(cache)]
    spread = _run(ray_args, data_dir, tmp_path / "ray")
    (rec1, *samples1), (rec2, *samples2) = single, spread
    assert [(s["id"], s["prompt"], s["outputs"]) for s in samples2] == [
        (s["id"], s["prompt"], s["outputs"]) for s in samples1
    ]
    assert rec2["model"]["engine"]["ray"]["replicas"] == 2 and rec1["model"]["engine"] == {}
    assert rec2["metrics"] == rec1["metrics"] and rec2["status"] == "complete"
    assert rec2["timing"]["engine_start_s"] > 0
    assert len(RequestCache(cache)) == 4  # the driver wrote every answer to its cache
