"""The program harness starts inside each bubblewrap sandbox to run many test programs in it.

Starting bwrap and a fresh interpreter costs ~70 ms per program; forking a warm interpreter
costs ~2 ms. So each worker sandbox runs this script (standard library only; it never imports
harness), which reads programs from harness and runs each in a forked child: a new session,
its own rlimits, stdin/stdout/stderr redirected to files in a fresh directory under the private
``/tmp``, every other descriptor closed. After each program it SIGKILLs every process it can
(``kill(-1)`` reaches the whole sandbox but bwrap's pid 1 and itself), reaps them all (it is the
child subreaper, so even daemonised grandchildren come back to it) and empties ``/tmp``,
so nothing of one program survives into the next. It makes itself non-dumpable, so programs,
which share its uid, cannot ptrace it or open its descriptors; a program that kills it ends the
worker, and harness reports that program as killed and starts a new sandbox.

Protocol on fds 0 (requests) and 1 (replies): a 4-byte big-endian length, then a JSON object.
Request: ``{"program", "stdin" (latin-1), "timeout", "limits": [[resource, soft, hard]], "tail"}``.
Reply: ``{"exit_code", "signal", "timed_out", "stdout", "stderr" (latin-1 tails), "duration"}``.
"""

import builtins
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import stat
import struct
import sys
import time
import traceback

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def read_message(fd):
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    body = _read_exactly(fd, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def write_message(fd, obj):
    body = json.dumps(obj).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd, n):
    chunks = b""
    while len(chunks) < n:
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def child(req, work, private):
    """Runs the program in this forked process; never returns."""
    code = 1
    try:
        os.setsid()
        for fd in private:
            os.close(fd)
        os.chdir(work)
        for target, name, flags in (
            (0, "stdin", os.O_RDONLY),
            (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            os.dup2(os.open(os.path.join(work, ".io", name), flags, 0o600), target)
        os.closerange(3, 1 << 16)
        for res, soft, hard in req["limits"]:
            resource.setrlimit(res, (soft, hard))
        # The program's own std streams: they live until os._exit below.
        sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        path = os.path.join(work, "main.py")
        sys.argv = [path]
        compiled = compile(req["program"], path, "exec")
        exec(compiled, {"__name__": "__main__", "__file__": path, "__builtins__": builtins})
        code = 0
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        try:  # without this function's own frame, as a plain interpreter would print it
            traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 1
    os._exit(code)


def _exit_code(e):
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        print(e.code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def wait(pid, timeout):
    """(wait status, timed out) of the child, SIGKILLing its session at the timeout."""
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not ready:
        for kill, target in ((os.killpg, pid), (os.kill, pid)):
            try:
                kill(target, signal.SIGKILL)
            except OSError:
                pass
    return os.waitpid(pid, 0)[1], not ready


def reap_everything():
    """Kills and reaps every other process in the sandbox (all are our descendants)."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def tail(path, limit):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
            return f.read(limit).decode("latin-1")
    except OSError:
        return ""


def clear_tmp():
    """Deletes everything in /tmp, whatever a program did to the permissions."""

    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    for name in os.listdir("/tmp"):
        path = os.path.join("/tmp", name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=fix)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def run(req, n, private):
    work = f"/tmp/run{n}"
    os.makedirs(os.path.join(work, ".io"), 0o700)
    with open(os.path.join(work, ".io", "stdin"), "wb") as f:
        f.write(req["stdin"].encode("latin-1"))
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(req, work, private)
    status, timed_out = wait(pid, req["timeout"])
    duration = time.monotonic() - t0
    reap_everything()
    out = tail(os.path.join(work, ".io", "stdout"), req["tail"])
    err = tail(os.path.join(work, ".io", "stderr"), req["tail"])
    clear_tmp()
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "stdout": out,
        "stderr": err,
        "duration": duration,
    }


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    requests, replies = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    n = 0
    while True:
        req = read_message(requests)
        if req is None:
            return
        n += 1
        write_message(replies, run(req, n, (requests, replies, null)))


if __name__ == "__main__":
    main()
