"""Pid 1's housekeeping of a sandbox slot: the program's seccomp guard, cleanup, and a health check.

Standard library only, like ``_server.py``, which loads this file inside the sandbox. Three parts:

- `program_filter` builds the seccomp filter each program installs on itself before its code
  runs. Its pid ``P`` is baked in: the program and its descendants (pids ``>= P`` in the
  sandbox's pid namespace) may signal, re-limit (``prlimit``), re-prioritise (``setpriority``,
  ``sched_set*``) only themselves and each other; the same calls aimed at pid 1, at the test
  runner (forked before the program, so its pid is below ``P``), at ``-1`` ("everyone") or at
  the whole uid (``PRIO_USER``) fail with EPERM. ``pidfd_send_signal``, ``ioprio_set`` and
  calls that move other processes' memory are denied outright.
- `reap_everything`, `clear_tmp` (iterative: any depth, any permissions, no descriptors held)
  and `clear_ipc` undo what a program left.
- `snapshot` / `problems`: what pid 1 checks after each program. Anything a program could have
  changed and pid 1 cannot restore (its own limits or priority, a ``/tmp`` left non-empty,
  surviving processes, sockets in TIME_WAIT, a pid counter near its wrap) is reported, and
  harness replaces the slot before its next program.

Also here: `wait` (a child with a deadline) and `Watch`, the cap on the memory of a program and
all its children together, checked every `POLL` seconds while pid 1 waits.
"""

import ctypes
import os
import platform
import resource
import select
import signal
import stat
import struct
import time

AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW = 0x7FFF0000
RET_EPERM = 0x00050000 | 1
LD_ABS_W, JEQ_K, JGE_K, JGT_K, RET_K = 0x20, 0x15, 0x35, 0x25, 0x06
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
# Calls whose first argument names a process (or, negated, a process group).
PID_FIRST_X86_64 = {
    "kill": 62,
    "tkill": 200,
    "tgkill": 234,
    "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434,
    "prlimit64": 302,
    "sched_setaffinity": 203,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "sched_setattr": 314,
}
SETPRIORITY_X86_64 = 141
DENIED_X86_64 = {
    "pidfd_send_signal": 424,  # takes a pidfd, which any /proc/<pid> directory is
    "ioprio_set": 251,
    "migrate_pages": 256,
    "move_pages": 279,
    "process_madvise": 440,
    "process_mrelease": 448,
}
CLEAR_BUDGET = 2.0  # seconds for emptying /tmp; a tree that takes longer gets the slot replaced
PID_HEADROOM = 4  # the slot is replaced once its pid counter passes (pid_max * 3 / 4)
POLL = 0.02  # seconds between checks of the memory a program and its children hold


def program_filter(first_pid):
    """The classic-BPF filter for a program whose pid is ``first_pid`` (None off x86_64)."""
    if platform.machine() != "x86_64":
        return None
    low, high = first_pid, (1 << 32) - first_pid  # pids >= P, or process groups -pgid, pgid >= P
    own = [  # on args word at the accumulator: allow 0 ("myself") and [P, 2^32 - P]
        (JEQ_K, "allow", 0, 0),
        (JGE_K, 0, "deny", low),
        (JGT_K, "deny", "allow", high),
    ]
    prog = [
        (LD_ABS_W, 0, 0, 4),
        (JEQ_K, 0, "allow", AUDIT_ARCH_X86_64),  # other ABIs: bwrap's own filter denies them
        (LD_ABS_W, 0, 0, 0),
        *[(JEQ_K, "pid_first", 0, nr) for nr in sorted(PID_FIRST_X86_64.values())],
        (JEQ_K, "setpriority", 0, SETPRIORITY_X86_64),
        *[(JEQ_K, "deny", 0, nr) for nr in sorted(DENIED_X86_64.values())],
        (RET_K, 0, 0, RET_ALLOW),
        "pid_first",
        (LD_ABS_W, 0, 0, 16),  # low word of args[0]
        *own,
        "setpriority",
        (LD_ABS_W, 0, 0, 16),  # which: PRIO_PROCESS or PRIO_PGRP only, never PRIO_USER
        (JGT_K, "deny", 0, 1),
        (LD_ABS_W, 0, 0, 24),  # who
        *own,
        "allow",
        (RET_K, 0, 0, RET_ALLOW),
        "deny",
        (RET_K, 0, 0, RET_EPERM),
    ]
    return assemble(prog)


def assemble(prog):
    """Resolves label names in jumps to forward offsets; the packed sock_filter array."""
    where, index = {}, 0
    for item in prog:
        if isinstance(item, str):
            where[item] = index
        else:
            index += 1
    out, index = [], 0
    for item in prog:
        if isinstance(item, str):
            continue
        code, jt, jf, k = item
        jt = where[jt] - index - 1 if isinstance(jt, str) else jt
        jf = where[jf] - index - 1 if isinstance(jf, str) else jf
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp jump out of range")
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        index += 1
    return b"".join(out)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install_filter(program):
    """Installs ``program`` on this process (and its future children); raises OSError."""
    libc = ctypes.CDLL(None, use_errno=True)
    fprog = SockFprog(len(program) // 8, program)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


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


def clear_tmp():
    """Empties /tmp whatever its depth and permissions: walks down by chdir, no descriptors
    kept, no path longer than one name; True when /tmp is empty afterwards."""
    deadline, names = time.monotonic() + CLEAR_BUDGET, []
    os.chdir("/tmp")
    try:
        while time.monotonic() < deadline:
            _unlock(".")
            below = _empty_but_dirs(".")
            if below is not None:
                _unlock(below)
                os.chdir(below)
                names.append(below)
            elif names:
                os.chdir("..")
                os.rmdir(names.pop())
            else:
                break
    except OSError:
        pass
    os.chdir("/tmp")
    return not os.listdir("/tmp")


def _unlock(path):
    try:
        os.chmod(path, stat.S_IRWXU)
    except OSError:
        pass


def _empty_but_dirs(path):
    """Unlinks every non-directory in ``path``; the first subdirectory's name, if any."""
    for name in os.listdir(path):
        if stat.S_ISDIR(os.lstat(name).st_mode):
            return name
        os.unlink(name)
    return None


def clear_ipc(libc):
    """Removes System V IPC objects a program left (where no seccomp filter forbids them)."""
    for kind, remove in (("shm", libc.shmctl), ("msg", libc.msgctl)):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                ids = [int(line.split()[1]) for line in f.readlines()[1:]]
        except (OSError, ValueError, IndexError):
            continue
        for ident in ids:
            remove(ident, 0, None)  # IPC_RMID
    try:
        with open("/proc/sysvipc/sem") as f:
            for line in f.readlines()[1:]:
                libc.semctl(int(line.split()[1]), 0, 0)
    except (OSError, ValueError, IndexError):
        pass


def snapshot():
    """Pid 1's own limits, priority, scheduler and CPUs: what no program may change."""
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in sorted(dir(resource))
        if name.startswith("RLIMIT_")
    }
    return {
        "limits": limits,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "scheduler": os.sched_getscheduler(0),
        "cpus": sorted(os.sched_getaffinity(0)),
    }


def problems(baseline):
    """Why this slot is not as fresh as ``baseline`` says (empty: fit for the next program)."""
    found = []
    now = snapshot()
    changed = [key for key in baseline if now[key] != baseline[key]]
    if changed:
        found.append(f"pid 1's {', '.join(changed)} changed")
    others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    if others:
        found.append(f"{len(others)} processes left")
    if os.listdir("/tmp"):
        found.append("/tmp could not be emptied")
    if _sockets_left():
        found.append("TCP sockets left (TIME_WAIT)")
    if _pid_counter_high():
        found.append("pid counter near its wrap")
    return found


def _sockets_left():
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                if len(f.readlines()) > 1:
                    return True
        except OSError:
            continue
    return False


def _pid_counter_high():
    try:
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        with open("/proc/sys/kernel/pid_max") as f:
            top = int(f.read())
    except (OSError, ValueError):
        return False
    return last > top * (PID_HEADROOM - 1) // PID_HEADROOM


def tree_memory(keep):
    """Anonymous resident memory (bytes) of every process in the sandbox except ``keep``.

    From ``statm`` (resident minus file-backed pages), the one memory figure a non-dumpable
    process's ``/proc`` entry still shows its parent; pages shared copy-on-write after a fork
    count in each process that maps them.
    """
    page, total = os.sysconf("SC_PAGE_SIZE"), 0
    for pid in _others(keep):
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                fields = f.read().split()
            total += (int(fields[1]) - int(fields[2])) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill_others(keep):
    """SIGKILLs every process in the sandbox except those in ``keep``."""
    for pid in _others(keep):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _others(keep):
    me = os.getpid()
    return [
        int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me and int(p) not in keep
    ]


def wait(pid, deadline, watch=None):
    """(wait status, timed out) of a child, SIGKILLing it and its session at ``deadline``;
    ``watch`` (the memory cap) is checked every `POLL` seconds meanwhile."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            left = deadline - time.monotonic()
            ready = select.select([pidfd], [], [], max(0.0, min(left, POLL)))[0]
            if ready or left <= POLL:
                break
            if watch is not None:
                watch.check()
    finally:
        os.close(pidfd)
    if not ready:
        kill(pid)
    return os.waitpid(pid, 0)[1], not ready


class Watch:
    """The total memory cap of a program and its children (only as a sandbox's pid 1)."""

    def __init__(self, budget, keep):
        self.budget = budget if os.getpid() == 1 else 0
        self.keep, self.exceeded = keep, False

    def check(self):
        if self.budget and tree_memory(self.keep) > self.budget:
            kill_others(self.keep)
            self.exceeded = True


def kill(pid):
    for fn, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            fn(target, signal.SIGKILL)
        except OSError:
            pass
