"""The child's resource limits (setrlimit): memory, CPU seconds, file size, core files,
processes and open files.

Set by the worker after the privileges are dropped and before any student code, so that
hard limits cannot be raised again (no CAP_SYS_RESOURCE).  Standard library only: this file
is loaded by path by ``main.py`` (see there).
"""

from __future__ import annotations

try:  # imported as this file loads: once in the warm template, not again in each of its children
    import resource
except ImportError:
    resource = None


def set_limits(limits: dict, host_root: bool) -> list[str]:
    """Apply ``limits`` (memory_mb, cpu_s, file_size_mb, processes, open_files; None: not
    limited); return notes about those this OS lacks.  ``host_root``: the child is root of
    the machine (not of a user namespace), whom RLIMIT_NPROC does not bind."""
    notes = []
    if resource is None:
        return ["no resource module: memory, CPU and file-size limits are not enforced"]
    wanted = [("RLIMIT_CORE", 0, 0)]
    if limits.get("memory_mb") is not None:
        wanted.append(("RLIMIT_AS", limits["memory_mb"] << 20, limits["memory_mb"] << 20))
    if limits.get("cpu_s") is not None:
        wanted.append(("RLIMIT_CPU", limits["cpu_s"], limits["cpu_s"] + 1))  # SIGXCPU first, SIGKILL a second later
    if limits.get("file_size_mb") is not None:
        wanted.append(("RLIMIT_FSIZE", limits["file_size_mb"] << 20, limits["file_size_mb"] << 20))
    if limits.get("processes") is not None:  # counts every process and thread of this user id
        wanted.append(("RLIMIT_NPROC", limits["processes"], limits["processes"]))
        if host_root:
            notes.append("RLIMIT_NPROC does not bind root: the number of processes is not limited")
    if limits.get("open_files") is not None:
        wanted.append(("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]))
    for name, soft, hard in wanted:
        which = getattr(resource, name, None)
        if which is None:
            notes.append(f"{name} is not available on this OS")
            continue
        try:
            _, old_hard = resource.getrlimit(which)
            if old_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, old_hard), min(hard, old_hard)
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:
            notes.append(f"could not set {name}: {exc}")
    return notes
