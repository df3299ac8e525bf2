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
