"""Process mechanics behind `harness.sandbox`: bwrap command lines, limits, spawning, cleanup.

`run_fresh` runs ``_server.py once`` for one program (in a new bwrap sandbox, or unsandboxed);
`Worker` keeps one bwrap sandbox running ``_server.py serve`` and hands it program after
program. Both return the reply dict of ``_server.run``: exit_code, signal, timed_out, stdout,
stderr (tails), duration, verdict (the runner's JSON text, or None).
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.sandbox._seccomp import filter_program

SANDBOX_UID = 65534  # the uid programs see inside the sandbox ("nobody")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SERVER = Path(__file__).with_name("_server.py")
SLOT = Path(__file__).with_name("_slot.py")
SCRIPT_TARGET = "/sandbox/server.py"
SLOT_TARGET = "/sandbox/slot.py"
START_TIMEOUT = 30.0  # seconds for bwrap to set a sandbox up on a very busy machine
REPLY_GRACE = 10.0  # seconds beyond the program's timeout for the server's own cleanup

Raw = dict[str, Any]


@dataclass(frozen=True)
class Spawn:
    """How to start one slot's processes.

    Attributes:
        python: Interpreter (inside the sandbox when ``bwrap`` is set).
        bwrap: The bwrap executable; None runs unsandboxed.
        uid: Host uid to drop to (None: stay who we are, when not root).
        rlimits: (resource, soft, hard) applied before exec.
        tmp_mb: Size cap of the sandbox's ``/tmp`` (a tmpfs, held in host memory), MiB.
    """

    python: str
    bwrap: str | None
    uid: int | None
    rlimits: tuple[tuple[int, int, int], ...]
    tmp_mb: int = 64


def bwrap_command(spawn: Spawn, fds: dict[str, int], args: list[str]) -> list[str]:
    """The bwrap command line running ``_server.py`` (in ``fds["script"]``) with ``args``.

    ``fds`` holds "script", "status" and optionally "seccomp" descriptors.
    """
    assert spawn.bwrap is not None
    cmd = [
        spawn.bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--as-pid-1",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        SAFE_PATH,
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(spawn.tmp_mb << 20),
        "--tmpfs",
        "/tmp",
    ]
    prefix = outside_usr(spawn.python)
    if prefix:
        cmd += ["--ro-bind", prefix, prefix]
    if "seccomp" in fds:
        cmd += ["--seccomp", str(fds["seccomp"])]
    # The root and /dev are bwrap's own tmpfs; remount them read-only so /tmp alone is writable.
    return [
        *cmd,
        "--ro-bind-data",
        str(fds["script"]),
        SCRIPT_TARGET,
        "--ro-bind-data",
        str(fds["slot"]),
        SLOT_TARGET,
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--json-status-fd",
        str(fds["status"]),
        spawn.python,
        "-I",
        SCRIPT_TARGET,
        *args,
    ]


def popen(
    cmd: list[str],
    spawn: Spawn,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    pass_fds: tuple[int, ...],
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Starts ``cmd`` in a new session, as the slot's uid, with only PATH in its environment."""
    limits = spawn.rlimits
    return subprocess.Popen(
        cmd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=pass_fds,
        cwd=cwd,
        env={"PATH": SAFE_PATH},
        start_new_session=True,
        user=spawn.uid,
        group=spawn.uid,
        extra_groups=[] if spawn.uid is not None else None,
        preexec_fn=lambda: apply_limits(limits),
    )


def apply_limits(limits: tuple[tuple[int, int, int], ...]) -> None:
    """Runs in the child between fork and exec, so it only calls setrlimit."""
    for res, soft, hard in limits:
        resource.setrlimit(res, (soft, hard))


def sandbox_fds(spawn: Spawn) -> dict[str, int]:
    """Fresh descriptors of the inside script and, where one exists, the seccomp filter."""
    fds = {
        "script": memfile("server", SERVER.read_bytes()),
        "slot": memfile("slot", SLOT.read_bytes()),
    }
    program = filter_program() if spawn.bwrap else None
    if program is not None:
        fds["seccomp"] = memfile("seccomp", program)
    return fds


def run_fresh(
    spawn: Spawn, request: dict[str, Any], spec: dict[str, Any] | None
) -> tuple[Raw | None, bool]:
    """Runs one program in a sandbox of its own; (reply or None, whether bwrap started)."""
    fds = sandbox_fds(spawn)
    fds["header"] = memfile("request", json.dumps(request).encode())
    fds["spec"] = memfile("spec", json.dumps(spec).encode()) if spec is not None else -1
    fds["result"], err_fd = memfile("result"), memfile("stderr")
    status_r, fds["status"] = os.pipe()
    workdir = None if spawn.bwrap else tempfile.mkdtemp(prefix="harness-sandbox-")
    if workdir and spawn.uid is not None:
        os.chown(workdir, spawn.uid, spawn.uid)
    slot = SLOT_TARGET if spawn.bwrap else f"/dev/fd/{fds['slot']}"
    args = ["once", slot, *(str(fds[k]) for k in ("header", "spec", "result")), workdir or "/tmp"]
    cmd = (
        bwrap_command(spawn, fds, args)
        if spawn.bwrap
        else [spawn.python, "-I", f"/dev/fd/{fds['script']}", *args]
    )
    passed = tuple(fd for fd in fds.values() if fd >= 0)
    try:
        proc = popen(cmd, spawn, subprocess.DEVNULL, err_fd, err_fd, passed, cwd=workdir)
        os.close(fds.pop("status"))
        try:
            proc.wait(timeout=float(request["timeout"]) + REPLY_GRACE)
        except subprocess.TimeoutExpired:
            pass
        kill_group(proc.pid)  # always: nothing in the group may outlive the run
        proc.wait()
        if not spawn.bwrap and spawn.uid is not None:
            kill_uid(spawn.uid)  # no pid namespace here: sweep whatever escaped the group
        status = read_all(status_r)
        wait_namespace_gone(status)
        os.lseek(fds["result"], 0, os.SEEK_SET)
        text = read_all(fds["result"])
        reply = json.loads(text) if text else None
        return reply, not spawn.bwrap or '"child-pid"' in status
    finally:
        for fd in (*fds.values(), err_fd, status_r):
            if fd >= 0:
                os.close(fd)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


class Worker:
    """One long-lived bwrap sandbox running ``_server.py serve`` for one slot.

    Raises:
        OSError: bwrap could not set the sandbox up (message holds its stderr).
    """

    def __init__(self, spawn: Spawn) -> None:
        fds = sandbox_fds(spawn)
        self._err_fd = memfile("stderr")
        status_r, fds["status"] = os.pipe()
        try:
            cmd = bwrap_command(spawn, fds, ["serve", SLOT_TARGET])
            self.proc = popen(
                cmd, spawn, subprocess.PIPE, subprocess.PIPE, self._err_fd, tuple(fds.values())
            )
        finally:
            for fd in fds.values():
                os.close(fd)
        self._status_r = status_r
        self.status = _read_line(status_r, START_TIMEOUT)
        if '"child-pid"' not in self.status:
            self.close()
            raise OSError(f"bwrap failed: {read_tail(self._err_fd, 300).strip()}")

    def run(self, request: dict[str, Any], spec: dict[str, Any] | None) -> Raw | None:
        """Runs one program (and its tests); None if the worker died or hung (it is closed)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            data = _frame(request) + (_frame(spec) if spec is not None else b"")
            while data:
                data = data[os.write(self.proc.stdin.fileno(), data) :]
            deadline = time.monotonic() + float(request["timeout"]) + REPLY_GRACE
            fd = self.proc.stdout.fileno()
            size = struct.unpack(">I", _read_exactly(fd, 4, deadline))[0]
            reply = _read_exactly(fd, size, deadline)
            return json.loads(reply)
        except (OSError, ValueError, struct.error):
            self.close()
            return None

    def close(self) -> None:
        """Kills the sandbox and waits until every process in it is gone."""
        kill_group(self.proc.pid)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        wait_namespace_gone(self.status)
        for fd in (self._status_r, self._err_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _frame(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


def _read_line(fd: int, limit: float) -> str:
    """The first line bwrap writes to its status pipe ('' if it closes it first)."""
    data, deadline = b"", time.monotonic() + limit
    while b"\n" not in data:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _read_exactly(fd: int, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise OSError("sandbox worker did not answer in time")
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise OSError("sandbox worker ended")
        data += chunk
    return data


def memfile(name: str, data: bytes = b"") -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start."""
    fd = os.memfd_create(name)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_tail(fd: int, limit: int) -> str:
    size = os.fstat(fd).st_size
    os.lseek(fd, max(0, size - limit), os.SEEK_SET)
    return os.read(fd, limit).decode("latin-1")


def read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int) -> None:
    """SIGKILLs every process of ``uid`` (a slot uid nothing else uses)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue


def wait_namespace_gone(status_text: str, limit: float = 5.0) -> None:
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


def outside_usr(python: str) -> str | None:
    """The installation prefix to bind when the interpreter does not live under /usr."""
    real = os.path.realpath(python)
    return None if real.startswith("/usr/") else os.path.dirname(os.path.dirname(real))


def own_process_count() -> int:
    """Processes and threads of our real uid (RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count
