"""Which protections this machine offers the sandbox, as plain data for reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

UNSHARE_ARGS = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net")

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
)
NOT_YET = (
    "pid namespace (processes that call setsid() escape the session kill)",
    "network namespace (student code can use the network)",
    "read-only views of the file system, privilege drop (the child runs as the grader's user)",
)


def probe() -> dict:
    """A report of the protections available here.

    Keys: platform, python, root (effective uid 0), rlimits ({name: available}),
    process_groups, proc_scan (/proc readable), namespaces (``unshare --pid
    --fork --kill-child --mount-proc --net`` works), applied and not_yet (what
    sessions do today and what they leave to later hardening), notes.
    """
    notes = []
    try:
        import resource

        rlimits = {name: hasattr(resource, name) for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE")}
    except ImportError:
        rlimits = dict.fromkeys(("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE"), False)
        notes.append("no resource module: memory and CPU limits cannot be set")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root:
        notes.append("running as root: student code in the child could raise its own resource limits")
    return {
        "platform": sys.platform,
        "python": sys.version.split()[0],
        "root": root,
        "rlimits": rlimits,
        "process_groups": hasattr(os, "killpg") and hasattr(os, "setsid"),
        "proc_scan": os.path.isdir("/proc/self"),
        "namespaces": _unshare_works(notes),
        "applied": list(APPLIED),
        "not_yet": list(NOT_YET),
        "notes": notes,
    }


def _unshare_works(notes: list) -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        notes.append("no unshare command: pid and network namespaces are not available")
        return False
    try:
        done = subprocess.run([unshare, *UNSHARE_ARGS, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"unshare failed: {exc}")
        return False
    if done.returncode != 0:
        notes.append("unshare --pid --net is not permitted here (needs root or user namespaces): "
                     + done.stderr.decode(errors="replace").strip()[:200])
    return done.returncode == 0
