"""A small seccomp filter (classic BPF) for bwrap's ``--seccomp FD``: deny what no test needs.

Denied with EPERM: ptrace and reading or writing other processes' memory or descriptors
(``process_vm_*``, ``pidfd_getfd``, ``kcmp``), System V and POSIX message-queue IPC (so nothing
one program leaves can be read by the next in a reused sandbox), kernel keyrings, ``bpf``,
``perf_event_open``, ``userfaultfd``, io_uring, namespaces and mounts, module and kexec loading.
Only x86_64 is covered; elsewhere `filter_program` returns None and no filter is installed.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06

DENIED_X86_64 = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "pidfd_getfd": 438,
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "semtimedop": 220,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "perf_event_open": 298,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program() -> bytes | None:
    """The compiled filter (struct sock_filter array), or None on other architectures."""
    if platform.machine() != "x86_64":
        return None
    numbers = sorted(DENIED_X86_64.values())
    deny = 4 + len(numbers) + 1  # index of the final "deny" instruction
    prog = [
        _insn(LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
        _insn(JEQ_K, 0, deny - 2, AUDIT_ARCH_X86_64),  # another ABI (i386, x32 below): deny
        _insn(LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
        _insn(JGE_K, deny - 4, 0, X32_SYSCALL_BIT),
    ]
    for i, nr in enumerate(numbers):
        prog.append(_insn(JEQ_K, deny - (4 + i) - 1, 0, nr))
    prog += [_insn(RET_K, 0, 0, RET_ALLOW), _insn(RET_K, 0, 0, RET_ERRNO | errno.EPERM)]
    return b"".join(prog)
