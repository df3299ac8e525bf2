"""Warm servers: a live recorded server of the judge model is reused by ``--judge local``
(no new server started), a dead keeper's state file is dropped, ``serve status|stop`` read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import resolve_model, serve
from harness.cli import cli
from harness.serve import find_warm, warm_servers
from judges.client import resolve_endpoint
from judges.config import JudgeConfig
from tests.judges._stub_judge import stub_judge


def _record(name: str, pid: int, url: str, model: str, max_len: int = 4096) -> Path:
    serve.servers_dir().mkdir(parents=True, exist_ok=True)
    path = serve.servers_dir() / f"{name}.json"
    state = {"name": name, "pid": pid, "base_url": url, "model": model}
    state |= {"max_model_len": max_len, "idle_timeout": 60.0, "started": time.time()}
    path.write_text(json.dumps(state))
    return path


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the state files move: the bundled model's converted folder and weight-hash memo stay
    # where every test finds them (resolving it afresh takes minutes).
    import harness.serve

    monkeypatch.setattr(harness.serve, "servers_dir", lambda: tmp_path / "servers")


def test_local_judge_reuses_a_matching_warm_server(tmp_path: Path) -> None:
    model = str(resolve_model(None).path)

    with stub_judge(lambda m: '{"reason": "ok", "score": 7}', model="judge-x") as (url, _seen):
        _record("judge-x", os.getpid(), url, model)
        assert find_warm(model, 8192) is None  # too short a context: not a match
        assert find_warm("/elsewhere", 4096) is None
        ep = resolve_endpoint(JudgeConfig(local=True))
        assert ep.base_url == url and ep.identity["warm_server"] == url
        res = CliRunner().invoke(cli, ["serve", "status"])
        assert res.exit_code == 0 and f"judge-x  {url}  pid {os.getpid()}" in res.output


def test_dead_keepers_are_forgotten() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    path = _record("gone", proc.pid, "http://127.0.0.1:9/v1", "/m")
    assert warm_servers() == [] and not path.exists()
    res = CliRunner().invoke(cli, ["serve", "stop", "nope"])
    assert res.exit_code == 2 and "no warm server named 'nope' (running: none)" in res.output


def test_stop_ends_the_keeper(tmp_path: Path) -> None:
    # A keeper that is not this process's child (as a real one is not), so it is reaped.
    out = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True
    )
    pid = int(out.stdout)
    try:
        path = _record("judge-y", pid, "http://127.0.0.1:9/v1", "/m")
        res = CliRunner().invoke(cli, ["serve", "stop"])
        assert res.exit_code == 0 and "stopped judge-y" in res.output
        assert not path.exists() and not serve._alive(pid)
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def _backend_warm(url: str, name: str, cfg_kw: dict, adapters: dict | None = None) -> Path:
    """A state file for a warm model server launched with ``ServerConfig(**cfg_kw)``."""
    from harness.backends.vllm_server import ServerConfig

    cfg = ServerConfig(served_name=name, **cfg_kw)
    path = _record(name, os.getpid(), url, cfg.model, cfg.max_model_len)
    state = json.loads(path.read_text())
    state |= {"signature": serve.server_signature(cfg), "adapters": adapters or {}}
    path.write_text(json.dumps(state))
    return path


def test_vllm_server_backend_reuses_a_matching_warm_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import GenerationParams, Prompt
    from harness.backends.openai import VLLMServerBackend
    from harness.backends.vllm_server import VLLMServer

    def no_launch(self: VLLMServer) -> VLLMServer:
        raise AssertionError(f"launched a fresh server for {self.config.model}")

    monkeypatch.setattr(VLLMServer, "start", no_launch)
    model = str(resolve_model(None).path)
    with stub_judge(lambda m: "forty-two", model="judge-m") as (url, seen):
        _backend_warm(
            "http://127.0.0.1:9/v1", "judge-short", {"model": model, "max_model_len": 1024}
        )
        _backend_warm(url, "judge-m", {"model": model, "max_model_len": 2048})
        backend = VLLMServerBackend(model=None, max_model_len=2048)
        backend.prepare([])
        assert (backend.base_url, backend.served_name, backend.server) == (url, "judge-m", None)
        assert backend.model_info().extra["warm_server"] == url
        params = GenerationParams(max_new_tokens=8, temperature=0.0)
        out = dict(backend.generate([backend.render(Prompt.plain("6 x 7?"))], params))
        backend.close()  # not ours: the warm server stays up
        assert out[0].text == "forty-two" and seen[-1]["model"] == "judge-m"
        assert [s.name for s in warm_servers()] == ["judge-m", "judge-short"]

        other = VLLMServerBackend(model=None, max_model_len=4096)  # another context length
        with pytest.raises(AssertionError, match="launched a fresh server"):
            other.prepare([])
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "harness: warm server judge-m not used: it has max_model_len 2048 (this run: 4096)",
        "harness: warm server judge-short not used: it has max_model_len 1024 (this run: 4096)",
    ]


def test_warm_server_must_serve_every_adapter_with_the_same_weights(tmp_path: Path) -> None:
    from harness.backends import AdapterSpec
    from harness.backends.vllm_server import ServerConfig

    model = str(resolve_model(None).path)
    lora = AdapterSpec("tone", tmp_path / "tone", "ab" * 32)
    with stub_judge(lambda m: "x", model="judge-a") as (url, _):
        _backend_warm(url, "judge-a", {"model": model}, {"tone": [str(lora.path), lora.sha256]})
        assert serve.find_serving(ServerConfig(model, "n", (lora,))) is not None
        assert serve.find_serving(ServerConfig(model, "n")) is not None  # base only: fine
        retrained = AdapterSpec("tone", lora.path, "cd" * 32)
        assert serve.find_serving(ServerConfig(model, "n", (retrained,))) is None
        other = AdapterSpec("style", tmp_path / "style", "ab" * 32)
        assert serve.find_serving(ServerConfig(model, "n", (lora, other))) is None
        assert serve.find_serving(ServerConfig(model, "n", dtype="float16")) is None


def test_second_vllm_server_run_uses_the_warm_server_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.backends.vllm_server import VLLMServer
    from harness.record import read_run

    monkeypatch.setattr(VLLMServer, "start", lambda self: pytest.fail("launched a server"))
    (tmp_path / "qa.jsonl").write_text('{"q": "6 x 7?", "a": "42"}\n{"q": "5 + 5?", "a": "10"}\n')
    task = tmp_path / "qa.yaml"
    task.write_text(
        f"name: qa\ndataset: {{path: {tmp_path / 'qa.jsonl'}, target: a}}\n"
        "prompt: {template: '{q}'}\nmetrics: [exact_match]\n"
    )
    model = str(resolve_model(None).path)
    with stub_judge(lambda m: "42", model="judge-m") as (url, seen):
        # As `harness serve start` records it; the run's context length and scheduling flags
        # are engine settings, and only answer-changing ones must match (stop 21: they never did).
        _backend_warm(url, "judge-m", {"model": model, "max_model_len": 4096})
        args = ["run", "--task", str(task), "--backend", "vllm-server", "-o", str(tmp_path / "r")]
        scale = ["--max-model-len", "4096", "--max-num-seqs", "8"]
        res = CliRunner().invoke(cli, [*args, *scale, "--no-cache"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "r").iterdir()
    record = read_run(folder)
    assert record.model.engine["warm_server"] == url and len(seen) == 2
    assert record.metrics["exact_match"].value == 0.5
