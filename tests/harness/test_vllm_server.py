"""The server launcher's lifecycle, with a small stand-in server process (no model, seconds).

The stand-in answers ``/health`` and ``/v1/models`` like vLLM and starts a child process of its
own, as vLLM's engine does, so the tests can check that no process of the group survives
``close``, SIGTERM to harness, or SIGKILL of harness.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness._errors import BackendError
from harness.backends import vllm_server
from harness.backends.vllm_server import ServerConfig, VLLMServer

pytestmark = pytest.mark.slow  # every test starts a (stand-in) server process

FAKE_SERVER = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    port, delay, names, pidfile = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    if delay < 0:
        print("fatal: model not found", flush=True); sys.exit(3)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(pidfile, "w").write(f"{child.pid}")
    start = time.time()
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            if time.time() - start < delay:
                self.send_response(503); self.end_headers(); return
            body = b"{}"
            if self.path == "/v1/models":
                body = json.dumps({"data": [{"id": n} for n in names.split(",")]}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
    print("serving", flush=True)
    HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Makes VLLMServer launch the stand-in; returns its knobs."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    knobs: dict[str, object] = {"delay": 1.0, "names": "base", "pidfile": tmp_path / "child.pid"}

    def command(cfg: ServerConfig, port: int) -> list[str]:
        args = [str(port), str(knobs["delay"]), str(knobs["names"]), str(knobs["pidfile"])]
        return [sys.executable, str(script), *args]

    monkeypatch.setattr(vllm_server, "server_command", command)
    return knobs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # zombies are dead


def _wait_dead(pids: list[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_waits_for_health_then_stops_whole_group(
    fake: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run" / "server.log"
    with VLLMServer(ServerConfig("m", "base", log_path=log)) as server:
        assert server.running and server.base_url.startswith("http://127.0.0.1:")
        assert server.startup_s is not None and server.startup_s >= 0.9  # waited out the 503s
        pid = server.proc.pid if server.proc else -1
        child = int(Path(str(fake["pidfile"])).read_text())
        assert _alive(pid) and _alive(child)
    assert _wait_dead([pid, child])
    assert "serving" in log.read_text() and log.read_text().startswith("$ ")
    err = capsys.readouterr().err
    assert f"log: {log}" in err and "vLLM server ready in" in err


def test_missing_served_name_is_an_error(fake: dict[str, object], tmp_path: Path) -> None:
    fake["delay"] = 0.0
    cfg = ServerConfig("m", "base", log_path=tmp_path / "s.log", adapters=())
    server = VLLMServer(ServerConfig(cfg.model, "other", log_path=cfg.log_path), progress=False)
    with pytest.raises(BackendError, match=r"serves \['base'\], missing \['other'\]"):
        server.start()
    assert not server.running


def test_early_exit_reports_the_log_tail(fake: dict[str, object], tmp_path: Path) -> None:
    fake["delay"] = -1.0
    server = VLLMServer(ServerConfig("m", "base", log_path=tmp_path / "s.log"), progress=False)
    with pytest.raises(BackendError, match=r"exited with code 3 .*fatal: model not found"):
        server.start()


def test_startup_timeout(fake: dict[str, object], tmp_path: Path) -> None:
    fake["delay"] = 60.0
    cfg = ServerConfig("m", "base", log_path=tmp_path / "s.log", startup_timeout=2)
    server = VLLMServer(cfg, progress=False)
    with pytest.raises(BackendError, match="not ready after 2 s"):
        server.start()
    child = int(Path(str(fake["pidfile"])).read_text())
    assert _wait_dead([child])


HARNESS_PROCESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from harness.backends import vllm_server
    from harness.backends.vllm_server import ServerConfig, VLLMServer
    script, pidfile = sys.argv[1], sys.argv[2]
    vllm_server.server_command = lambda cfg, port: [sys.executable, script, str(port), "0", "m",
                                                    pidfile]
    server = VLLMServer(ServerConfig("m", "m", log_path=Path(pidfile + ".log")), progress=False)
    server.start()
    print(server.proc.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_orphans_when_harness_is_killed(sig: int, tmp_path: Path) -> None:
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    pidfile = tmp_path / "child.pid"
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS_PROCESS, str(script), str(pidfile)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        server_pid = int(proc.stdout.readline())
        assert _alive(server_pid)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        # SIGTERM: harness stops the group itself; SIGKILL: the server gets PR_SET_PDEATHSIG.
        assert _wait_dead([server_pid])
        if sig == signal.SIGTERM:
            assert proc.returncode == 128 + signal.SIGTERM
            assert _wait_dead([int(pidfile.read_text())])
    finally:
        proc.kill()
        if pidfile.exists():  # the stand-in's own child outlives a SIGKILLed stand-in
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
