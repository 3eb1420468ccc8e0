"""A system-call filter (seccomp): the calls whose results outlive the child are not allowed.

SysV shared memory, semaphores and message queues (``shmget``, ``semget``, ``msgget``), POSIX
message queues (``mq_open``) and ``mknod`` (FIFOs and empty files anywhere the child's user may
write, a call Python's audit hooks never see) make something that stays on the machine after
every process of the child has ended, where no IPC and mount namespaces hold them.  No part of
an assignment needs them, numpy and torch (on the CPU, without worker processes) never make
them, so the filter ends the process at the first one, from any thread and from native code
alike (the transfer part's ``ctypes`` too); the parent sees it killed by SIGSYS and says why.
Calls made with another architecture's numbering (x32, i386's ``int 0x80``) end it too.

Installed once the preloads are imported and before any student code; it cannot be removed
(``no_new_privs`` is set first, as seccomp requires of an unprivileged process), and every
thread the child already has gets it too (TSYNC).  Linux on x86_64 and aarch64 only; elsewhere
the parent cleans up what it can find instead (``grader.sandbox.cleanup``).  Standard library
only: this file is loaded by path by ``main.py``.
"""

from __future__ import annotations

import os
import sys

# arch: (AUDIT_ARCH_*, seccomp(2)'s number, {forbidden call: its number}, numbers >= this are another ABI)
ARCHES = {
    "x86_64": (0xC000003E, 317, {"shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240, "mknod": 133,
                                 "mknodat": 259}, 0x40000000),
    "aarch64": (0xC00000B7, 277, {"shmget": 194, "semget": 190, "msgget": 186, "mq_open": 180, "mknodat": 33},
                None),
}
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ALLOW = 0x80000000, 0x7FFF0000
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, PR_SET_NO_NEW_PRIVS = 1, 1, 38
FILTERED = "SysV IPC, POSIX message queues and mknod refused (seccomp: the process is killed)"


def program(arch: str) -> list[tuple[int, int, int, int]]:
    """The filter as BPF instructions (code, jump if true, jump if false, k): anything with
    another architecture's numbering, and the forbidden calls, kill; the rest is allowed."""
    audit_arch, _, forbidden, other_abi = ARCHES[arch]
    kill = (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS)
    code = [(BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
            (BPF_JEQ_K, 1, 0, audit_arch), kill,
            (BPF_LD_W_ABS, 0, 0, 0)]  # seccomp_data.nr
    if other_abi is not None:
        code += [(BPF_JGE_K, 0, 1, other_abi), kill]
    for number in sorted(forbidden.values()):
        code += [(BPF_JEQ_K, 0, 1, number), kill]
    return code + [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]


def _prepared(arch: str) -> tuple:
    """(ctypes, the filter as seccomp(2) takes it, libc) for ``arch``: pure computation, no system
    call, made once as this file loads where it can be (in the warm template: not in each child)."""
    import ctypes

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    code = program(arch)
    instructions = (Instruction * len(code))(*(Instruction(*i) for i in code))
    prog = Program(len(code), instructions)  # (ctypes keeps the instructions alive with it)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.syscall.restype = ctypes.c_long
    return ctypes, prog, libc


def _machine() -> str:
    return os.uname().machine if hasattr(os, "uname") else sys.platform


try:
    _PREPARED = _prepared(_machine()) if sys.platform.startswith("linux") and _machine() in ARCHES else None
except (OSError, AttributeError, ImportError):  # said when the filter is asked for (it tries again then)
    _PREPARED = None


def forbid_lasting_syscalls() -> tuple[bool, list[str]]:
    """Install the filter on every thread of this process: (installed, notes on why not)."""
    arch = _machine()
    if not sys.platform.startswith("linux") or arch not in ARCHES or sys.maxsize < 2**32:
        return False, [f"no system-call filter on {sys.platform}/{arch}: SysV IPC and mknod are not refused"]
    try:
        ctypes, prog, libc = _PREPARED or _prepared(arch)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        done = libc.syscall(ctypes.c_long(ARCHES[arch][1]), ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
                            ctypes.c_ulong(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
        if done != 0:
            raise OSError(ctypes.get_errno() if done < 0 else 0,
                          "seccomp" if done < 0 else f"seccomp: thread {done} could not be synchronised")
    except (OSError, AttributeError, ImportError) as exc:
        return False, [f"no system-call filter ({exc}): SysV IPC and mknod are not refused"]
    return True, []
