"""Running untrusted Python programs (model-generated code) under bubblewrap and resource limits.

Each program runs in its own process inside a bubblewrap (``bwrap``) sandbox: new user, pid,
network, IPC, UTS and cgroup namespaces; uid/gid 65534 inside; on the host a dedicated
unprivileged uid per worker slot (when harness runs as root), so the process limit really
applies (the kernel ignores ``RLIMIT_NPROC`` for root) and one program's fork bomb cannot
exhaust the process budget of the programs beside it. The filesystem is bwrap's tmpfs root,
remounted read-only, holding ``/usr`` (read-only), a fresh ``/proc``, a minimal read-only
``/dev``, the program's code (read-only) and a private writable ``/tmp``. The environment is
cleared, and bwrap itself starts with only ``PATH``, so nothing secret can be read from
``/proc/1/environ`` either. Limits are set before the program starts: CPU seconds, address
space, file size (which also caps stdout and stderr, written to files), processes and open
files. A wall-clock timeout kills the program's whole process tree, and every process it left
behind is killed before its result is returned. Programs run in parallel, one per worker slot.

Verdicts (`Sandbox.run` with a `Check`): the program's process executes the program and then
only answers calls to its entry point; the tests run in a separate *runner* process, forked
before the program's, that reads them and a per-run random token from a descriptor the program
never held, calls the program over a socket, compares the results itself (decoded into exact
builtin values, so an always-equal ``__eq__`` never reaches a comparison) and reports
"every test ran and held" with the token on a pipe only it holds. harness counts a pass only
for that report with this run's token: an exit status never means "passed". When the sandbox
cannot judge a program (the runner crashed or gave no verdict, the program's limits or guard
could not be set, the sandbox died or stopped answering) the result is status "error", neither
passed nor failed; the run is tried once more in a replaced slot first.

By default (``reuse=True``) each slot keeps one sandbox alive and runs its programs as forked
children of a small server inside it (`harness.sandbox._server`); after each program every
process it left is killed and reaped, ``/tmp`` is emptied (at any depth and permissions) and
System V IPC objects removed. ``reuse=False`` starts a new sandbox per program. Both run the
same code inside, so verdicts are identical (``tests/sandbox/test_modes.py``: 200 mixed
programs; ``test_cheats.py``: 23 cheats in both modes).

Isolated between programs of one reused slot (nothing one leaves changes what the next sees,
``tests/sandbox/test_poison.py``): pid 1's limits, priority, scheduler and CPUs (each program
installs a seccomp guard, `harness.sandbox._slot`, so its signals, ``prlimit``,
``setpriority`` and ``sched_set*`` reach only its own processes, never pid 1, the runner, ``-1``
or the whole uid); processes (all killed); ``/tmp``; System V IPC. What pid 1 cannot undo it
checks after every program, and harness replaces the slot when any is off: its own limits or
priority changed, ``/tmp`` not empty, a process left, TCP sockets left (a port in TIME_WAIT
would refuse the next program's ``bind``), the pid counter past 3/4 of ``pid_max`` (so the
runner's pid stays below the program's). Not reset, and visible to the next program: the pid
numbers it gets and its loopback's other counters.

Guaranteed now: a completion cannot forge a pass by exiting (``os._exit(0)``, ``sys.exit(0)``,
``SystemExit`` in the function, exiting from a ``settrace``/SIGALRM/``atexit``/``excepthook``/
``__del__`` hook, forking and exiting in the parent), by returning an always-equal object, by
patching modules (its process holds no part of the verdict), or by reading the tests (they are in
no file it can open, not in its memory or frames, and the runner and pid 1 are non-dumpable: no
ptrace, no ``/proc/<pid>/fd`` or ``mem``). The sandbox's pid 1 (bwrap ``--as-pid-1``) is harness's
own script and ignores the programs' signals (it keeps no handler, so the kernel drops them,
SIGINT included). ``/tmp`` is a tmpfs capped at ``Limits.tmp_mb``. The memory of a program and
all its children together is capped at ``Limits.memory_mb``: pid 1 sums their anonymous resident
memory every 20 ms and kills them all past it ("killed"; pages shared copy-on-write after a fork
count in each process); each process also has that address-space limit.
On x86_64 a seccomp filter denies ptrace, ``process_vm_*``, System V and POSIX message-queue
IPC, keyrings, bpf, perf events, userfaultfd, io_uring, namespaces and mounts.
Also protected: reading or writing host files (only ``/usr`` is visible, read-only), network
access (a private loopback only), seeing or signalling host processes, reading harness's
environment, fork bombs, memory and disk exhaustion per process, endless loops, processes left
behind.

Not guaranteed: kernel exploits (the sandbox shares the host kernel; the seccomp filter is a deny
list, and absent off x86_64, where the program guard is absent too: there a program can signal or
re-limit the runner and pid 1; pid 1's check still replaces a changed slot, and a killed runner
gives "error", never a verdict), reading world-readable files under ``/usr``, side channels, memory
a program's children allocate faster than the 20 ms check, CPU taken from programs beside a fork
bomb (they may time out). A program can still make its own tests fail (exit, answer garbage):
denial, never a false pass. Tests see only builtin values: a function whose result is not a plain
value (a generator, a custom class), or tests that pass it callables or check in-place mutation of
their arguments, fail rather than pass. Run inside a VM or container as well when the code may be
adversarial rather than merely buggy. ``Sandbox(isolate=False)`` (``--unsafe-no-sandbox``) drops
bubblewrap (and with it the pid namespace and seccomp) and keeps only the runner, the limits, the
unprivileged uid, the cleared environment and the timeout.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from harness._errors import HarnessError
from harness.sandbox._exec import Raw, Spawn, Worker, own_process_count, run_fresh

Status = Literal["passed", "failed", "exited", "timeout", "killed", "error"]

# Host uids used when running as root: UID_BASE + (pid % 4096) * SLOTS_PER_PROCESS + slot, so
# concurrent harness processes (parallel CI jobs) do not share a process budget.
UID_BASE = 2_000_000_000
SLOTS_PER_PROCESS = 256
START_RETRIES = 3
RUN_ATTEMPTS = 2  # a run the sandbox could not judge is tried once more in a new slot
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"


@dataclass(frozen=True)
class Check:
    """Trusted tests for an untrusted program, run by the sandbox's runner, not by the program.

    Attributes:
        tests: Test code; it calls the function under test by the name ``entry_point`` (for
            HumanEval: the problem's ``check`` function followed by ``check(entry_point)``).
        entry_point: The name of the program's function under test.
        setup: Trusted code run before the tests in the runner (for HumanEval: the prompt, whose
            helper functions some tests call).
    """

    tests: str
    entry_point: str
    setup: str = ""


class SandboxError(HarnessError):
    """The sandbox cannot run here (bwrap missing, user namespaces disabled, ...)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run.

    Attributes:
        timeout: Wall-clock seconds before the whole process tree is killed.
        cpu_seconds: CPU seconds per process (SIGXCPU); None means ``int(timeout) + 2``.
        memory_mb: Address space per process, MiB (allocations beyond raise MemoryError); in
            bubblewrap also the memory of a program and all its children together (past it
            they are all killed: status "killed").
        file_size_mb: Largest file a process may write, MiB; also caps stdout and stderr.
        processes: Processes and threads of the run's host uid (bwrap itself needs 3).
        open_files: Open file descriptors per process.
        tmp_mb: Size of the sandbox's private ``/tmp`` (held in host memory), MiB.
    """

    timeout: float = 10.0
    cpu_seconds: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    processes: int = 32
    open_files: int = 256
    tmp_mb: int = 64

    def rlimits(self, processes: int | None = None) -> list[tuple[int, int, int]]:
        """(resource, soft, hard) limits applied before the program starts.

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
        status: With a `Check`: "passed" (the runner reported, with this run's token, that every
            test ran and held), "failed", "timeout" (killed at the wall-clock limit) or "killed"
            (the program ended by a signal: CPU or file-size limit, SIGKILL). Without one:
            "exited" (any exit status, see ``exit_code``), "timeout" or "killed". In both cases
            "error": the sandbox could not judge the program (its runner crashed or gave no
            verdict, the limits or guard could not be set, the sandbox died), twice, in two
            different slots; such a run is neither passed nor failed.
        exit_code: The program's exit status, None if it ended by a signal or timed out.
        signal: The signal that ended it, if any.
        stdout: The last ``tail_bytes`` of its standard output.
        stderr: The last ``tail_bytes`` of its standard error.
        duration: Wall seconds of the run.
        detail: Why the tests did not pass (the failing test's error), empty otherwise.
    """

    status: Status
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    duration: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Its tests ran and passed: only ever from a `Check`, never from an exit status."""
        return self.status == "passed"

    @property
    def ok(self) -> bool:
        """A run without tests that exited with status 0."""
        return self.status == "exited" and self.exit_code == 0


def find_bwrap() -> str:
    """Path of the bwrap executable.

    Raises:
        SandboxError: bubblewrap is not installed.
    """
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError(
            f"running model-generated code needs bubblewrap: {INSTALL_HINT}, "
            f"or pass --unsafe-no-sandbox to run it without one"
        )
    return path


def default_python() -> str:
    """The interpreter programs run with when none is given: the system python3."""
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Sandbox:
    """Runs Python programs with limits, in bubblewrap unless ``isolate`` is False.

    Args:
        limits: Resource limits of every run.
        isolate: Use bubblewrap (False: only limits, uid, cleared environment, timeout).
        reuse: Keep one sandbox per worker slot and fork each program inside it (True), or
            start a new sandbox and interpreter per program (False). Ignored unsandboxed.
        python: Interpreter inside the sandbox (None: `default_python`; the command line
            passes ``$HARNESS_SANDBOX_PYTHON`` through ``CodeExecution.python``).
        workers: Programs run at once by `run_many` (default: the usable CPU cores).
        tail_bytes: How much of the end of stdout and stderr to keep.

    Raises:
        SandboxError: ``isolate`` is True and bwrap is missing or cannot start a sandbox.
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        isolate: bool = True,
        reuse: bool = True,
        python: str | None = None,
        workers: int | None = None,
        tail_bytes: int = 4096,
    ) -> None:
        self.limits = limits
        self.isolate = isolate
        self.reuse = reuse and isolate
        self.python = python or default_python()
        self.workers = workers or len(os.sched_getaffinity(0))
        self.tail_bytes = tail_bytes
        self.bwrap = find_bwrap() if isolate else None
        self._root = os.geteuid() == 0
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.workers):
            self._slots.put(slot)
        self._servers: dict[int, Worker] = {}
        self.replaced = 0  # reused sandboxes closed because a program left them unfit
        self._count_lock = threading.Lock()
        # bwrap --die-with-parent ties a sandbox to the *thread* that started it, so long-lived
        # sandboxes are started from this sandbox's own thread, not from run_many's threads.
        self._starter: ThreadPoolExecutor | None = None
        # Not root: the process limit counts all of our uid's processes, so leave headroom.
        self._nproc = (
            limits.processes
            if self._root
            else own_process_count() + 4 * limits.processes * self.workers
        )
        if isolate:
            self._probe()

    def _probe(self) -> None:
        """Fails early, in one line, when bubblewrap cannot start a sandbox here."""
        try:
            probe = self.run("pass")
        except SandboxError as e:
            raise SandboxError(
                f"{e}; bubblewrap needs unprivileged user namespaces "
                f"(sysctl kernel.unprivileged_userns_clone=1, "
                f"user.max_user_namespaces>0)"
            ) from None
        if probe.status == "error":
            raise SandboxError(f"the sandbox cannot run programs here: {probe.detail}")
        if not probe.ok:
            raise SandboxError(
                f"{self.python} does not run inside the sandbox "
                f"({probe.stderr.strip()[-200:]}); set HARNESS_SANDBOX_PYTHON "
                f"to an interpreter under /usr"
            )

    def uids(self) -> range:
        """The host uids this sandbox's programs run as (when harness runs as root)."""
        first = UID_BASE + (os.getpid() % 4096) * SLOTS_PER_PROCESS
        return range(first, first + self.workers)

    def run(self, program: str, stdin: str | bytes = b"", check: Check | None = None) -> ExecResult:
        """Runs one program (then ``check``'s tests against it); never raises for what it does."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        request: dict[str, object] = {
            "program": program,
            "stdin": data.decode("latin-1"),
            "timeout": self.limits.timeout,
            "tail": self.tail_bytes,
            "limits": self.limits.rlimits(self._nproc),
            "memory_total": self.limits.memory_mb << 20,
            "check": check is not None,
            "entry_point": check.entry_point if check else "",
        }
        token = secrets.token_hex(16)
        spec = {"tests": check.tests, "setup": check.setup, "token": token} if check else None
        result = None
        for _ in range(RUN_ATTEMPTS):
            slot = self._slots.get()
            try:
                t0 = time.perf_counter()
                runner = self._run_reused if self.reuse else self._run_fresh
                raw = runner(slot, request, spec) or _lost(time.perf_counter() - t0)
                result = _classify(raw, token if check else None)
                if result.status == "error":
                    self._replace(slot)
            finally:
                self._slots.put(slot)
            if result.status != "error":
                break
        assert result is not None
        return result

    def run_many(
        self,
        programs: Sequence[str],
        stdins: Sequence[str | bytes] | None = None,
        on_done: Callable[[int, ExecResult], None] | None = None,
        checks: Sequence[Check | None] | None = None,
    ) -> list[ExecResult]:
        """Runs ``programs`` in parallel across the worker slots; results in input order."""
        inputs = list(stdins) if stdins is not None else [b""] * len(programs)
        tests = list(checks) if checks is not None else [None] * len(programs)
        results: list[ExecResult | None] = [None] * len(programs)

        def one(i: int) -> None:
            results[i] = self.run(programs[i], inputs[i], tests[i])
            if on_done is not None:
                on_done(i, results[i])  # type: ignore[arg-type]

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for f in [pool.submit(one, i) for i in range(len(programs))]:
                f.result()
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Stops the per-slot sandboxes (a later run starts new ones)."""
        while self._servers:
            self._servers.popitem()[1].close()
        if self._starter is not None:
            self._starter.shutdown()
            self._starter = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, slot: int, cpu: bool = True) -> Spawn:
        limits = self.limits.rlimits(self._nproc)
        if not cpu:  # a long-lived server: its children get the CPU limit instead
            limits = [lim for lim in limits if lim[0] != resource.RLIMIT_CPU]
        uid = self.uids()[slot] if self._root else None
        return Spawn(self.python, self.bwrap, uid, tuple(limits), self.limits.tmp_mb)

    def _run_fresh(self, slot: int, request: dict[str, object], spec: dict | None) -> Raw | None:
        error = ""
        for attempt in range(START_RETRIES):
            try:
                raw, started = run_fresh(self._spawn(slot), request, spec)
            except OSError as e:
                raw, started, error = None, False, str(e)
            if started:
                return raw
            time.sleep(0.05 * (attempt + 1))  # the slot's last processes are still exiting
        raise SandboxError(f"bubblewrap failed to start {START_RETRIES} times {error[-300:]}")

    def _run_reused(self, slot: int, request: dict[str, object], spec: dict | None) -> Raw | None:
        server = self._servers.get(slot) or self._start_server(slot)
        raw = server.run(request, spec)
        if raw is None:
            self._servers.pop(slot, None)  # the sandbox died or froze (it is closed)
            self._count_replaced()
        elif raw.get("dirty"):  # left in a state its pid 1 cannot undo: start a new one
            self._replace(slot)
        return raw

    def _replace(self, slot: int) -> None:
        """Closes the slot's sandbox (reused mode), so its next program gets a new one."""
        server = self._servers.pop(slot, None)
        if server is not None:
            server.close()
            self._count_replaced()

    def _count_replaced(self) -> None:
        with self._count_lock:
            self.replaced += 1

    def _start_server(self, slot: int) -> Worker:
        error = ""
        for attempt in range(START_RETRIES):
            if self._starter is None:
                self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox")
            try:
                server = self._starter.submit(Worker, self._spawn(slot, cpu=False)).result()
            except OSError as e:
                error = str(e)
                time.sleep(0.05 * (attempt + 1))
                continue
            self._servers[slot] = server
            return server
        raise SandboxError(f"bubblewrap failed to start {START_RETRIES} times: {error[-300:]}")


def _lost(duration: float) -> Raw:
    """The reply of a run whose sandbox died or stopped answering: no verdict, its fault."""
    return {
        "exit_code": None,
        "signal": None,
        "timed_out": False,
        "stdout": "",
        "stderr": "",
        "duration": duration,
        "verdict": None,
        "infra": "the sandbox stopped answering",
    }


def _classify(raw: Raw, token: str | None) -> ExecResult:
    out = raw["stdout"].encode("latin-1").decode("utf-8", errors="replace")
    err = raw["stderr"].encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    code, sig, took = raw["exit_code"], raw["signal"], raw["duration"]
    verdict = _verdict(raw.get("verdict"), token) if token is not None else None
    infra = raw.get("infra") or (verdict or {}).get("infra")
    if token is not None and verdict is None and not raw["timed_out"] and not infra:
        infra = "the test runner ended without a verdict"
    if infra:  # nothing is known about the program: never a pass or a fail
        return ExecResult("error", code, sig, out, err, took, f"sandbox error: {infra}")
    if verdict is not None and verdict.get("passed") is True:
        return ExecResult("passed", code, sig, out, err, took)
    detail = "" if verdict is None else str(verdict.get("error", ""))
    if raw.get("memory_exceeded"):
        detail = "the program and its children held more memory than the limit together"
    if token is not None and not detail:
        detail = "no verdict from the test runner"
    if raw["timed_out"]:
        return ExecResult("timeout", None, signal.SIGKILL, out, err, took, detail)
    if sig or raw.get("memory_exceeded"):
        return ExecResult("killed", None, int(sig or signal.SIGKILL), out, err, took, detail)
    status: Status = "exited" if token is None else "failed"
    return ExecResult(status, code, None, out, err, took, detail)


def _verdict(text: object, token: str) -> dict | None:
    """The runner's verdict if it carries this run's token (anything else is no verdict)."""
    try:
        verdict = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(verdict, dict) or verdict.get("token") != token:
        return None
    return verdict
