"""Warm servers: a vLLM server that outlives one ``harness`` command, stopped when idle.

``harness serve start`` launches a small keeper process in its own session; the keeper starts
the vLLM server on 127.0.0.1 (as its child, so the server dies with it), writes a state file
under ``$HARNESS_HOME/servers/`` once the server answers, and stops it after ``idle_timeout``
seconds in which no command used it. A later ``--judge local`` run asks `find_warm` for a
server of the same model folder and context length and, finding one alive, sends its requests
there (touching the state file, which restarts the idle clock) instead of waiting a minute or
more for a fresh server. ``--backend vllm-server`` asks `find_serving` for one launched
with the same settings (`server_signature`: weights folder, dtype, device, context length,
answer-changing engine arguments) that serves every adapter the run needs (same name, folder
and weight hash), and sends the run there instead of launching its own; a warm server of the
same model that does not match gets one line on stderr saying why (`why_not_serving`).
``harness serve stop`` ends the keeper (and so the server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.backends.vllm_server import ServerConfig


@dataclass(frozen=True)
class WarmServer:
    """One warm server, as its state file records it."""

    name: str
    pid: int
    base_url: str
    model: str
    max_model_len: int
    idle_timeout: float
    started: float
    log: str = ""
    signature: dict[str, Any] | None = None
    adapters: dict[str, list[str]] | None = None

    @property
    def served_name(self) -> str:
        return self.name


def servers_dir() -> Path:
    """Where state files live."""
    from harness._cache import harness_home

    return harness_home() / "servers"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(server: WarmServer) -> bool:
    import urllib.request

    root = server.base_url.rsplit("/v1", 1)[0]
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=3) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def warm_servers() -> list[WarmServer]:
    """Every recorded server whose keeper is alive (stale state files are removed)."""
    found = []
    for path in sorted(servers_dir().glob("*.json")):
        try:
            server = WarmServer(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if _alive(server.pid):
            found.append(server)
        else:
            path.unlink(missing_ok=True)
    return found


def last_used(server: WarmServer) -> float:
    """When a command last used the server (the state file's modification time)."""
    try:
        return (servers_dir() / f"{server.name}.json").stat().st_mtime
    except OSError:
        return server.started


def find_warm(model: str, max_model_len: int) -> WarmServer | None:
    """A live warm server for ``model`` (a folder) with at least ``max_model_len``; using it
    restarts its idle clock."""
    for server in warm_servers():
        if server.model == model and server.max_model_len >= max_model_len and _healthy(server):
            (servers_dir() / f"{server.name}.json").touch()
            return server
    return None


def server_signature(cfg: ServerConfig) -> dict[str, Any]:
    """What must be equal for a warm server to stand in for a fresh one (adapters apart):
    the weights folder, the concrete dtype and device, the context length and any further
    engine arguments. Memory shares and KV-cache size change speed, not answers."""
    from harness.backends._vllm_common import default_dtype, vllm_device

    return {
        "model": str(cfg.model),
        "dtype": default_dtype(cfg.dtype, cfg.device),
        "device": vllm_device(cfg.device),
        "max_model_len": cfg.max_model_len,
        "extra_args": _answer_changing(cfg.extra_args),
    }


def _answer_changing(argv: Sequence[str]) -> list[str]:
    """``argv`` without the flags (and their values) that size or schedule the engine only."""
    from harness.backends._engine_args import ANSWER_NEUTRAL

    out: list[str] = []
    skipping = False
    for arg in argv:
        if arg.startswith("--"):
            skipping = arg[2:].replace("-", "_") in ANSWER_NEUTRAL
        if not skipping:
            out.append(arg)
    return out


def served_adapters(cfg: ServerConfig) -> dict[str, list[str]]:
    """Adapter name -> [folder, weight sha256], as a state file records them."""
    return {a.name: [str(a.path), a.sha256] for a in cfg.adapters}


def find_serving(cfg: ServerConfig) -> WarmServer | None:
    """A live warm server launched with ``cfg``'s settings that serves all of its adapters
    (same folder and weights); using it restarts its idle clock."""
    want, adapters = server_signature(cfg), served_adapters(cfg)
    for server in warm_servers():
        if not _mismatches(server, want, adapters) and _healthy(server):
            (servers_dir() / f"{server.name}.json").touch()
            return server
    return None


def why_not_serving(cfg: ServerConfig) -> list[str]:
    """For each live warm server of ``cfg``'s model, what keeps it from serving ``cfg``
    (one line each; empty when there is none or one matches)."""
    want, adapters = server_signature(cfg), served_adapters(cfg)
    lines = []
    for server in warm_servers():
        if (server.signature or {}).get("model") != want["model"]:
            continue
        diffs = _mismatches(server, want, adapters)
        if not diffs:
            return []
        lines.append(f"warm server {server.name} not used: it has " + ", ".join(diffs))
    return lines


def _mismatches(
    server: WarmServer, want: dict[str, Any], adapters: dict[str, list[str]]
) -> list[str]:
    """What differs between ``server`` and the wanted signature and adapters (empty: it
    stands in for a fresh server)."""
    have = server.signature or {}
    keys = [*want, *(k for k in have if k not in want)]
    diffs = [
        f"{k} {have.get(k)} (this run: {want.get(k)})" for k in keys if have.get(k) != want.get(k)
    ]
    served = server.adapters or {}
    return diffs + [
        f"adapter {k} not served with these weights"
        for k, v in adapters.items()
        if served.get(k) != v
    ]


def start_warm(
    model: str,
    name: str,
    idle_timeout: float,
    max_model_len: int,
    kv_cache_gib: int,
    adapters: tuple[tuple[str, str], ...] = (),
    dtype: str | None = None,
) -> WarmServer:
    """Starts a keeper for ``model`` (and LoRA adapters, as (name, folder)) and waits until
    its server answers.

    Raises:
        BackendError: The keeper died before the server was ready (its log is named).
    """
    from harness._errors import BackendError

    servers_dir().mkdir(parents=True, exist_ok=True)
    log = servers_dir() / f"{name}.log"
    spec = {"model": model, "name": name, "idle_timeout": idle_timeout}
    spec |= {"max_model_len": max_model_len, "kv_cache_gib": kv_cache_gib, "log": str(log)}
    spec |= {"adapters": list(adapters), "dtype": dtype, "home": str(servers_dir().parent)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.serve", json.dumps(spec)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    while True:
        for server in warm_servers():
            if server.pid == proc.pid:
                return server
        if proc.poll() is not None:
            raise BackendError(f"the warm server for {model} did not start; see {log}")
        time.sleep(1.0)


def stop_warm(server: WarmServer, wait: float = 30.0) -> None:
    """Ends the keeper (it stops its server and removes the state file)."""
    try:
        os.kill(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + wait
    while _alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    (servers_dir() / f"{server.name}.json").unlink(missing_ok=True)


def _keep(spec: dict[str, Any]) -> None:
    """The keeper: start the server, record it, stop it when idle or told to."""
    from harness.backends.vllm_server import ServerConfig, VLLMServer
    from harness.lora import load_adapter

    cfg = ServerConfig(
        model=spec["model"],
        served_name=spec["name"],
        adapters=tuple(load_adapter(p, n) for n, p in spec.get("adapters", [])),
        dtype=spec.get("dtype"),
        max_model_len=spec["max_model_len"],
        kv_cache_gib=spec["kv_cache_gib"],
        startup_timeout=1200.0,
    )
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    server = VLLMServer(cfg).start()
    state = servers_dir() / f"{spec['name']}.json"
    record = WarmServer(
        name=spec["name"],
        pid=os.getpid(),
        base_url=server.base_url,
        model=spec["model"],
        max_model_len=spec["max_model_len"],
        idle_timeout=spec["idle_timeout"],
        started=time.time(),
        log=str(server.log_path),
        signature=server_signature(cfg),
        adapters=served_adapters(cfg),
    )
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
    tmp.replace(state)
    try:
        while not stop and server.running:
            if time.time() - last_used(record) > record.idle_timeout:
                break
            time.sleep(2.0)
    finally:
        state.unlink(missing_ok=True)
        server.stop()


if __name__ == "__main__":
    from harness._settings import Settings, use_settings

    _spec = json.loads(sys.argv[1])
    use_settings(Settings(home=Path(_spec["home"])))  # the starter's home: its records go there
    _keep(_spec)
