"""Which protections this machine offers the sandbox, as plain data for reports."""

from __future__ import annotations

import os
import sys

from .process import UNSHARE_ARGS, namespace_labels, namespace_support, user_namespace  # noqa: F401  (UNSHARE_ARGS: re-exported)
from .session import sandbox_user

# What every Session does today, and what later hardening will add.
APPLIED = (
    "separate child process per session (python -I -S: no user site, no PYTHON* variables, no .pth files)",
    "private socket for requests and replies; student stdout/stderr on capped pipes",
    "plain-data wire format, no pickle in the parent",
    "own session and process group; the group and the session are killed at the end",
    "wall-clock timeouts per call and per session, enforced by the parent",
    "RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, no core files (where the OS has them)",
    "fresh scratch copy of the submission as cwd; stripped environment",
    "import policy for student code (grader never importable; optional allow-list)",
    "guard (an audit hook student code cannot remove, switch off or argue with: it never runs student code "
    "and holds nothing student code can change): refuses forbidden imports, reading the grader, other sessions' "
    "files and other processes, writing outside $TMPDIR, links, processes, signals, network and ctypes, and "
    "writes each attempt at once to a pipe of its own that the parent reads",
    "RLIMIT_NPROC and RLIMIT_NOFILE (the process limit binds only under another user than root)",
    "system-call filter (seccomp, Linux x86_64/aarch64): SysV IPC, POSIX message queues and mknod end the child",
    "as root: the child runs as nobody (or root without capabilities) in a group of its own session; the parent "
    "removes the SysV IPC objects and the /tmp, /var/tmp and /dev/shm files of that group when the session ends",
)
NAMESPACED = (
    "network namespace: no network, only a loopback that is down (as another user than root: inside a "
    "user namespace, where the kernel allows unprivileged ones)",
    "pid namespace: everything the child starts (setsid, double fork) dies with the session",
    "IPC namespace: every SysV IPC object and POSIX message queue of the child dies with it",
    "mount namespace: read-only file system outside the scratch folder, private /tmp, /dev/shm "
    "and minimal /dev; every capability dropped",
)
NOT_YET = (
    "the guard is inside the child: native code (numpy's, torch's, or ctypes where allowed) is not watched; "
    "without namespaces, files native code leaves in /tmp or /dev/shm as the grader's own user are not found",
    "files readable by the child's user stay readable (only the grader's folders are refused or hidden)",
)


def probe() -> dict:
    """A report of the protections available here.

    Keys: platform, python, root (effective uid 0), rlimits ({name: available}),
    process_groups, proc_scan (/proc readable), namespaces (``unshare --pid
    --fork --kill-child --mount-proc --net`` works), protections ({"network",
    "processes", "filesystem": what a session gets, or "not available: <why>"};
    each Session's ``protections`` says what it actually got), applied and not_yet
    (what sessions do and what they leave to later hardening), notes.
    """
    notes = []
    try:
        import resource

        rlimits = {name: hasattr(resource, name) for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE")}
    except ImportError:
        rlimits = dict.fromkeys(("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE"), False)
        notes.append("no resource module: memory and CPU limits cannot be set")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    user = sandbox_user()
    unshare, why = namespace_support()
    userns = bool(unshare) and user_namespace()
    if root and not unshare:
        notes.append("running as root: student code in the child could raise its own resource limits")
    if not unshare:
        notes.append(f"not available: {why}; sessions run without namespaces")
    applied = list(APPLIED) + (list(NAMESPACED) if unshare else [])
    not_yet = list(NOT_YET) + ([] if unshare else [f"{line} (not available: {why})" for line in NAMESPACED])
    return {
        "platform": sys.platform,
        "python": sys.version.split()[0],
        "root": root,
        "rlimits": rlimits,
        "process_groups": hasattr(os, "killpg") and hasattr(os, "setsid"),
        "proc_scan": os.path.isdir("/proc/self"),
        "namespaces": bool(unshare),
        "protections": {
            **(namespace_labels() if unshare else dict.fromkeys(("network", "processes"), f"not available: {why}")),
            "filesystem": "read-only outside scratch (checked per session)" if unshare else f"not available: {why}",
            "user": (f"{user['name']} (uid {user['uid']}) where it can read Python and the libraries, else root "
                     "without capabilities (checked per session)") if user else
                    ("the grader's own user, as root of a user namespace without capabilities" if userns else
                     "root without capabilities (no sandbox user: GRADER_SANDBOX_USER)" if root else
                     "the grader's own user (not root: no other user to switch to)"),
        },
        "applied": applied,
        "not_yet": not_yet,
        "notes": notes,
    }
