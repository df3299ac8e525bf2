"""Running untrusted Python programs (model-generated code) under bubblewrap and resource limits.

Each program runs in a fresh ``python3 -I`` process inside a bubblewrap (``bwrap``) sandbox:
new user, pid, network, IPC, UTS and cgroup namespaces; uid/gid 65534 inside; on the host a
dedicated unprivileged uid per worker slot (when harness runs as root), so the process limit
really applies (the kernel ignores ``RLIMIT_NPROC`` for root) and one program's fork bomb cannot
starve the programs running beside it. The filesystem is an empty tmpfs with ``/usr``
bound read-only, a fresh ``/proc`` and minimal ``/dev``, a private writable ``/tmp`` and the
program bound read-only at ``/sandbox/main.py``. The environment is cleared, and bwrap itself
starts with only ``PATH`` so nothing secret is readable from ``/proc/1/environ`` either. Limits
are set before exec: CPU seconds, address space, file size (which also caps stdout and stderr,
captured in memory files), processes and open files. A wall-clock timeout kills the whole
process group; ``--die-with-parent`` and the pid namespace take every descendant with it, so no
background process outlives its run. Programs run in parallel, one per worker slot.

What this protects against: reading or writing host files (only ``/usr`` is visible, read-only),
network access (no interfaces but a private loopback), seeing or signalling host processes,
reading harness's environment (API keys), fork bombs, memory and disk exhaustion per process,
endless loops, and processes left behind.

What it does not protect against: kernel exploits (no seccomp filter is installed, and the
sandbox shares the host kernel), reading world-readable files under ``/usr``, side channels,
and total memory of a program that forks: each of up to ``Limits.processes`` processes may use
``Limits.memory_mb``. Run it inside a VM or container as well when the code may be adversarial
rather than merely buggy. ``Sandbox(isolate=False)`` (``--unsafe-no-sandbox``) drops bubblewrap
and keeps only the limits, the unprivileged uid, the cleared environment and the timeout.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from harness._errors import HarnessError

Status = Literal["passed", "failed", "timeout", "killed"]

# Host uids used when running as root: UID_BASE + (pid % 4096) * SLOTS_PER_PROCESS + slot, so
# concurrent harness processes (parallel CI jobs) do not share a process budget.
UID_BASE = 2_000_000_000
SLOTS_PER_PROCESS = 256
SANDBOX_UID = 65534  # the uid programs see inside the sandbox ("nobody")
PROGRAM_PATH = "/sandbox/main.py"
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
START_RETRIES = 3
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"


class SandboxError(HarnessError):
    """The sandbox cannot run here (bwrap missing, user namespaces disabled, ...)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run.

    Attributes:
        timeout: Wall-clock seconds before the whole process tree is killed.
        cpu_seconds: CPU seconds per process (SIGXCPU); None means ``ceil(timeout) + 1``.
        memory_mb: Address space per process, MiB (allocations beyond raise MemoryError).
        file_size_mb: Largest file a process may write, MiB; also caps stdout and stderr.
        processes: Processes and threads of the run's host uid (bwrap itself needs 3).
        open_files: Open file descriptors per process.
    """

    timeout: float = 10.0
    cpu_seconds: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    processes: int = 32
    open_files: int = 256

    def rlimits(self, processes: int | None = None) -> list[tuple[int, int, int]]:
        """(resource, soft, hard) limits applied to the sandbox before exec.

        The CPU hard limit is one second above the soft one, so a busy program first gets
        SIGXCPU (reported as "killed" by signal 24) rather than SIGKILL.
        """
        cpu = self.cpu_seconds if self.cpu_seconds is not None else int(self.timeout) + 2
        nproc = processes if processes is not None else self.processes
        return [
            (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_AS, self.memory_mb << 20, self.memory_mb << 20),
            (resource.RLIMIT_FSIZE, self.file_size_mb << 20, self.file_size_mb << 20),
            (resource.RLIMIT_NPROC, nproc, nproc),
            (resource.RLIMIT_NOFILE, self.open_files, self.open_files),
            (resource.RLIMIT_CORE, 0, 0),
        ]


@dataclass
class ExecResult:
    """How one program run ended.

    Attributes:
        status: "passed" (exit status 0), "failed" (non-zero exit), "timeout" (killed at the
            wall-clock limit) or "killed" (ended by a signal: CPU or file-size limit, SIGKILL).
        exit_code: The program's exit status, None if it ended by a signal or timed out.
        signal: The signal that ended it, if any.
        stdout: The last ``tail_bytes`` of its standard output.
        stderr: The last ``tail_bytes`` of its standard error.
        duration: Wall seconds, sandbox start-up included.
    """

    status: Status
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    duration: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def find_bwrap() -> str:
    """Path of the bwrap executable.

    Raises:
        SandboxError: bubblewrap is not installed.
    """
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError(f"running model-generated code needs bubblewrap: {INSTALL_HINT}, "
                           f"or pass --unsafe-no-sandbox to run it without one")
    return path


def default_python() -> str:
    """The interpreter programs run with: $HARNESS_SANDBOX_PYTHON, else the system python3."""
    explicit = os.environ.get("HARNESS_SANDBOX_PYTHON")
    if explicit:
        return explicit
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Sandbox:
    """Runs Python programs with limits, in bubblewrap unless ``isolate`` is False.

    Args:
        limits: Resource limits of every run.
        isolate: Use bubblewrap (False: only limits, uid, cleared environment, timeout).
        python: Interpreter inside the sandbox (default: `default_python`).
        workers: Programs run at once by `run_many` (default: the usable CPU cores).
        tail_bytes: How much of the end of stdout and stderr to keep.

    Raises:
        SandboxError: ``isolate`` is True and bwrap is missing or cannot start a sandbox.
    """

    def __init__(self, limits: Limits = Limits(), *, isolate: bool = True,
                 python: str | None = None, workers: int | None = None,
                 tail_bytes: int = 4096) -> None:
        self.limits = limits
        self.isolate = isolate
        self.python = python or default_python()
        self.workers = workers or len(os.sched_getaffinity(0))
        self.tail_bytes = tail_bytes
        self.bwrap = find_bwrap() if isolate else None
        self._root = os.geteuid() == 0
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.workers):
            self._slots.put(slot)
        # Not root: the process limit counts all of our uid's processes, so leave headroom.
        self._nproc = (limits.processes if self._root
                       else _own_process_count() + 4 * limits.processes * self.workers)
        if isolate:
            self._probe()

    def _probe(self) -> None:
        """Fails early, in one line, when bubblewrap cannot start a sandbox here."""
        try:
            probe = self.run("pass")
        except SandboxError as e:
            raise SandboxError(f"{e}; bubblewrap needs unprivileged user namespaces "
                               f"(sysctl kernel.unprivileged_userns_clone=1, "
                               f"user.max_user_namespaces>0)") from None
        if not probe.passed:
            raise SandboxError(f"{self.python} does not run inside the sandbox "
                               f"({probe.stderr.strip()[-200:]}); set HARNESS_SANDBOX_PYTHON "
                               f"to an interpreter under /usr")

    def uids(self) -> range:
        """The host uids this sandbox's programs run as (when harness runs as root)."""
        first = UID_BASE + (os.getpid() % 4096) * SLOTS_PER_PROCESS
        return range(first, first + self.workers)

    def run(self, program: str, stdin: str | bytes = b"") -> ExecResult:
        """Runs one program and returns how it ended; never raises for what the program does."""
        slot = self._slots.get()
        try:
            for attempt in range(START_RETRIES):
                result, started = self._run_once(program, stdin, slot)
                if started:
                    return result
                time.sleep(0.05 * (attempt + 1))  # the slot's last processes are still exiting
            raise SandboxError(f"bubblewrap failed to start {START_RETRIES} times: "
                               f"{result.stderr.strip()[-300:]}")
        finally:
            self._slots.put(slot)

    def run_many(self, programs: Sequence[str], stdins: Sequence[str | bytes] | None = None,
                 on_done: Callable[[int, ExecResult], None] | None = None) -> list[ExecResult]:
        """Runs ``programs`` in parallel across the worker slots; results in input order."""
        inputs = list(stdins) if stdins is not None else [b""] * len(programs)
        results: list[ExecResult | None] = [None] * len(programs)

        def one(i: int) -> None:
            results[i] = self.run(programs[i], inputs[i])
            if on_done is not None:
                on_done(i, results[i])  # type: ignore[arg-type]

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for f in [pool.submit(one, i) for i in range(len(programs))]:
                f.result()
        return [r for r in results if r is not None]

    def _command(self, prog_fd: int, status_fd: int) -> list[str]:
        if not self.isolate:
            return [self.python, "-I", f"/dev/fd/{prog_fd}"]
        assert self.bwrap is not None
        cmd = [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--die-with-parent", "--new-session", "--clearenv",
               "--setenv", "PATH", SAFE_PATH, "--setenv", "HOME", "/tmp",
               "--setenv", "LANG", "C.UTF-8",
               "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
               "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        prefix = _outside_usr(self.python)
        if prefix:
            cmd += ["--ro-bind", prefix, prefix]
        # The root and /dev are bwrap's own tmpfs; remount them read-only so /tmp alone is writable.
        return cmd + ["--ro-bind-data", str(prog_fd), PROGRAM_PATH,
                      "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
                      "--json-status-fd", str(status_fd), self.python, "-I", PROGRAM_PATH]

    def _run_once(self, program: str, stdin: str | bytes, slot: int) -> tuple[ExecResult, bool]:
        """One attempt; the flag says whether the program started (False: bwrap failed)."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        prog_fd, in_fd = _memfile("program", program.encode()), _memfile("stdin", data)
        out_fd, err_fd = _memfile("stdout"), _memfile("stderr")
        status_r, status_w = os.pipe()
        uid = self.uids()[slot] if self._root else None
        workdir = tempfile.mkdtemp(prefix="harness-sandbox-") if not self.isolate else None
        if workdir and uid is not None:
            os.chown(workdir, uid, uid)
        limits = self.limits.rlimits(self._nproc)
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                self._command(prog_fd, status_w), stdin=in_fd, stdout=out_fd, stderr=err_fd,
                pass_fds=(prog_fd, status_w), cwd=workdir, env={"PATH": SAFE_PATH},
                start_new_session=True, user=uid, group=uid,
                extra_groups=[] if uid is not None else None,
                preexec_fn=lambda: _apply_limits(limits))
            os.close(status_w)
            status_w = -1
            timed_out = False
            try:
                proc.wait(timeout=self.limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc.pid)  # always: nothing in the group may outlive the run
            proc.wait()
            if not self.isolate and uid is not None:
                _kill_uid(uid)  # no pid namespace here: sweep whatever escaped the group
            duration = time.perf_counter() - t0
            status_text = _read_all(status_r)
            started = not self.isolate or '"child-pid"' in status_text
            _wait_namespace_gone(status_text)
            result = self._result(proc.returncode, status_text, timed_out, out_fd, err_fd, duration)
            return result, started
        finally:
            for fd in (prog_fd, in_fd, out_fd, err_fd, status_r, status_w):
                if fd >= 0:
                    os.close(fd)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    def _result(self, returncode: int, status_text: str, timed_out: bool, out_fd: int,
                err_fd: int, duration: float) -> ExecResult:
        code = returncode
        for line in status_text.splitlines():
            if '"exit-code"' in line:
                code = int(json.loads(line)["exit-code"])
        out, err = _tail(out_fd, self.tail_bytes), _tail(err_fd, self.tail_bytes)
        if timed_out:
            return ExecResult("timeout", None, signal.SIGKILL, out, err, duration)
        # bwrap reports a program killed by signal N as exit status 128 + N.
        by_signal = self.isolate and 128 < code < 128 + 65
        sig = -code if code < 0 else (code - 128 if by_signal else None)
        if sig is not None:
            return ExecResult("killed", None, sig, out, err, duration)
        return ExecResult("passed" if code == 0 else "failed", code, None, out, err, duration)


def _apply_limits(limits: list[tuple[int, int, int]]) -> None:
    """Runs in the child between fork and exec, so it only calls setrlimit."""
    for res, soft, hard in limits:
        resource.setrlimit(res, (soft, hard))


def _memfile(name: str, data: bytes = b"") -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start."""
    fd = os.memfd_create(name)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _tail(fd: int, limit: int) -> str:
    size = os.fstat(fd).st_size
    os.lseek(fd, max(0, size - limit), os.SEEK_SET)
    return os.read(fd, limit).decode("utf-8", errors="replace")


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_uid(uid: int) -> None:
    """SIGKILLs every process of ``uid`` (a slot uid nothing else uses)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue


def _wait_namespace_gone(status_text: str, limit: float = 5.0) -> None:
    """Waits until the sandbox's pid 1 is dead: by then every process inside it is gone."""
    for line in status_text.splitlines():
        if '"child-pid"' not in line:
            continue
        pid = int(json.loads(line)["child-pid"])
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                return
            if state in (b"Z", b"X"):
                return
            time.sleep(0.005)


def _outside_usr(python: str) -> str | None:
    """The installation prefix to bind when the interpreter does not live under /usr."""
    real = os.path.realpath(python)
    if real.startswith("/usr/"):
        return None
    return os.path.dirname(os.path.dirname(real))


def _own_process_count() -> int:
    """Processes and threads of our real uid (RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count
