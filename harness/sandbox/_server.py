"""What runs inside each bubblewrap sandbox: the program, and the runner that checks it.

Standard library only; it never imports harness. It is the sandbox's pid 1 (bwrap
``--as-pid-1``), made non-dumpable, so programs, which share its uid, can neither ptrace it nor
open its descriptors, and signals they send it are ignored (the kernel's rule for a namespace's
init). ``serve`` keeps the sandbox for program after program (the reused mode); ``once`` runs one
(the fresh mode, and unsandboxed runs). Both call the same `run`, so verdicts are the same.

`run` forks the *runner* first, a process that reads the tests and the run's random token from
a descriptor pid 1 closes before the program's fork, so the program never holds it. Then the
program's process: a new session, its own rlimits and seccomp guard (`_slot.program_filter`:
its signals and ``prlimit``/``setpriority`` reach only pids from its own up, never pid 1 or the
runner), stdin/stdout/stderr on files in a fresh directory under the private ``/tmp``, every
other descriptor closed but one end of a socket pair. It executes the program, then answers
calls to its entry point on that socket (arguments and results as plain builtin values,
`encode`/`decode`). The runner executes the trusted tests with the entry point bound to a
proxy that calls the program over the socket, and writes ``{"token", "passed", "error"}`` to a
pipe only this process holds. The comparisons happen in the runner, on values it decoded itself,
so an object whose ``__eq__`` is always true never reaches them; a program that exits (with any
status), hangs, or answers garbage makes the tests fail, not pass. A run the sandbox could not
judge (the program's limits or guard not set, the runner without a verdict) carries ``infra``.
After each program every process it left is killed and reaped, ``/tmp`` is emptied and System V
IPC objects removed (`_slot`), and ``dirty`` lists what pid 1 found it could not restore.

Protocol of ``serve`` on fds 0 (requests) and 1 (replies): a 4-byte big-endian length, then a JSON
object. Request: ``{"program", "stdin" (latin-1), "timeout", "limits", "memory_total", "tail",
"entry_point", "check"}``; when ``check`` is true a second message follows with ``{"tests",
"setup", "token"}``, which this process never reads itself: it is spliced into a memory file for
the runner. Reply: ``{"exit_code", "signal", "timed_out", "stdout", "stderr", "duration",
"verdict", "infra", "memory_exceeded", "dirty"}``.
"""

import builtins
import ctypes
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

PR_SET_DUMPABLE = 4
MAX_MESSAGE = 64 << 20
MAX_DEPTH = 200
END_GRACE = 1.0  # seconds the program gets to exit after its tests are done
SLOT = None  # `_slot.py`, loaded at start


class CandidateGone(BaseException):
    """The program ended, broke the protocol or returned a value that cannot be checked.

    A BaseException, so a test's ``except Exception`` cannot take it for a raised error.
    """


def send(fd, obj):
    body = json.dumps(obj).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def recv(fd):
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    size = struct.unpack(">I", header)[0]
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    body = _read_exactly(fd, size)
    return None if body is None else json.loads(body)


def _read_exactly(fd, n):
    chunks = b""
    while len(chunks) < n:
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def encode(v, depth=0):
    """A builtin value as tagged JSON (subclasses become their builtin base's value)."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if v is None or v is True or v is False:
        return v
    for base, tag, conv in SCALARS:
        if isinstance(v, base):
            return [tag, conv(v)]
    for base, tag in CONTAINERS:
        if isinstance(v, base):
            return [tag, [encode(x, depth + 1) for x in base.__iter__(v)]]
    if isinstance(v, dict):
        return ["d", [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in dict.items(v)]]
    raise TypeError(f"a {type(v).__name__} value")


SCALARS = (
    (int, "i", int.__repr__),
    (float, "f", float.__repr__),
    (complex, "c", complex.__repr__),
    (str, "s", str.__str__),
    (bytes, "y", lambda v: bytes(v).decode("latin-1")),
    (bytearray, "Y", lambda v: bytes(v).decode("latin-1")),
)
CONTAINERS = ((list, "l"), (tuple, "t"), (set, "S"), (frozenset, "F"))
DECODE_SCALAR = {
    "i": int,
    "f": float,
    "c": complex,
    "s": str,
    "y": lambda a: a.encode("latin-1"),
    "Y": lambda a: bytearray(a.encode("latin-1")),
}
DECODE_CONTAINER = {"l": list, "t": tuple, "S": set, "F": frozenset}


def decode(x, depth=0):
    """Exact builtin values from `encode`'s output; anything else raises ValueError."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if x is None or x is True or x is False:
        return x
    if type(x) is not list or len(x) != 2 or type(x[0]) is not str:
        raise ValueError("malformed value")
    tag, a = x
    if tag in DECODE_SCALAR and type(a) is str:
        return DECODE_SCALAR[tag](a)
    if tag in DECODE_CONTAINER and type(a) is list:
        return DECODE_CONTAINER[tag](decode(e, depth + 1) for e in a)
    if tag == "d" and type(a) is list:
        pairs = [p for p in a if type(p) is list and len(p) == 2]
        if len(pairs) != len(a):
            raise ValueError("malformed dict")
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in pairs}
    raise ValueError("malformed value")


class Candidate:
    """The entry point as the tests see it: each call goes to the program's process."""

    def __init__(self, fd, name):
        self.fd, self.__name__ = fd, name

    def __call__(self, *args, **kwargs):
        try:
            send(self.fd, ["call", encode(list(args)), encode(kwargs)])
            reply = recv(self.fd)
        except (OSError, ValueError) as e:
            raise CandidateGone(f"the program stopped answering ({e})") from None
        if reply is None:
            raise CandidateGone("the program ended before its tests finished")
        if type(reply) is list and len(reply) == 2 and reply[0] == "ok":
            try:
                return decode(reply[1])
            except (ValueError, TypeError, RecursionError) as e:
                raise CandidateGone(f"the program answered garbage ({e})") from None
        if type(reply) is list and len(reply) == 3 and reply[0] == "raise":
            raise raised(str(reply[1]), str(reply[2]))
        gone = type(reply) is list and len(reply) == 2 and type(reply[1]) is str
        raise CandidateGone(reply[1][:300] if gone else "the program answered garbage")


def raised(name, message):
    """The exception the program's function raised, as a builtin Exception where one exists."""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        if not issubclass(cls, Exception):  # SystemExit, KeyboardInterrupt, ...
            return CandidateGone(f"the function raised {name}")
        try:
            return cls(message)
        except Exception:
            pass
    return RuntimeError(f"{name}: {message}")


def answer_calls(fd, g, name):
    """The program's side of the socket: call its entry point until the runner is done."""
    fn = g.get(name)
    while True:
        msg = recv(fd)
        if msg is None or msg[0] != "call":
            return
        if not callable(fn):
            send(fd, ["gone", f"the program defines no function {name}"])
            continue
        try:
            value = fn(*decode(msg[1]), **decode(msg[2]))
        except BaseException as e:
            send(fd, ["raise", type(e).__name__, _text(e)])
            continue
        try:
            reply = ["ok", encode(value)]
        except (TypeError, ValueError, RecursionError) as e:
            reply = ["gone", f"the function returned {e}; only builtin values can be checked"]
        send(fd, reply)


def _text(e):
    try:
        return str(e)[:500]
    except BaseException:
        return ""


def program_child(req, work, private, sock, ready):
    """Runs the program in this forked process, then answers its calls; never returns.

    One byte on ``ready`` says its limits and seccomp guard are in place; without it pid 1
    reports an infrastructure error rather than a verdict.
    """
    code = 1
    try:
        os.setsid()
        for fd in private:
            os.close(fd)
        guard_self(req)
        os.write(ready, b"1")
        os.close(ready)
        os.chdir(work)
        for target, name, flags in (
            (0, "stdin", os.O_RDONLY),
            (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            os.dup2(os.open(os.path.join(work, ".io", name), flags, 0o600), target)
        os.dup2(sock, 3)
        os.closerange(4, 1 << 16)
        sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        path = os.path.join(work, "main.py")
        sys.argv = [path]
        g = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
        exec(compile(req["program"], path, "exec"), g)
        code = 0
        if req.get("check"):
            answer_calls(3, g, req["entry_point"])
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        try:  # without this function's own frame, as a plain interpreter would print it
            import traceback

            traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 1
    os._exit(code)


def guard_self(req):
    """The program's own limits and seccomp guard, set before any of its code runs."""
    for res, soft, hard in req["limits"]:
        resource.setrlimit(res, (soft, hard))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a plain interpreter
    try:  # the kernel's OOM killer takes a program before pid 1 or the runner
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    program = SLOT.program_filter(os.getpid())
    if program is not None:
        SLOT.install_filter(program)


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


def runner_child(spec_fd, sock, verdict_fd, req, private):
    """Runs the trusted tests against the program's entry point; never returns."""
    verdict = {"token": None, "passed": False, "error": ""}
    try:
        for fd in private:
            if fd != spec_fd:
                os.close(fd)
        os.lseek(spec_fd, 0, os.SEEK_SET)
        spec = json.loads(read_all(spec_fd))
        os.close(spec_fd)
        verdict["token"] = spec["token"]
        for res, soft, hard in req["limits"]:
            resource.setrlimit(res, (soft, hard))
    except BaseException as e:  # no verdict on the program: the sandbox failed, not it
        verdict["infra"] = f"the test runner could not start: {describe(e)}"
        os.write(verdict_fd, json.dumps(verdict).encode())
        os._exit(0)
    try:
        ns = {"__name__": "__tests__", "__builtins__": builtins}
        exec(compile(spec["setup"], "<setup>", "exec"), ns)
        ns[req["entry_point"]] = Candidate(sock, req["entry_point"])
        exec(compile(spec["tests"], "<tests>", "exec"), ns)
        verdict["passed"] = True
    except BaseException as e:
        verdict["error"] = describe(e)
    try:
        send(sock, ["end"])
    except BaseException:
        pass
    try:
        os.write(verdict_fd, json.dumps(verdict).encode())
    finally:
        os._exit(0)


def describe(e):
    """``AssertionError at tests line 12`` and the like, for the record."""
    import traceback  # here: importing it costs a fresh sandbox ~10 ms

    line = ""
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == "<tests>":
            line = f" at tests line {lineno}"
    return f"{type(e).__name__}{line}: {_text(e)}"[:500]


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def tail(path, limit):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
            return f.read(limit).decode("latin-1")
    except OSError:
        return ""


def run(req, work, private, receive_spec):
    """Runs one program (and, when ``receive_spec`` is given, its tests); the reply dict.

    The runner is forked first, so every pid the program and its children get is above the
    runner's, which the program's seccomp guard then keeps them from signalling.
    """
    os.makedirs(os.path.join(work, ".io"), 0o700)
    with open(os.path.join(work, ".io", "stdin"), "wb") as f:
        f.write(req["stdin"].encode("latin-1"))
    with open(os.path.join(work, "main.py"), "w", encoding="utf-8", errors="replace") as f:
        f.write(req["program"])  # the program's own text only: the tests never touch a file
    ours, theirs = (s.detach() for s in socket.socketpair())
    t0 = time.monotonic()
    deadline = t0 + req["timeout"]
    runner = None
    if receive_spec is not None:
        spec_fd = receive_spec()
        runner, verdict_r = start_runner(req, spec_fd, ours, (*private, theirs))
        private = tuple(fd for fd in private if fd != spec_fd)  # closed: the runner has it
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        held = (*private, ours, ready_r, *((verdict_r,) if runner else ()))
        program_child(req, work, held, theirs, ready_w)
    os.close(ready_w)
    os.close(theirs)
    infra = "" if _ready(ready_r, deadline) else "the program's limits or guard could not be set"
    if runner is not None and pid < runner:
        infra = "the pid counter wrapped"
    for p in (pid, runner) if infra else ():
        if p:
            SLOT.kill(p)
    watch = SLOT.Watch(req.get("memory_total", 0), {runner} if runner else set())
    verdict, timed_out, waited = None, False, deadline
    if runner is not None:
        _, timed_out = SLOT.wait(runner, deadline, watch)
        verdict = _read_verdict(verdict_r)
        waited = min(deadline, time.monotonic() + END_GRACE)
    os.close(ours)
    status, late = SLOT.wait(pid, waited, watch)
    stopped = late and not timed_out and receive_spec is not None  # lingered after its tests
    timed_out = timed_out or (late and not stopped)
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) and not stopped else None,
        "timed_out": timed_out,
        "stdout": tail(os.path.join(work, ".io", "stdout"), req["tail"]),
        "stderr": tail(os.path.join(work, ".io", "stderr"), req["tail"]),
        "duration": time.monotonic() - t0,
        "verdict": verdict,
        "infra": infra,
        "memory_exceeded": watch.exceeded,
        "child": pid,
    }


def start_runner(req, spec_fd, sock, private):
    """Forks the runner; (its pid, the read end of its verdict pipe)."""
    verdict_r, verdict_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(verdict_r)
        runner_child(spec_fd, sock, verdict_w, req, (*private, spec_fd))
    os.close(verdict_w)
    os.close(spec_fd)
    return pid, verdict_r


def _ready(fd, deadline):
    try:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return False
        return os.read(fd, 1) == b"1"
    finally:
        os.close(fd)


def _read_verdict(fd):
    try:
        text = read_all(fd).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
    return text or None


def splice_message(fd):
    """The next message on ``fd`` moved into a memory file unread (None at end of input)."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    left = struct.unpack(">I", header)[0]
    out = os.memfd_create("spec")
    while left:
        moved = os.splice(fd, out, left)
        if not moved:
            raise EOFError("request ended early")
        left -= moved
    os.lseek(out, 0, os.SEEK_SET)
    return out


def serve():
    libc = ctypes.CDLL(None, use_errno=True)
    requests, replies = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    baseline = SLOT.snapshot()
    n = 0
    while True:
        req = recv(requests)
        if req is None:
            return
        n += 1
        spec = (lambda: splice_message(requests)) if req.get("check") else None
        reply = run(req, f"/tmp/run{n}", (requests, replies, null), spec)
        SLOT.reap_everything()
        SLOT.clear_tmp()
        SLOT.clear_ipc(libc)
        reply["dirty"] = SLOT.problems(baseline)  # harness replaces a slot it cannot restore
        send(replies, reply)


def once(header_fd, spec_fd, result_fd, root):
    req = json.loads(read_all(header_fd))
    os.close(header_fd)
    private = (result_fd,) if spec_fd < 0 else (result_fd, spec_fd)
    reply = run(
        req, os.path.join(root, "run"), private, (lambda: spec_fd) if spec_fd >= 0 else None
    )
    SLOT.kill(
        reply["child"]
    )  # pid 1 of a sandbox takes the rest with it; unsandboxed, harness does
    os.write(result_fd, json.dumps(reply).encode())


def load_slot(path):
    """``_slot.py`` (bound into the sandbox beside this file) as a module."""
    import types

    module = types.ModuleType("slot")
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), module.__dict__)
    return module


if __name__ == "__main__":
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # As pid 1 the kernel drops every signal a program sends unless a handler is installed:
    # Python's SIGINT handler would let a program's SIGINT end the slot.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    SLOT = load_slot(sys.argv[2])
    if sys.argv[1] == "serve":
        serve()
    else:
        header, spec, result = (int(a) for a in sys.argv[3:6])
        once(header, spec, result, sys.argv[6])
